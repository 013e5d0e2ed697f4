// A state directory written by certkeeper 0.1 (test/fixtures/state-v1, committed as that code
// wrote it) is read into the storage layout once, and its own files are left exactly as they were.

import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { keyMatchesCertificate } from '../../../src/core/x509.js';
import { migrateFileLayout } from '../../../src/state/migrate-file-layout.js';
import { fileStorageRoot, openStateStore } from '../../../src/state/open.js';
import { RepositoryStore } from '../../../src/state/repository-store.js';
import { FileStorage } from '../../../src/state/storage/file/index.js';
import { makeCertificate } from '../../helpers/certs.js';

const FIXTURE = path.resolve(__dirname, '../../fixtures/state-v1');
const DIRECTORY = 'https://acme.example.test/directory';

/** Every path under `dir` (links as their target text) with a hash of its content, store/ left out. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (folder: string): Promise<void> => {
    for (const entry of await fs.readdir(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      const rel = path.relative(dir, full);
      if (rel === 'store' || rel === 'live' || rel === 'lock') continue;
      if (entry.isSymbolicLink()) out[rel] = `-> ${await fs.readlink(full)}`;
      else if (entry.isDirectory()) await walk(full);
      else
        out[rel] = createHash('sha256')
          .update(await fs.readFile(full))
          .digest('hex');
    }
  };
  await walk(dir);
  return out;
}

let tmp: string;
let dir: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-migrate-'));
  dir = path.join(tmp, 'state');
  await fs.cp(FIXTURE, dir, { recursive: true, verbatimSymlinks: true });
  await fs.chmod(dir, 0o700);
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const open = () => openStateStore({ state: { type: 'file', dir, lockTtl: 120_000 }, agentId: 'test', clock: systemClock, logger: silentLogger });

describe('a 0.1 state directory', () => {
  it('is read into the storage layout: certificates with their keys, records, sink data, accounts, rate-limit state, history', async () => {
    const before = await snapshot(dir);
    const store = await open();

    expect(await store.listCertificateNames()).toEqual(['api', 'www']);
    const www = await store.getCertificate('www');
    expect(www!.info.domains).toEqual(['www.example.test', 'example.test']);
    expect(www!.info.notBefore.toISOString()).toBe('2026-11-01T00:00:00.000Z'); // the current one, not the archived August one
    expect(www!.directoryUrl).toBe(DIRECTORY);
    expect(keyMatchesCertificate(www!.material.certPem, www!.material.keyPem)).toBe(true);
    const liveWww = await fs.readFile(path.join(FIXTURE, 'certs/www/live/cert.pem'), 'utf8');
    expect(www!.material.certPem).toBe(liveWww);

    const wwwRecord = await store.getRecord('www');
    // Recorded by sink name (a shared sink reads it) and for this agent (a local sink reads that).
    expect(wwwRecord.deployed).toEqual({ web: www!.info.serial, 'web@test': www!.info.serial });
    const apiRecord = await store.getRecord('api');
    expect(apiRecord).toMatchObject({ consecutiveFailures: 2, nextAttemptAt: '2026-11-20T01:00:00.000Z', configFingerprint: 'f1' });
    expect(await store.getSinkState('api', 'acm')).toEqual({ arn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc' });

    const account = await store.getAccount(DIRECTORY, 'ops@example.test');
    expect(account).toMatchObject({ accountUrl: 'https://acme.example.test/acct/7' });
    expect(account!.keyPem).toContain('PRIVATE KEY');
    expect(await store.getIssuerState(`${DIRECTORY}\nops@example.test`)).toMatchObject({ rateLimitedUntil: '2026-11-20T02:00:00.000Z', detail: 'too many' });

    const history = await store.readHistory();
    expect(history.map((e) => `${e.at} ${e.cert} ${e.action}`)).toEqual([
      '2026-11-20T00:00:00.000Z api deploy',
      '2026-11-15T00:00:00.000Z api dry-run',
      '2026-11-01T00:00:00.000Z www renew',
      '2026-08-01T00:00:00.000Z www issue',
    ]);
    expect(history[0]).toMatchObject({ result: 'failure', code: 'SINK_FAILED', sink: 'acm' });
    expect(history[2]!.orders).toEqual([{ issuer: 'default', directoryUrl: DIRECTORY, email: 'ops@example.test', replaced: true }]);
    expect((await store.lastDryRuns()).get('api')).toEqual({ at: '2026-11-15T00:00:00.000Z', result: 'success', error: null });

    // Nothing of the old layout was moved, changed or deleted.
    expect(await snapshot(dir)).toEqual(before);
  });

  it('is copied once: a later open finds the store as this agent left it', async () => {
    const store = await open();
    await store.putRecord('www', { ...(await store.getRecord('www')), consecutiveFailures: 5 });
    await store.appendHistory({
      at: '2026-12-01T00:00:00.000Z',
      cert: 'www',
      action: 'renew',
      result: 'failure',
      serial: null,
      notAfter: null,
      durationMs: 1,
      error: 'x',
    });
    const again = await open();
    expect((await again.getRecord('www')).consecutiveFailures).toBe(5);
    expect(await again.readHistory({ cert: 'www' })).toHaveLength(3);
  });

  it('leaves out what is damaged, naming each in the report, and copies the rest', async () => {
    const version = await fs.realpath(path.join(dir, 'certs/api/live'));
    await fs.writeFile(path.join(version, 'privkey.pem'), makeCertificate({ domains: ['api.example.test'] }).keyPem); // not its key
    await fs.writeFile(path.join(dir, 'certs/www/record.json'), '{"deployed":');
    await fs.mkdir(path.join(dir, 'accounts/0000000000000000'));
    await fs.writeFile(path.join(dir, 'accounts/0000000000000000/account.json'), '{}');
    await fs.writeFile(path.join(dir, 'issuers/0000000000000000.json'), '{"detail":"no key"}');
    const before = await snapshot(dir);

    const clock = systemClock;
    const store = new RepositoryStore({ storage: await FileStorage.open({ dir: fileStorageRoot(dir), clock }), clock, localDir: dir });
    const report = await migrateFileLayout(dir, store, { clock, logger: silentLogger, agentId: 'test' });
    expect(report).toMatchObject({ migrated: true, certificates: 1, records: 1, accounts: 1, historyEntries: 4 });
    expect(report.skipped).toEqual([
      expect.stringMatching(/^certificate api: .*does not belong to its certificate/),
      expect.stringMatching(/^record www: .*record\.json is not valid JSON/),
      expect.stringMatching(/^account 0000000000000000: .*does not hold an ACME account/),
      expect.stringMatching(/^issuer state 0000000000000000\.json: .*names no key/),
    ]);
    expect(await store.listCertificateNames()).toEqual(['www']);
    expect((await store.getRecord('api')).consecutiveFailures).toBe(2);
    expect(await store.getAccount(DIRECTORY, 'ops@example.test')).toBeDefined();
    expect(await store.getIssuerState(`${DIRECTORY}\nops@example.test`)).toMatchObject({ detail: 'too many' });
    expect(await snapshot(dir)).toEqual(before);
    // Marked as copied: a second run copies nothing again.
    expect(await migrateFileLayout(dir, store, { clock, logger: silentLogger, agentId: 'test' })).toMatchObject({ migrated: false });
  });

  it('a new state directory needs no copy', async () => {
    await fs.rm(dir, { recursive: true });
    const store = await open();
    expect(await store.listCertificateNames()).toEqual([]);
    expect(await fs.readdir(dir)).toEqual(['store']);
  });
});
