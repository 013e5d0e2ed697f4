import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeCertificate } from '../../helpers/certs.js';
import { ManualClock } from '../../helpers/clock.js';
import { openFileStore } from '../../helpers/state.js';

const DAY = 86_400_000;

describe('quarantineCertificate on the file store', () => {
  it('moves the current version out of the live path to revoked/<serial> and leaves no current certificate', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ck-quarantine-'));
    const clock = new ManualClock('2026-03-01T00:00:00Z');
    const store = await openFileStore(dir, clock);
    const first = makeCertificate({ domains: ['a.example.com'], notBefore: clock.now(), notAfter: new Date(clock.now().getTime() + 90 * DAY) });
    await store.putCertificate('www', first, { directoryUrl: 'https://ca.test/dir', issuedAt: clock.now() });
    const stored = (await store.getCertificate('www'))!;
    expect(readFileSync(stored.paths.key, 'utf8')).toBe(first.keyPem); // the hooks' copy

    const moved = await store.quarantineCertificate('www');
    const certDir = path.join(dir, 'store/certs/www');
    expect(moved).toBe(path.join(certDir, 'revoked', stored.info.serial));
    expect((JSON.parse(readFileSync(moved!, 'utf8')) as { keyPem: string }).keyPem).toBe(first.keyPem);
    expect(await store.getCertificate('www')).toBeUndefined();
    expect(existsSync(path.join(certDir, 'current'))).toBe(false);
    // Neither the archive of versions nor the hooks' copy holds the compromised key any more.
    for (const version of readdirSync(path.join(certDir, 'versions')))
      expect(readFileSync(path.join(certDir, 'versions', version), 'utf8')).not.toContain(first.keyPem.trim().split('\n')[1]);
    expect(existsSync(stored.paths.key)).toBe(false);
    // Nothing stored: nothing to quarantine.
    expect(await store.quarantineCertificate('www')).toBeUndefined();

    // A new certificate can be stored afterwards.
    clock.advance(60_000);
    const second = makeCertificate({ domains: ['a.example.com'], notBefore: clock.now(), notAfter: new Date(clock.now().getTime() + 90 * DAY) });
    await store.putCertificate('www', second, { directoryUrl: 'https://ca.test/dir', issuedAt: clock.now() });
    expect((await store.getCertificate('www'))!.material.keyPem).toBe(second.keyPem);
  });
});
