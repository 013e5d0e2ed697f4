// The read-only reader of a certkeeper 0.1 state directory (src/state/legacy/), on a copy of the
// committed fixture (test/fixtures/state-v1, as that code wrote it): what the one-time copy into
// the storage layout and `doctor` on a folder not copied yet read, checked as 0.1 checked it, and
// nothing in the folder is ever created, changed or deleted.

import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { keyMatchesCertificate, parseCertificate } from '../../../src/core/x509.js';
import { emptyRecord } from '../../../src/state/contract.js';
import { LegacyState } from '../../../src/state/legacy/index.js';
import { LegacyReadOnlyStore } from '../../../src/state/legacy/read-only-store.js';
import { openStateStore, openStateStoreForReading } from '../../../src/state/open.js';
import { RepositoryStore } from '../../../src/state/repository-store.js';
import { makeCertificate } from '../../helpers/certs.js';

const FIXTURE = path.resolve(__dirname, '../../fixtures/state-v1');
const DIRECTORY = 'https://acme.example.test/directory';

/** Every path under `dir` (links as their target text, folders marked) with a hash of its content. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath, entry.name);
    const rel = path.relative(dir, full);
    if (entry.isSymbolicLink()) out[rel] = `-> ${await fs.readlink(full)}`;
    else if (entry.isDirectory()) out[rel] = '<dir>';
    else
      out[rel] = createHash('sha256')
        .update(await fs.readFile(full))
        .digest('hex');
  }
  return out;
}

let tmp: string;
let dir: string;
let old: LegacyState;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-legacy-'));
  dir = path.join(tmp, 'state');
  await fs.cp(FIXTURE, dir, { recursive: true, verbatimSymlinks: true });
  old = new LegacyState(dir);
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const liveVersion = (name: string): Promise<string> => fs.realpath(path.join(dir, 'certs', name, 'live'));

describe('the 0.1 reader', () => {
  it('reads every certificate, record, sink data, account, issuer state and history entry, and changes nothing', async () => {
    const before = await snapshot(dir);

    expect(await old.certificates.names()).toEqual(['api', 'www']);
    const www = await old.certificates.get('www');
    expect(www!.versionDir).toBe(await liveVersion('www'));
    expect(www!.info.notBefore.toISOString()).toBe('2026-11-01T00:00:00.000Z'); // the current one, not the archived August one
    expect(www!.info.domains).toEqual(['www.example.test', 'example.test']);
    expect(www!.material.certPem).toBe(await fs.readFile(path.join(www!.versionDir, 'cert.pem'), 'utf8'));
    expect(keyMatchesCertificate(www!.material.certPem, www!.material.keyPem)).toBe(true);
    expect(www!.issuedAt.toISOString()).toBe('2026-11-01T00:00:00.000Z');
    expect(www!.directoryUrl).toBe(DIRECTORY);
    expect(await old.certificates.peek('www')).toEqual({ name: 'www', info: www!.info, issuedAt: www!.issuedAt, directoryUrl: DIRECTORY });
    expect(await old.certificates.get('none')).toBeUndefined();
    expect(await old.certificates.peek('none')).toBeUndefined();

    expect(await old.records.names()).toEqual(['api', 'www']);
    expect((await old.records.get('www')).deployed).toEqual({ web: www!.info.serial });
    expect(await old.records.get('api')).toMatchObject({ consecutiveFailures: 2, nextAttemptAt: '2026-11-20T01:00:00.000Z', configFingerprint: 'f1' });
    expect(await old.records.get('none')).toEqual(emptyRecord());
    expect(await old.records.sinkNames('api')).toEqual(['acm']);
    expect(await old.records.sinkNames('www')).toEqual([]);
    expect(await old.records.getSinkState('api', 'acm')).toEqual({ arn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc' });
    expect(await old.records.getSinkState('www', 'acm')).toBeUndefined();

    const account = await old.accounts.get(DIRECTORY, 'ops@example.test');
    expect(account).toMatchObject({ directoryUrl: DIRECTORY, email: 'ops@example.test', accountUrl: 'https://acme.example.test/acct/7' });
    expect(account!.keyPem).toContain('PRIVATE KEY');
    expect(await old.accounts.get(DIRECTORY, null)).toBeUndefined();
    expect(await old.accounts.list()).toEqual([{ id: 'c9be3821f0692fe5', account }]);

    const issuerKey = `${DIRECTORY}\nops@example.test`;
    expect(await old.issuers.get(issuerKey)).toEqual({ rateLimitedUntil: '2026-11-20T02:00:00.000Z', detail: 'too many', at: '2026-11-20T00:00:00.000Z' });
    expect(await old.issuers.list()).toEqual([
      {
        file: 'c9be3821f0692fe5.json',
        state: { key: issuerKey, data: { rateLimitedUntil: '2026-11-20T02:00:00.000Z', detail: 'too many', at: '2026-11-20T00:00:00.000Z' } },
      },
    ]);

    expect((await old.history.entries()).map((e) => `${e.at} ${e.cert} ${e.action}`)).toEqual([
      '2026-08-01T00:00:00.000Z www issue',
      '2026-11-01T00:00:00.000Z www renew',
      '2026-11-15T00:00:00.000Z api dry-run',
      '2026-11-20T00:00:00.000Z api deploy',
    ]);
    expect((await old.history.read({ cert: 'www' })).map((e) => e.at)).toEqual(['2026-11-01T00:00:00.000Z', '2026-08-01T00:00:00.000Z']);
    expect((await old.history.read({ limit: 1 }))[0]).toMatchObject({ cert: 'api', action: 'deploy', result: 'failure', code: 'SINK_FAILED', sink: 'acm' });
    expect(await old.history.lastDryRuns()).toEqual(new Map([['api', { at: '2026-11-15T00:00:00.000Z', result: 'success', error: null }]]));

    expect(await snapshot(dir)).toEqual(before);
  });

  it('reads the history without dry-runs.json, skipping a torn last line and lines that are no entry', async () => {
    await fs.rm(path.join(dir, 'dry-runs.json'));
    await fs.appendFile(path.join(dir, 'history.jsonl'), 'not json\n{"just":"an object"}\n{"at":"2026-12-01T00:00:00.000Z","cert":"ww');
    expect(await old.history.entries()).toHaveLength(4);
    expect((await old.history.lastDryRuns()).get('api')).toEqual({ at: '2026-11-15T00:00:00.000Z', result: 'success', error: null });
    await fs.rm(path.join(dir, 'history.jsonl'));
    expect(await old.history.read()).toEqual([]);
  });

  it('follows `live` to a version folder of any name (an earlier release stamped them to the second)', async () => {
    const version = await liveVersion('www');
    const renamed = path.basename(version).replace(/^(\d{8}T\d{6})\d{3}Z/, '$1Z');
    await fs.rename(version, path.join(path.dirname(version), renamed));
    await fs.rm(path.join(dir, 'certs/www/live'));
    await fs.symlink(`.live.versions/${renamed}`, path.join(dir, 'certs/www/live'));
    expect((await old.certificates.get('www'))!.versionDir).toBe(path.join(path.dirname(version), renamed));
  });

  it('peeks at meta.json alone, without cert.pem or the key; getCertificate needs them all', async () => {
    const full = await old.certificates.get('www');
    const version = await liveVersion('www');
    await fs.rm(path.join(version, 'cert.pem'));
    await fs.rm(path.join(version, 'privkey.pem'));
    expect(await old.certificates.peek('www')).toEqual({ name: 'www', info: full!.info, issuedAt: full!.issuedAt, directoryUrl: DIRECTORY });
    await expect(old.certificates.get('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
  });

  it('parses cert.pem when meta.json predates the recorded details, or has one of the wrong shape', async () => {
    const version = await liveVersion('www');
    const info = parseCertificate(await fs.readFile(path.join(version, 'cert.pem'), 'utf8'));
    const file = path.join(version, 'meta.json');
    const meta = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
    // The meta.json the earliest releases wrote: four fields.
    await fs.writeFile(file, JSON.stringify({ directoryUrl: meta.directoryUrl, issuedAt: meta.issuedAt, serial: meta.serial, notAfter: meta.notAfter }));
    expect((await old.certificates.peek('www'))!.info).toEqual(info);
    expect((await old.certificates.get('www'))!.info).toEqual(info);
    await fs.writeFile(file, JSON.stringify({ ...meta, notBefore: 'yesterday', domains: 'www.example.test' }));
    expect((await old.certificates.peek('www'))!.info).toEqual(info);
  });

  it('trusts meta.json that disagrees with cert.pem when peeking, and refuses it when reading the certificate (STATE_CORRUPT)', async () => {
    const version = await liveVersion('www');
    const file = path.join(version, 'meta.json');
    const meta = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
    const later = new Date(Date.parse(String(meta.notAfter)) + 365 * 86_400_000);
    await fs.writeFile(file, JSON.stringify({ ...meta, notAfter: later.toISOString() }));
    expect((await old.certificates.peek('www'))!.info.notAfter).toEqual(later);
    const error = await old.certificates.get('www').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'STATE_CORRUPT' });
    expect((error as Error).message).toContain('notAfter');

    // A serial of another certificate in the four-field meta.json: nothing to trust, both refuse.
    await fs.writeFile(file, JSON.stringify({ directoryUrl: meta.directoryUrl, issuedAt: meta.issuedAt, serial: 'ABCDEF', notAfter: meta.notAfter }));
    await expect(old.certificates.peek('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
    await expect(old.certificates.get('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
  });

  it('refuses a key that does not belong to the certificate, a missing meta.json and a dangling live link (STATE_CORRUPT)', async () => {
    const version = await liveVersion('www');
    await fs.writeFile(path.join(version, 'privkey.pem'), makeCertificate({ domains: ['www.example.test'] }).keyPem);
    const error = await old.certificates.get('www').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'STATE_CORRUPT' });
    expect((error as Error).message).toContain('does not belong');

    await fs.rm(path.join(version, 'meta.json'));
    await expect(old.certificates.peek('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
    await expect(old.certificates.get('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
    await fs.rm(version, { recursive: true });
    await expect(old.certificates.peek('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
    await expect(old.certificates.get('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
    expect(await old.certificates.names()).toEqual(['api', 'www']); // still listed: the copy reports it
  });

  it('fills fields an older record lacks with defaults, refuses one that does not parse, and names that are no folder name', async () => {
    await fs.writeFile(path.join(dir, 'certs/www/record.json'), JSON.stringify({ deployed: { web: 'AB' } }));
    expect(await old.records.get('www')).toEqual({ ...emptyRecord(), deployed: { web: 'AB' } });
    await fs.writeFile(path.join(dir, 'certs/www/record.json'), '{"deployed":');
    await expect(old.records.get('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
    for (const bad of ['../escape', 'a/b', '.hidden', '']) await expect(old.records.get(bad)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(old.records.getSinkState('www', '../x')).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await fs.mkdir(path.join(dir, 'certs/.hidden'));
    expect(await old.records.names()).toEqual(['api', 'www']);
  });

  it("lists a damaged account or issuer file as that entry's error, the others as they are", async () => {
    await fs.mkdir(path.join(dir, 'accounts/0000000000000000'));
    await fs.writeFile(path.join(dir, 'accounts/0000000000000000/account.json'), '{"directoryUrl":');
    await fs.mkdir(path.join(dir, 'accounts/1111111111111111'));
    // A whole account, kept in the folder of another: `get` would never find it there.
    await fs.copyFile(path.join(dir, 'accounts/c9be3821f0692fe5/account.json'), path.join(dir, 'accounts/1111111111111111/account.json'));
    await fs.writeFile(path.join(dir, 'issuers/2222222222222222.json'), '{"rateLimitedUntil":"2026-01-01T00:00:00.000Z"}');
    const accounts = await old.accounts.list();
    expect(accounts.map(({ id, account }) => [id, account instanceof Error ? (account as { code?: string }).code : 'ok'])).toEqual([
      ['0000000000000000', 'STATE_CORRUPT'],
      ['1111111111111111', 'STATE_CORRUPT'],
      ['c9be3821f0692fe5', 'ok'],
    ]);
    const issuers = await old.issuers.list();
    expect(issuers.map(({ file, state }) => [file, state instanceof Error ? (state as { code?: string }).code : state.key])).toEqual([
      ['2222222222222222.json', 'STATE_CORRUPT'],
      ['c9be3821f0692fe5.json', `${DIRECTORY}\nops@example.test`],
    ]);
  });
});

describe('doctor on a state directory not copied yet', () => {
  const state = () => ({ type: 'file' as const, dir, lockTtl: 120_000 });

  it('reads it in its 0.1 layout as a StateStore that refuses every write, and writes nothing', async () => {
    const before = await snapshot(dir);
    const store = await openStateStoreForReading({ state: state(), agentId: 'test', clock: systemClock, logger: silentLogger });
    expect(store).toBeInstanceOf(LegacyReadOnlyStore);

    const www = await store.getCertificate('www');
    expect(www!.paths.key).toBe(path.join(dir, 'certs/www/live/privkey.pem'));
    expect(await fs.readFile(www!.paths.key, 'utf8')).toBe(www!.material.keyPem);
    expect(await store.peekCertificate('www')).toEqual({ name: 'www', info: www!.info, issuedAt: www!.issuedAt, directoryUrl: DIRECTORY });
    expect([...(await store.peekCertificates(['www', 'api', 'none'])).keys()]).toEqual(['www', 'api']);
    expect(await store.listCertificateNames()).toEqual(['api', 'www']);
    expect((await store.getRecords(['api', 'none'])).get('none')).toEqual(emptyRecord());
    expect(await store.getSinkState('api', 'acm')).toEqual({ arn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc' });
    expect([...(await store.getSinkStates(['www', 'api'], 'acm')).keys()]).toEqual(['api']);
    expect(await store.getAccount(DIRECTORY, 'ops@example.test')).toMatchObject({ accountUrl: 'https://acme.example.test/acct/7' });
    expect(await store.getIssuerState(`${DIRECTORY}\nops@example.test`)).toMatchObject({ detail: 'too many' });
    expect(await store.readHistory({ cert: 'api', limit: 1 })).toMatchObject([{ action: 'deploy' }]);
    expect((await store.lastDryRuns()).get('api')).toMatchObject({ result: 'success' });

    const material = makeCertificate({ domains: ['www.example.test'] });
    const refusals = [
      store.putCertificate('www', material, { directoryUrl: DIRECTORY, issuedAt: new Date() }),
      store.putRecord('www', emptyRecord()),
      store.putSinkState('www', 'acm', {}),
      store.putAccount({ directoryUrl: DIRECTORY, email: null, accountUrl: null, keyPem: material.keyPem }),
      store.putIssuerState('x', {}),
      store.appendHistory({
        at: '2026-12-01T00:00:00.000Z',
        cert: 'www',
        action: 'renew',
        result: 'success',
        serial: null,
        notAfter: null,
        durationMs: 1,
        error: null,
      }),
      store.quarantineCertificate('www'),
      store.lock(),
      store.lockCertificate('www', { purpose: 'order', waitMs: 0 }),
    ];
    for (const refusal of refusals) await expect(refusal).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(await snapshot(dir)).toEqual(before);
  });

  it('a folder that does not exist reads as empty and is not created', async () => {
    const missing = path.join(tmp, 'missing');
    const store = await openStateStoreForReading({ state: { ...state(), dir: missing }, agentId: 'test', clock: systemClock, logger: silentLogger });
    expect(await store.getCertificate('www')).toBeUndefined();
    expect(await store.listCertificateNames()).toEqual([]);
    expect(await store.getAccount(DIRECTORY, null)).toBeUndefined();
    expect(await store.getSinkState('www', 'acm')).toBeUndefined();
    expect(await store.readHistory()).toEqual([]);
    await expect(fs.stat(missing)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('once copied, the storage layout is read instead', async () => {
    const copied = await openStateStore({ state: state(), agentId: 'test', clock: systemClock, logger: silentLogger });
    await copied.putRecord('www', { ...(await copied.getRecord('www')), consecutiveFailures: 7 });
    const store = await openStateStoreForReading({ state: state(), agentId: 'test', clock: systemClock, logger: silentLogger });
    expect(store).toBeInstanceOf(RepositoryStore);
    expect((await store.getRecord('www')).consecutiveFailures).toBe(7);
  });
});
