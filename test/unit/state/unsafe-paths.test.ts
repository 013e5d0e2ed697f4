// Issue 14, item 1 for the state directory: a symlink planted where certkeeper keeps its own
// folders and files (certs/, certs/<name>/, .live.versions, accounts/, issuers/, live, the lock,
// history.jsonl, temp files) is refused with UNSAFE_PATH and nothing is written, moved or deleted
// through it. In-process as root, and the main cases again in a Node child as root and as nobody.

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../../../src/core/clock.js';
import { isCertkeeperError } from '../../../src/core/errors.js';
import { emptyRecord } from '../../../src/state/contract.js';
import { FileStore } from '../../../src/state/file-store.js';
import { makeCertificate } from '../../helpers/certs.js';
import { NOBODY, ROOT, runAs, sharedTempDir } from '../../helpers/unprivileged.js';

function steppingClock(start = Date.parse('2026-06-01T00:00:00Z')): Clock {
  let t = start;
  return { now: () => new Date((t += 1000)), sleep: systemClock.sleep };
}

const DIRECTORY = 'https://acme.test/directory';
const meta = { directoryUrl: DIRECTORY, issuedAt: new Date('2026-06-01T00:00:00Z') };

/** Every entry under `dir` (not following symlinks) with its content. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath, entry.name);
    const key = path.relative(dir, full);
    if (entry.isSymbolicLink()) out[key] = `-> ${await fs.readlink(full)}`;
    else if (entry.isDirectory()) out[key] = '<dir>';
    else out[key] = await fs.readFile(full, 'utf8');
  }
  return out;
}

let tmp: string;
let stateDir: string;
let victim: string;
let before: Record<string, string>;

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-unsafe-'));
  stateDir = path.join(tmp, 'state');
  victim = path.join(tmp, 'victim');
  await fs.mkdir(path.join(victim, 'sub'), { recursive: true });
  await fs.writeFile(path.join(victim, 'victim.txt'), 'precious\n');
  // Named like what the sweep and pruning delete: they must not reach it.
  await fs.writeFile(path.join(victim, '.x.tmp-1-abcd'), 'not a leftover\n');
  await fs.writeFile(path.join(victim, 'sub', '.y.tmp-1-abcd'), 'not a leftover\n');
  await fs.mkdir(path.join(victim, '20200101T000000000Z-old-abcdef'));
  before = await snapshot(victim);
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function refused(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isCertkeeperError(error, 'UNSAFE_PATH'), String(error)).toBe(true);
  return error as Error;
}

describe('FileStore refuses planted symlinks (in-process, root)', () => {
  it('certs/ as a symlink: open refuses, and nothing is written through it', async () => {
    await fs.mkdir(stateDir, { mode: 0o700 });
    await fs.symlink(victim, path.join(stateDir, 'certs'));
    const error = await refused(FileStore.open({ dir: stateDir, clock: steppingClock() }));
    expect(error.message).toContain(path.join(stateDir, 'certs'));
    expect(error.message).toContain(`symlink (to ${victim})`);
    expect(await snapshot(victim)).toEqual(before);
  });

  it('certs/<name> or its .live.versions as a symlink: putCertificate and putRecord refuse', async () => {
    const store = await FileStore.open({ dir: stateDir, clock: steppingClock() });
    await fs.symlink(victim, path.join(stateDir, 'certs', 'www'));
    await refused(store.putCertificate('www', makeCertificate({ domains: ['a.example'] }), meta));
    await refused(store.putRecord('www', emptyRecord()));
    await refused(store.putSinkState('www', 'files', { x: 1 }));

    await fs.mkdir(path.join(stateDir, 'certs', 'api'), { mode: 0o700 });
    await fs.symlink(victim, path.join(stateDir, 'certs', 'api', '.live.versions'));
    await refused(store.putCertificate('api', makeCertificate({ domains: ['b.example'] }), meta));
    expect(await snapshot(victim)).toEqual(before);
  });

  it('live as a real folder or a foreign symlink: putCertificate refuses and moves nothing', async () => {
    const store = await FileStore.open({ dir: stateDir, clock: steppingClock() });
    await fs.mkdir(path.join(stateDir, 'certs', 'www', 'live'), { recursive: true });
    await fs.writeFile(path.join(stateDir, 'certs', 'www', 'live', 'cert.pem'), 'hand-made');
    await refused(store.putCertificate('www', makeCertificate({ domains: ['a.example'] }), meta));
    expect(await fs.readdir(path.join(stateDir, 'certs', 'www'))).toEqual(['live']);

    await fs.mkdir(path.join(stateDir, 'certs', 'api'));
    await fs.symlink(victim, path.join(stateDir, 'certs', 'api', 'live'));
    await refused(store.putCertificate('api', makeCertificate({ domains: ['b.example'] }), meta));
    expect(await fs.readlink(path.join(stateDir, 'certs', 'api', 'live'))).toBe(victim);
    expect(await snapshot(victim)).toEqual(before);
  });

  it('quarantine refuses a live link it did not create instead of moving what it points to', async () => {
    const store = await FileStore.open({ dir: stateDir, clock: steppingClock() });
    await fs.mkdir(path.join(stateDir, 'certs', 'www'));
    await fs.symlink(victim, path.join(stateDir, 'certs', 'www', 'live'));
    await refused(store.quarantineCertificate('www'));
    expect(await snapshot(victim)).toEqual(before);
    expect(await fs.readlink(path.join(stateDir, 'certs', 'www', 'live'))).toBe(victim);
  });

  it('accounts/<id> and issuers/ as symlinks: putAccount and putIssuerState refuse', async () => {
    const store = await FileStore.open({ dir: stateDir, clock: steppingClock() });
    await store.putAccount({ directoryUrl: DIRECTORY, email: null, accountUrl: null, keyPem: 'k' });
    const [id] = await fs.readdir(path.join(stateDir, 'accounts'));
    await fs.rm(path.join(stateDir, 'accounts', id!), { recursive: true });
    await fs.symlink(victim, path.join(stateDir, 'accounts', id!));
    await refused(store.putAccount({ directoryUrl: DIRECTORY, email: null, accountUrl: null, keyPem: 'k2' }));

    await fs.symlink(victim, path.join(stateDir, 'issuers'));
    await refused(store.putIssuerState('ca', { backoff: 1 }));
    expect(await snapshot(victim)).toEqual(before);
  });

  it('a state file that is a symlink (record.json, history.jsonl) is refused, not replaced or appended through', async () => {
    const store = await FileStore.open({ dir: stateDir, clock: steppingClock() });
    await fs.mkdir(path.join(stateDir, 'certs', 'www'));
    await fs.symlink(path.join(victim, 'victim.txt'), path.join(stateDir, 'certs', 'www', 'record.json'));
    await refused(store.putRecord('www', emptyRecord()));
    await fs.symlink(path.join(victim, 'victim.txt'), path.join(stateDir, 'history.jsonl'));
    await refused(store.appendHistory({ at: '2026-06-01T00:00:00.000Z', cert: 'www', action: 'issue', result: 'success', serial: null, notAfter: null, durationMs: 1, error: null }));
    expect(await snapshot(victim)).toEqual(before);
    expect(await fs.readlink(path.join(stateDir, 'certs', 'www', 'record.json'))).toBe(path.join(victim, 'victim.txt'));
  });

  it('the lock file as a symlink: lock() refuses and neither follows nor removes it', async () => {
    const store = await FileStore.open({ dir: stateDir, clock: steppingClock() });
    await fs.symlink(path.join(victim, 'victim.txt'), path.join(stateDir, 'lock'));
    await refused(store.lock({ timeoutMs: 1_000 }));
    expect(await fs.readlink(path.join(stateDir, 'lock'))).toBe(path.join(victim, 'victim.txt'));
    expect(await snapshot(victim)).toEqual(before);
  });

  it('the leftover sweep does not walk into symlinked folders, and still cleans the real ones', async () => {
    const store = await FileStore.open({ dir: stateDir, clock: steppingClock() });
    await store.putCertificate('www', makeCertificate({ domains: ['a.example'] }), meta);
    const leftover = path.join(stateDir, 'certs', 'www', '.record.json.tmp-999-abcd1234');
    await fs.writeFile(leftover, 'partial');
    await fs.symlink(victim, path.join(stateDir, 'certs', 'api')); // a whole certificate folder
    await fs.mkdir(path.join(stateDir, 'certs', 'web'));
    await fs.symlink(victim, path.join(stateDir, 'certs', 'web', '.live.versions')); // its versions
    await fs.symlink(path.join(victim, '.x.tmp-1-abcd'), path.join(stateDir, '.z.tmp-1-abcd')); // a link named like a temp file: unlinked, not followed

    await (await store.lock()).release();

    await expect(fs.access(leftover)).rejects.toThrow();
    await expect(fs.lstat(path.join(stateDir, '.z.tmp-1-abcd'))).rejects.toThrow();
    expect(await snapshot(victim)).toEqual(before);
  });

  it('keeps working on a state directory written by earlier releases', async () => {
    const store = await FileStore.open({ dir: stateDir, clock: steppingClock() });
    const first = makeCertificate({ domains: ['a.example'] });
    await store.putCertificate('www', first, meta);
    // An earlier release's layout is the same; a second-stamp version folder name included.
    const versions = path.join(stateDir, 'certs', 'www', '.live.versions');
    const [current] = await fs.readdir(versions);
    const renamed = current!.replace(/^(\d{8}T\d{6})\d{3}Z/, '$1Z');
    await fs.rename(path.join(versions, current!), path.join(versions, renamed));
    await fs.rm(path.join(stateDir, 'certs', 'www', 'live'));
    await fs.symlink(`.live.versions/${renamed}`, path.join(stateDir, 'certs', 'www', 'live'));

    const second = makeCertificate({ domains: ['a.example'] });
    await store.putCertificate('www', second, meta);
    expect((await store.getCertificate('www'))!.material.certPem).toBe(second.certPem);
    expect(await fs.readdir(versions)).toContain(renamed);
    const moved = await store.quarantineCertificate('www');
    expect(moved).toBe(path.join(stateDir, 'certs', 'www', 'revoked', (await fs.readdir(path.join(stateDir, 'certs', 'www', 'revoked')))[0]!));
  });
});

/** Opens a FileStore in the child and runs one step on it. */
const STORE = `
const { FileStore } = await dist('state/file-store.js');
const { systemClock } = await dist('core/clock.js');
const store = await FileStore.open({ dir: input.stateDir, clock: systemClock });
if (input.step === 'put') await store.putCertificate('www', input.material, { directoryUrl: 'https://acme.test/directory', issuedAt: new Date() });
if (input.step === 'lock') await (await store.lock({ timeoutMs: 1000 })).release();
return 'done';`;

describe.each([ROOT, NOBODY])('FileStore refuses planted symlinks, as $name', (user) => {
  let work: string;
  let shared: string;
  let target: string;
  let targetBefore: Record<string, string>;
  beforeEach(async () => {
    ({ tmp: shared, work } = await sharedTempDir('ck-state-hostile-', user));
    target = path.join(work, 'victim');
    await fs.mkdir(target);
    await fs.writeFile(path.join(target, 'victim.txt'), 'precious\n');
    await fs.writeFile(path.join(target, '.x.tmp-1-abcd'), 'not a leftover\n');
    for (const p of [target, path.join(target, 'victim.txt'), path.join(target, '.x.tmp-1-abcd')]) await fs.chown(p, user.uid, user.gid);
    targetBefore = await snapshot(target);
    await fs.mkdir(path.join(work, 'state'), { mode: 0o700 });
    await fs.chown(path.join(work, 'state'), user.uid, user.gid);
  });
  afterEach(async () => {
    await fs.rm(shared, { recursive: true, force: true });
  });
  const plant = async (text: string, rel: string): Promise<void> => {
    const link = path.join(work, 'state', rel);
    await fs.symlink(text, link);
    await fs.lchown(link, user.uid, user.gid);
  };

  it('certs/ as a symlink: open refuses', async () => {
    await plant(target, 'certs');
    const outcome = await runAs(user, STORE, { stateDir: path.join(work, 'state'), step: 'open' });
    expect(outcome).toMatchObject({ ok: false, code: 'UNSAFE_PATH', message: expect.stringContaining(path.join(work, 'state', 'certs')) });
    expect(await snapshot(target)).toEqual(targetBefore);
  });

  it('certs/www as a symlink: storing a certificate refuses, no key written where it points', async () => {
    const outcome0 = await runAs(user, STORE, { stateDir: path.join(work, 'state'), step: 'open' });
    expect(outcome0).toMatchObject({ ok: true });
    await plant(target, 'certs/www');
    const outcome = await runAs(user, STORE, { stateDir: path.join(work, 'state'), step: 'put', material: makeCertificate({ domains: ['a.example'] }) });
    expect(outcome).toMatchObject({ ok: false, code: 'UNSAFE_PATH' });
    expect(await snapshot(target)).toEqual(targetBefore);
  });

  it('the lock as a symlink: lock() refuses, the link and its target stay', async () => {
    await plant(path.join(target, 'victim.txt'), 'lock');
    const outcome = await runAs(user, STORE, { stateDir: path.join(work, 'state'), step: 'lock' });
    expect(outcome).toMatchObject({ ok: false, code: 'UNSAFE_PATH' });
    expect(await fs.readlink(path.join(work, 'state', 'lock'))).toBe(path.join(target, 'victim.txt'));
    expect(await snapshot(target)).toEqual(targetBefore);
  });
});
