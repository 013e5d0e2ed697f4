// The hooks' copy of a certificate (localDir/live/<name>) is written once per version by whoever
// reads it first. Two readers at once (this agent's daemon and a `renew`, or two reads in one
// process) must both get it: neither may fail because the other published the same version.

import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { RepositoryStore } from '../../../src/state/repository-store.js';
import { FileStorage } from '../../../src/state/storage/file/index.js';
import { makeCertificate } from '../../helpers/certs.js';

describe('the hooks copy of a certificate', () => {
  it('is published once when several readers ask for a new version at once, and every reader gets it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ck-hook-copy-'));
    for (const local of ['other', 'agent']) mkdirSync(path.join(dir, local), { mode: 0o700 });
    const storage = await FileStorage.open({ dir: path.join(dir, 'store'), clock: systemClock, logger: silentLogger });
    // Another agent stored it (its own localDir); two store instances of this agent read it.
    const other = new RepositoryStore({ storage, clock: systemClock, localDir: path.join(dir, 'other') });
    const daemon = new RepositoryStore({ storage, clock: systemClock, localDir: path.join(dir, 'agent') });
    const command = new RepositoryStore({ storage, clock: systemClock, localDir: path.join(dir, 'agent') });
    const material = makeCertificate({ domains: ['www.example.com'] });
    await other.putCertificate('www', material, { directoryUrl: 'https://ca.test/dir', issuedAt: new Date() });

    const reads = await Promise.allSettled([daemon.getCertificate('www'), command.getCertificate('www'), daemon.getCertificate('www')]);
    expect(reads.map((read) => (read.status === 'rejected' ? String(read.reason) : 'ok'))).toEqual(['ok', 'ok', 'ok']);
    const paths = (reads[0] as PromiseFulfilledResult<Awaited<ReturnType<RepositoryStore['getCertificate']>>>).value!.paths;
    expect(readFileSync(paths.key, 'utf8')).toBe(material.keyPem);
    expect(readFileSync(paths.cert, 'utf8')).toBe(material.certPem);
  });
});
