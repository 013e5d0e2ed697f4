// `renew --force` over every certificate (issue 18) asks first: on a terminal anything but
// "y"/"yes" orders nothing and exits 2; without a terminal, and without --yes, it refuses with
// exit 2 and says how to go ahead. --cert NAME (a few certificates) and --dry-run do not ask.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { renewCommand } from '../../../src/cli/commands/renew.js';
import type { CommandIo } from '../../../src/cli/context.js';
import { ManualClock } from '../../helpers/clock.js';
import { openFileStore } from '../../helpers/state.js';

function stream(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(out, { isTTY, columns: 120 });
  return { stream: out, text: () => text };
}

function setup(): { file: string; dir: string; clock: ManualClock } {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-renew-confirm-'));
  const file = path.join(dir, 'certkeeper.yaml');
  // A CA nobody answers at: any order would fail, so "nothing was ordered" shows in history.
  writeFileSync(
    file,
    `stateDir: ./state\nacme: { directory: "https://127.0.0.1:1/dir" }\ndns: { corp: { type: exec, command: ["/bin/true"] } }\ncertificates:\n  - { name: www, domains: [www.example.com], dns: corp }\n  - { name: api, domains: [api.example.com], dns: corp }\n`,
  );
  return { file, dir, clock: new ManualClock('2026-03-01T00:00:00Z') };
}

describe('certkeeper renew --force over every certificate', () => {
  it('without a terminal and without --yes: refuses with exit 2, orders nothing, says how to go ahead', async () => {
    const { file, dir, clock } = setup();
    const stderr = stream(false);
    const stdout = stream(false);
    const io: CommandIo = { stdout: stdout.stream, stderr: stderr.stream, env: {}, clock };
    const code = await renewCommand({ force: true, reason: 'INC-7' }, { config: file }, io, { input: Object.assign(new PassThrough(), { isTTY: false }) });
    expect(code).toBe(2);
    expect(stderr.text()).toContain('refusing to force-renew all 2 certificates without confirmation: no terminal to ask on; pass --yes to go ahead');
    expect(stdout.text()).toBe('');
    expect(await (await openFileStore(path.join(dir, 'state'), clock)).readHistory()).toEqual([]);
  });

  it('on a terminal: asks, naming the count and the reason; "n" orders nothing', async () => {
    const { file, dir, clock } = setup();
    const stderr = stream(true);
    const stdout = stream(true);
    const io: CommandIo = { stdout: stdout.stream, stderr: stderr.stream, env: {}, clock };
    const input = Object.assign(new PassThrough(), { isTTY: true });
    input.end('n\n');
    const code = await renewCommand({ force: true, reason: 'INC-7' }, { config: file }, io, { input });
    expect(code).toBe(2);
    expect(stderr.text()).toContain('Order a new certificate for all 2 configured certificates now, due or not (reason: INC-7)?');
    expect(stderr.text()).toContain('nothing renewed');
    expect(await (await openFileStore(path.join(dir, 'state'), clock)).readHistory()).toEqual([]);
  });
});
