// The confirmation step of `certkeeper revoke` on a terminal: anything but "y"/"yes" revokes
// nothing and exits 2, and the question names the certificate being revoked.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { revokeCommand } from '../../../src/cli/commands/revoke.js';
import type { CommandIo } from '../../../src/cli/context.js';
import { makeCertificate } from '../../helpers/certs.js';
import { ManualClock } from '../../helpers/clock.js';
import { openFileStore } from '../../helpers/state.js';

function terminal(): { stream: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY: true, columns: 120 });
  return { stream, text: () => text };
}

describe('certkeeper revoke on a terminal', () => {
  it('asks, and revokes nothing unless the answer is yes', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ck-revoke-confirm-'));
    const clock = new ManualClock('2026-03-01T00:00:00Z');
    const file = path.join(dir, 'certkeeper.yaml');
    writeFileSync(
      file,
      `stateDir: ./state\nacme: { directory: "https://127.0.0.1:1/dir" }\ndns: { corp: { type: exec, command: ["/bin/true"] } }\ncertificates:\n  - { name: www, domains: [www.example.com], dns: corp }\n`,
    );
    const store = await openFileStore(path.join(dir, 'state'), clock);
    const material = makeCertificate({ domains: ['www.example.com'], notBefore: clock.now(), notAfter: new Date(clock.now().getTime() + 90 * 86_400_000) });
    const stored = await store.putCertificate('www', material, { directoryUrl: 'https://127.0.0.1:1/dir', issuedAt: clock.now() });

    const stderr = terminal();
    const stdout = terminal();
    const io: CommandIo = { stdout: stdout.stream, stderr: stderr.stream, env: {}, clock };
    const input = Object.assign(new PassThrough(), { isTTY: true });
    input.end('n\n');
    const code = await revokeCommand('www', { reason: 'keyCompromise', reissue: true }, { config: file }, io, { input });
    expect(code).toBe(2);
    expect(stderr.text()).toContain(`Revoke certificate "www" (serial ${stored.info.serial}`);
    expect(stderr.text()).toContain('with reason keyCompromise, then issue and deploy a new one?');
    expect(stderr.text()).toContain('not revoked');
    // Still there, nothing recorded.
    expect((await store.getCertificate('www'))?.info.serial).toBe(stored.info.serial);
    expect(await store.readHistory()).toEqual([]);
  });
});
