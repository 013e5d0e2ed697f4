import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileStore } from '../../../src/state/file-store.js';
import { makeCertificate } from '../../helpers/certs.js';
import { ManualClock } from '../../helpers/clock.js';

const DAY = 86_400_000;

describe('FileStore.quarantineCertificate', () => {
  it('moves the current version out of the live path to revoked/<serial>/ and leaves no current certificate', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ck-quarantine-'));
    const clock = new ManualClock('2026-03-01T00:00:00Z');
    const store = await FileStore.open({ dir, clock });
    const first = makeCertificate({ domains: ['a.example.com'], notBefore: clock.now(), notAfter: new Date(clock.now().getTime() + 90 * DAY) });
    await store.putCertificate('www', first, { directoryUrl: 'https://ca.test/dir', issuedAt: clock.now() });
    const stored = (await store.getCertificate('www'))!;

    const moved = await store.quarantineCertificate('www');
    expect(moved).toBe(path.join(dir, 'certs/www/revoked', stored.info.serial));
    expect(readFileSync(path.join(moved!, 'privkey.pem'), 'utf8')).toBe(first.keyPem);
    expect(await store.getCertificate('www')).toBeUndefined();
    expect(existsSync(path.join(dir, 'certs/www/live'))).toBe(false);
    // The archive of live versions no longer holds the compromised key.
    for (const version of readdirSync(path.join(dir, 'certs/www/.live.versions'))) {
      expect(readFileSync(path.join(dir, 'certs/www/.live.versions', version, 'privkey.pem'), 'utf8')).not.toBe(first.keyPem);
    }
    // Nothing stored: nothing to quarantine.
    expect(await store.quarantineCertificate('www')).toBeUndefined();

    // A new certificate can be stored afterwards.
    clock.advance(60_000);
    const second = makeCertificate({ domains: ['a.example.com'], notBefore: clock.now(), notAfter: new Date(clock.now().getTime() + 90 * DAY) });
    await store.putCertificate('www', second, { directoryUrl: 'https://ca.test/dir', issuedAt: clock.now() });
    expect((await store.getCertificate('www'))!.material.keyPem).toBe(second.keyPem);
  });
});
