// Issue 14, item 1 for the state directory: a symlink planted where certkeeper keeps its own
// folders and files in the file store (store/certs/, certs/<name>/, versions/, accounts/, issuers/,
// a value such as record or current, the history log, a lock, temp files) is refused with
// UNSAFE_PATH and nothing is written, moved or deleted through it. In-process as root, and the
// main cases again in a Node child as root and as nobody. (The hooks' copy under live/ is
// file-storage.test.ts's; a 0.1 folder is only ever read, legacy-state.test.ts.)

import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../../../src/core/clock.js';
import { isCertkeeperError } from '../../../src/core/errors.js';
import { emptyRecord } from '../../../src/state/contract.js';
import type { RepositoryStore } from '../../../src/state/repository-store.js';
import { makeCertificate } from '../../helpers/certs.js';
import { openFileStore } from '../../helpers/state.js';
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

describe('the file store refuses planted symlinks (in-process, root)', () => {
  let store: RepositoryStore;
  let root: string;
  beforeEach(async () => {
    store = await openFileStore(stateDir, steppingClock());
    root = path.join(stateDir, 'store');
  });

  it('certs/ as a symlink: storing a certificate or a record refuses, and nothing is written through it', async () => {
    await fs.symlink(victim, path.join(root, 'certs'));
    const error = await refused(store.putCertificate('www', makeCertificate({ domains: ['a.example'] }), meta));
    expect(error.message).toContain(path.join(root, 'certs'));
    expect(error.message).toContain('symlink');
    await refused(store.putRecord('www', emptyRecord()));
    await refused(store.getCertificate('www'));
    await refused(store.listCertificateNames());
    expect(await snapshot(victim)).toEqual(before);
  });

  it('certs/<name> or its versions/ as a symlink: putCertificate, putRecord and putSinkState refuse', async () => {
    await fs.mkdir(path.join(root, 'certs'), { mode: 0o700 });
    await fs.symlink(victim, path.join(root, 'certs', 'www'));
    await refused(store.putCertificate('www', makeCertificate({ domains: ['a.example'] }), meta));
    await refused(store.putRecord('www', emptyRecord()));
    await refused(store.putSinkState('www', 'files', { x: 1 }));

    await fs.mkdir(path.join(root, 'certs', 'api'), { mode: 0o700 });
    await fs.symlink(victim, path.join(root, 'certs', 'api', 'versions'));
    await refused(store.putCertificate('api', makeCertificate({ domains: ['b.example'] }), meta));
    expect(await snapshot(victim)).toEqual(before);
  });

  it('quarantine refuses a current that is a symlink instead of moving what it points to', async () => {
    await store.putCertificate('www', makeCertificate({ domains: ['a.example'] }), meta);
    const current = path.join(root, 'certs', 'www', 'current');
    await fs.rm(current);
    await fs.symlink(path.join(victim, 'victim.txt'), current);
    await refused(store.quarantineCertificate('www'));
    expect(await snapshot(victim)).toEqual(before);
    expect(await fs.readlink(current)).toBe(path.join(victim, 'victim.txt'));
  });

  it('accounts/ and issuers/ as symlinks: putAccount and putIssuerState refuse', async () => {
    await fs.symlink(victim, path.join(root, 'accounts'));
    await refused(store.putAccount({ directoryUrl: DIRECTORY, email: null, accountUrl: null, keyPem: 'k2' }));
    await fs.symlink(victim, path.join(root, 'issuers'));
    await refused(store.putIssuerState('ca', { backoff: 1 }));
    expect(await snapshot(victim)).toEqual(before);
  });

  it('a value that is a symlink (a record, the history log) is refused, not replaced or appended through', async () => {
    await fs.mkdir(path.join(root, 'certs', 'www'), { recursive: true, mode: 0o700 });
    await fs.symlink(path.join(victim, 'victim.txt'), path.join(root, 'certs', 'www', 'record'));
    await refused(store.putRecord('www', emptyRecord()));
    await fs.mkdir(path.join(root, 'logs'), { mode: 0o700 });
    await fs.symlink(path.join(victim, 'victim.txt'), path.join(root, 'logs', 'history.jsonl'));
    await refused(
      store.appendHistory({
        at: '2026-06-01T00:00:00.000Z',
        cert: 'www',
        action: 'issue',
        result: 'success',
        serial: null,
        notAfter: null,
        durationMs: 1,
        error: null,
      }),
    );
    expect(await snapshot(victim)).toEqual(before);
    expect(await fs.readlink(path.join(root, 'certs', 'www', 'record'))).toBe(path.join(victim, 'victim.txt'));
  });

  it('the lock file as a symlink: lock() refuses and neither follows nor removes it', async () => {
    await fs.mkdir(path.join(root, 'locks'), { mode: 0o700 });
    await fs.symlink(path.join(victim, 'victim.txt'), path.join(root, 'locks', 'state'));
    await refused(store.lock({ timeoutMs: 1_000 }));
    expect(await fs.readlink(path.join(root, 'locks', 'state'))).toBe(path.join(victim, 'victim.txt'));
    expect(await snapshot(victim)).toEqual(before);
  });

  it("the sweep of killed writers' temp files does not walk into symlinked folders nor follow a link, and still cleans the real ones", async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    // In the victim, named like a dead writer's temp files: the sweep must not reach them.
    await fs.writeFile(path.join(victim, `.x.tmp-${dead}-abcd`), 'not a leftover\n');
    await fs.writeFile(path.join(victim, 'sub', `.y.tmp-${dead}-abcd`), 'not a leftover\n');
    const victimBefore = await snapshot(victim);
    await store.putCertificate('www', makeCertificate({ domains: ['a.example'] }), meta);
    const leftover = path.join(root, 'certs', 'www', `.record.tmp-${dead}-abcd1234`);
    await fs.writeFile(leftover, 'partial');
    await fs.symlink(victim, path.join(root, 'certs', 'api')); // a whole certificate folder
    await fs.mkdir(path.join(root, 'certs', 'web'), { mode: 0o700 });
    await fs.symlink(victim, path.join(root, 'certs', 'web', 'versions')); // its versions
    await fs.symlink(path.join(victim, `.x.tmp-${dead}-abcd`), path.join(root, `.z.tmp-${dead}-abcd`)); // a link named like a temp file

    await store.storage.sweep!();

    await expect(fs.access(leftover)).rejects.toThrow();
    expect(await snapshot(victim)).toEqual(victimBefore);
  });
});

/** Opens the file store a `stateDir:` config opens, in the child, and runs one step on it. */
const STORE = `
const { openStateStore } = await dist('state/open.js');
const { stateSchema } = await dist('state/schema.js');
const { systemClock } = await dist('core/clock.js');
const { silentLogger } = await dist('core/logger.js');
const store = await openStateStore({ state: stateSchema.parse({ type: 'file', dir: input.stateDir }), agentId: 'test', clock: systemClock, logger: silentLogger });
if (input.step === 'put') await store.putCertificate(input.name ?? 'www', input.material, { directoryUrl: 'https://acme.test/directory', issuedAt: new Date() });
if (input.step === 'lock') await (await store.lock({ timeoutMs: 1000 })).release();
return 'done';`;

describe.each([ROOT, NOBODY])('the file store refuses planted symlinks, as $name', (user) => {
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

  const run = (step: string, extra: Record<string, unknown> = {}) => runAs(user, STORE, { stateDir: path.join(work, 'state'), step, ...extra });

  it('store/certs as a symlink: storing a certificate refuses, naming it', async () => {
    expect(await run('open')).toMatchObject({ ok: true });
    await plant(target, 'store/certs');
    const outcome = await run('put', { material: makeCertificate({ domains: ['a.example'] }) });
    expect(outcome).toMatchObject({ ok: false, code: 'UNSAFE_PATH', message: expect.stringContaining(path.join(work, 'state', 'store', 'certs')) });
    expect(await snapshot(target)).toEqual(targetBefore);
  });

  it('store/certs/www as a symlink: storing a certificate refuses, no key written where it points', async () => {
    expect(await run('put', { name: 'api', material: makeCertificate({ domains: ['b.example'] }) })).toMatchObject({ ok: true });
    await plant(target, 'store/certs/www');
    const outcome = await run('put', { material: makeCertificate({ domains: ['a.example'] }) });
    expect(outcome).toMatchObject({ ok: false, code: 'UNSAFE_PATH' });
    expect(await snapshot(target)).toEqual(targetBefore);
  });

  it('the lock as a symlink: lock() refuses, the link and its target stay', async () => {
    expect(await run('lock')).toMatchObject({ ok: true });
    await plant(path.join(target, 'victim.txt'), 'store/locks/state');
    const outcome = await run('lock');
    expect(outcome).toMatchObject({ ok: false, code: 'UNSAFE_PATH' });
    expect(await fs.readlink(path.join(work, 'state', 'store', 'locks', 'state'))).toBe(path.join(target, 'victim.txt'));
    expect(await snapshot(target)).toEqual(targetBefore);
  });
});
