import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../../../src/core/clock.js';
import { isCertkeeperError } from '../../../src/core/errors.js';
import type { HistoryEntry } from '../../../src/core/types.js';
import { keyMatchesCertificate } from '../../../src/core/x509.js';
import { emptyRecord, type CertRecord } from '../../../src/state/contract.js';
import { FileStore } from '../../../src/state/file-store.js';
import { makeCertificate } from '../../helpers/certs.js';

/** A clock that moves one second per reading, so version folder names sort in write order. */
function steppingClock(start = Date.parse('2026-06-01T00:00:00Z')): Clock {
  let t = start;
  return { now: () => new Date((t += 1000)), sleep: systemClock.sleep };
}

const DIRECTORY = 'https://acme.test/directory';
const mode = async (p: string): Promise<number> => (await fs.stat(p)).mode & 0o777;

let tmp: string;
let store: FileStore;

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-store-'));
  store = await FileStore.open({ dir: path.join(tmp, 'state'), clock: steppingClock() });
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('FileStore layout', () => {
  it('creates the state dir, certs/ and accounts/ with mode 0700', async () => {
    for (const dir of ['state', 'state/certs', 'state/accounts']) expect(await mode(path.join(tmp, dir))).toBe(0o700);
  });

  it('tightens an existing state dir that others could read', async () => {
    const dir = path.join(tmp, 'loose');
    await fs.mkdir(dir, { mode: 0o755 });
    await fs.chmod(dir, 0o755);
    await FileStore.open({ dir, clock: systemClock });
    expect(await mode(dir)).toBe(0o700);
  });

  it('rejects certificate names that would leave certs/', async () => {
    for (const name of ['../escape', 'a/b', '.hidden', '']) {
      await expect(store.getRecord(name)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    }
  });
});

describe('FileStore certificates', () => {
  it('returns undefined for a name never stored', async () => {
    expect(await store.getCertificate('www')).toBeUndefined();
    expect(await store.listCertificateNames()).toEqual([]);
  });

  it('stores a certificate with its key and reads it back through the stable live path', async () => {
    const material = makeCertificate({ domains: ['a.example', '*.a.example'] });
    const issuedAt = new Date('2026-06-01T12:00:00Z');
    const put = await store.putCertificate('www', material, { directoryUrl: DIRECTORY, issuedAt });

    const got = await store.getCertificate('www');
    expect(got).toBeDefined();
    expect(got!.material).toEqual(material);
    expect(got!.info.domains).toEqual(['a.example', '*.a.example']);
    expect(got!.info.serial).toBe(put.info.serial);
    expect(got!.issuedAt).toEqual(issuedAt);
    expect(got!.directoryUrl).toBe(DIRECTORY);

    const live = path.join(store.dir, 'certs', 'www', 'live');
    expect(got!.paths).toEqual({
      cert: path.join(live, 'cert.pem'),
      chain: path.join(live, 'chain.pem'),
      fullchain: path.join(live, 'fullchain.pem'),
      key: path.join(live, 'privkey.pem'),
    });
    expect(put.paths).toEqual(got!.paths);
    expect((await fs.lstat(live)).isSymbolicLink()).toBe(true);
    expect(await fs.readFile(got!.paths.key, 'utf8')).toBe(material.keyPem);

    const meta = JSON.parse(await fs.readFile(path.join(live, 'meta.json'), 'utf8'));
    expect(meta).toEqual({
      directoryUrl: DIRECTORY,
      issuedAt: issuedAt.toISOString(),
      serial: put.info.serial,
      notAfter: put.info.notAfter.toISOString(),
      notBefore: put.info.notBefore.toISOString(),
      domains: ['a.example', '*.a.example'],
      keyType: put.info.keyType,
      issuer: put.info.issuer,
    });
    expect(await store.listCertificateNames()).toEqual(['www']);
  });

  it('writes key files 0600 and folders 0700', async () => {
    await store.putCertificate('www', makeCertificate({ domains: ['a.example'] }), { directoryUrl: DIRECTORY, issuedAt: new Date() });
    const live = path.join(store.dir, 'certs', 'www', 'live');
    const version = await fs.realpath(live);
    for (const file of ['privkey.pem', 'cert.pem', 'chain.pem', 'fullchain.pem', 'meta.json']) expect(await mode(path.join(version, file))).toBe(0o600);
    for (const dir of [version, path.dirname(version), path.join(store.dir, 'certs', 'www')]) expect(await mode(dir)).toBe(0o700);
  });

  it('keeps the previous versions as the archive and prunes beyond the limit', async () => {
    const small = new FileStore({ dir: store.dir, clock: steppingClock(), archiveVersions: 2 });
    const serials: string[] = [];
    for (let i = 0; i < 5; i++) {
      const put = await small.putCertificate('www', makeCertificate({ domains: ['a.example'] }), { directoryUrl: DIRECTORY, issuedAt: new Date() });
      serials.push(put.info.serial);
    }
    const versionsDir = path.join(store.dir, 'certs', 'www', '.live.versions');
    const versions = (await fs.readdir(versionsDir)).sort();
    expect(versions).toHaveLength(3); // current + 2 previous
    // The survivors are the three newest, labelled with their serials.
    expect(versions.map((v) => serials.findIndex((s) => v.includes(s)))).toEqual([2, 3, 4]);
    expect((await small.getCertificate('www'))!.info.serial).toBe(serials[4]);
  });

  it('keeps ten previous versions by default', async () => {
    for (let i = 0; i < 12; i++) await store.putCertificate('www', makeCertificate({ domains: ['a.example'] }), { directoryUrl: DIRECTORY, issuedAt: new Date() });
    expect(await fs.readdir(path.join(store.dir, 'certs', 'www', '.live.versions'))).toHaveLength(11);
  });

  it('never shows a certificate next to a key of another version while it is being replaced', async () => {
    const materials = Array.from({ length: 12 }, () => makeCertificate({ domains: ['a.example'] }));
    await store.putCertificate('www', materials[0]!, { directoryUrl: DIRECTORY, issuedAt: new Date() });
    const live = path.join(store.dir, 'certs', 'www', 'live');
    let writing = true;
    let reads = 0;
    const reader = (async () => {
      while (writing) {
        const stored = await store.getCertificate('www'); // throws STATE_CORRUPT on a mismatch
        expect(keyMatchesCertificate(stored!.material.certPem, stored!.material.keyPem)).toBe(true);
        const version = await fs.realpath(live);
        const [cert, key] = await Promise.all([fs.readFile(path.join(version, 'cert.pem'), 'utf8'), fs.readFile(path.join(version, 'privkey.pem'), 'utf8')]);
        expect(keyMatchesCertificate(cert, key)).toBe(true);
        reads++;
      }
    })();
    for (const material of materials.slice(1)) await store.putCertificate('www', material, { directoryUrl: DIRECTORY, issuedAt: new Date() });
    writing = false;
    await reader;
    expect(reads).toBeGreaterThan(0);
    expect((await store.getCertificate('www'))!.material).toEqual(materials.at(-1));
  });

  it('refuses to store a key that does not belong to the certificate', async () => {
    const a = makeCertificate({ domains: ['a.example'] });
    const b = makeCertificate({ domains: ['a.example'] });
    await expect(store.putCertificate('www', { ...a, keyPem: b.keyPem }, { directoryUrl: DIRECTORY, issuedAt: new Date() })).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(await store.getCertificate('www')).toBeUndefined();
  });

  it('reports STATE_CORRUPT when the stored key does not match the certificate', async () => {
    await store.putCertificate('www', makeCertificate({ domains: ['a.example'] }), { directoryUrl: DIRECTORY, issuedAt: new Date() });
    const version = await fs.realpath(path.join(store.dir, 'certs', 'www', 'live'));
    await fs.writeFile(path.join(version, 'privkey.pem'), makeCertificate({ domains: ['a.example'] }).keyPem);
    const error = await store.getCertificate('www').catch((e: unknown) => e);
    expect(isCertkeeperError(error, 'STATE_CORRUPT')).toBe(true);
  });

  it('reports STATE_CORRUPT for a missing file or a dangling live link', async () => {
    await store.putCertificate('www', makeCertificate({ domains: ['a.example'] }), { directoryUrl: DIRECTORY, issuedAt: new Date() });
    const version = await fs.realpath(path.join(store.dir, 'certs', 'www', 'live'));
    await fs.rm(path.join(version, 'meta.json'));
    await expect(store.getCertificate('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
    await fs.rm(version, { recursive: true });
    await expect(store.getCertificate('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
  });

  it('lists only names that have a certificate, sorted', async () => {
    await store.putRecord('only-record', emptyRecord());
    for (const name of ['zeta', 'alpha']) await store.putCertificate(name, makeCertificate({ domains: [`${name}.example`] }), { directoryUrl: DIRECTORY, issuedAt: new Date() });
    expect(await store.listCertificateNames()).toEqual(['alpha', 'zeta']);
  });
});

describe('FileStore records', () => {
  it('returns an empty record when none was written, and round-trips one', async () => {
    expect(await store.getRecord('www')).toEqual(emptyRecord());
    const record: CertRecord = {
      deployed: { web: 'ABC' },
      consecutiveFailures: 2,
      lastAttemptAt: '2026-06-01T00:00:00.000Z',
      lastSuccessAt: null,
      lastResult: { at: '2026-06-01T00:00:00.000Z', action: 'deploy', result: 'failure', error: 'boom' },
      nextAttemptAt: '2026-06-01T00:10:00.000Z',
      configFingerprint: 'abc123',
    };
    await store.putRecord('www', record);
    expect(await store.getRecord('www')).toEqual(record);
    expect(await mode(path.join(store.dir, 'certs', 'www', 'record.json'))).toBe(0o600);
  });

  it('fills fields missing from an older record with defaults', async () => {
    await fs.mkdir(path.join(store.dir, 'certs', 'www'), { recursive: true });
    await fs.writeFile(path.join(store.dir, 'certs', 'www', 'record.json'), JSON.stringify({ deployed: { web: 'AB' } }));
    expect(await store.getRecord('www')).toEqual({ ...emptyRecord(), deployed: { web: 'AB' } });
  });

  it('reports STATE_CORRUPT for an unparsable record', async () => {
    await fs.mkdir(path.join(store.dir, 'certs', 'www'), { recursive: true });
    await fs.writeFile(path.join(store.dir, 'certs', 'www', 'record.json'), '{"deployed":');
    await expect(store.getRecord('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
  });
});

describe('FileStore accounts', () => {
  const keyPem = makeCertificate({ domains: ['k.example'] }).keyPem;

  it('round-trips one account per directory and email, key file 0600', async () => {
    expect(await store.getAccount(DIRECTORY, 'ops@example.com')).toBeUndefined();
    await store.putAccount({ directoryUrl: DIRECTORY, email: 'ops@example.com', accountUrl: 'https://acme.test/acct/1', keyPem });
    await store.putAccount({ directoryUrl: DIRECTORY, email: null, accountUrl: null, keyPem: 'other' });

    expect(await store.getAccount(DIRECTORY, 'ops@example.com')).toEqual({ directoryUrl: DIRECTORY, email: 'ops@example.com', accountUrl: 'https://acme.test/acct/1', keyPem });
    expect(await store.getAccount(DIRECTORY, null)).toEqual({ directoryUrl: DIRECTORY, email: null, accountUrl: null, keyPem: 'other' });
    expect(await store.getAccount('https://other.test/directory', 'ops@example.com')).toBeUndefined();

    const ids = await fs.readdir(path.join(store.dir, 'accounts'));
    expect(ids).toHaveLength(2);
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{16}$/);
      expect(await mode(path.join(store.dir, 'accounts', id))).toBe(0o700);
      expect(await mode(path.join(store.dir, 'accounts', id, 'account.json'))).toBe(0o600);
    }
  });

  it('replaces the account of the same directory and email', async () => {
    await store.putAccount({ directoryUrl: DIRECTORY, email: 'ops@example.com', accountUrl: null, keyPem });
    await store.putAccount({ directoryUrl: DIRECTORY, email: 'ops@example.com', accountUrl: 'https://acme.test/acct/9', keyPem });
    expect((await store.getAccount(DIRECTORY, 'ops@example.com'))!.accountUrl).toBe('https://acme.test/acct/9');
    expect(await fs.readdir(path.join(store.dir, 'accounts'))).toHaveLength(1);
  });
});

describe('FileStore history', () => {
  const entry = (cert: string, at: string, extra: Partial<HistoryEntry> = {}): HistoryEntry => ({
    at,
    cert,
    action: 'renew',
    result: 'success',
    serial: 'AB',
    notAfter: '2026-09-01T00:00:00.000Z',
    durationMs: 1200,
    error: null,
    ...extra,
  });

  it('reads newest first, filters by certificate and limits', async () => {
    await store.appendHistory(entry('www', '2026-06-01T00:00:01.000Z'));
    await store.appendHistory(entry('api', '2026-06-01T00:00:02.000Z'));
    await store.appendHistory(entry('www', '2026-06-01T00:00:03.000Z', { result: 'failure', error: 'boom', code: 'SINK_FAILED', sink: 'web' }));

    expect((await store.readHistory()).map((e) => e.at)).toEqual(['2026-06-01T00:00:03.000Z', '2026-06-01T00:00:02.000Z', '2026-06-01T00:00:01.000Z']);
    expect((await store.readHistory({ cert: 'www' })).map((e) => e.at)).toEqual(['2026-06-01T00:00:03.000Z', '2026-06-01T00:00:01.000Z']);
    expect(await store.readHistory({ cert: 'www', limit: 1 })).toEqual([entry('www', '2026-06-01T00:00:03.000Z', { result: 'failure', error: 'boom', code: 'SINK_FAILED', sink: 'web' })]);
    expect(await store.readHistory({ cert: 'nope' })).toEqual([]);
  });

  it('writes one JSON line per entry in a 0600 file', async () => {
    await store.appendHistory(entry('www', '2026-06-01T00:00:01.000Z'));
    await store.appendHistory(entry('www', '2026-06-01T00:00:02.000Z'));
    const file = path.join(store.dir, 'history.jsonl');
    const lines = (await fs.readFile(file, 'utf8')).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(JSON.parse(lines[0]!)).toEqual(entry('www', '2026-06-01T00:00:01.000Z'));
    expect(await mode(file)).toBe(0o600);
  });

  it('reads an empty history when the file does not exist', async () => {
    expect(await store.readHistory()).toEqual([]);
  });

  it('skips a torn last line and keeps appending after it', async () => {
    await store.appendHistory(entry('www', '2026-06-01T00:00:01.000Z'));
    const file = path.join(store.dir, 'history.jsonl');
    await fs.appendFile(file, '{"at":"2026-06-01T00:00:02.000Z","cert":"ww'); // killed mid-write
    expect((await store.readHistory()).map((e) => e.at)).toEqual(['2026-06-01T00:00:01.000Z']);

    await store.appendHistory(entry('www', '2026-06-01T00:00:03.000Z'));
    expect((await store.readHistory()).map((e) => e.at)).toEqual(['2026-06-01T00:00:03.000Z', '2026-06-01T00:00:01.000Z']);
  });
});

describe('FileStore lock housekeeping', () => {
  it('removes temp files left by a killed process once the lock is taken', async () => {
    await store.putCertificate('www', makeCertificate({ domains: ['a.example'] }), { directoryUrl: DIRECTORY, issuedAt: new Date() });
    const certDir = path.join(store.dir, 'certs', 'www');
    const version = await fs.realpath(path.join(certDir, 'live'));
    const leftovers = [path.join(certDir, '.record.json.tmp-999-abcd1234'), path.join(version, '.privkey.pem.tmp-999-abcd1234'), path.join(store.dir, '.x.tmp-1-00ff')];
    for (const file of leftovers) await fs.writeFile(file, 'partial');

    const lock = await store.lock();
    try {
      for (const file of leftovers) await expect(fs.access(file)).rejects.toThrow();
      expect((await store.getCertificate('www'))!.info.domains).toEqual(['a.example']);
    } finally {
      await lock.release();
    }
  });

  it('looks for them again only after taking the lock over from a dead process, not at every lock', async () => {
    await (await store.lock()).release(); // the first lock of this store looked
    const leftover = path.join(store.dir, '.record.json.tmp-999-abcd1234');
    await fs.writeFile(leftover, 'partial');
    await (await store.lock()).release();
    await expect(fs.access(leftover)).resolves.toBeUndefined(); // an ordinary lock does not walk every folder

    // A process that died holding the lock is the one that leaves temp files.
    const exited = spawnSync(process.execPath, ['-e', '']);
    await fs.writeFile(path.join(store.dir, 'lock'), JSON.stringify({ pid: exited.pid, hostname: os.hostname(), startedAt: '2026-01-01T00:00:00.000Z', token: 'dead' }));
    const lock = await store.lock({ timeoutMs: 5_000 });
    try {
      await expect(fs.access(leftover)).rejects.toThrow();
    } finally {
      await lock.release();
    }
  });
});

describe('FileStore per-sink data', () => {
  it('keeps small JSON per certificate and sink, 0600, and returns undefined when none', async () => {
    expect(await store.getSinkState('www', 'alb')).toBeUndefined();
    await store.putSinkState('www', 'alb', { certificateArn: 'arn:aws:acm:eu-west-1:1:certificate/x' });
    expect(await store.getSinkState('www', 'alb')).toEqual({ certificateArn: 'arn:aws:acm:eu-west-1:1:certificate/x' });
    expect(await store.getSinkState('www', 'other')).toBeUndefined();
    expect(await mode(path.join(tmp, 'state/certs/www/sinks/alb.json'))).toBe(0o600);
    await expect(store.putSinkState('www', '../x', {})).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
