// The file store (`stateDir:` / `state: { type: file }`): the repositories on FileStorage under
// <dir>/store, with what the shared StateStore contract (state-store-contract.ts) cannot say:
// folder modes, the archive of versions, damage done to the files by hand, temp files of killed
// writers.

import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../../../src/core/clock.js';
import { isCertkeeperError } from '../../../src/core/errors.js';
import { keyMatchesCertificate } from '../../../src/core/x509.js';
import { emptyRecord } from '../../../src/state/contract.js';
import { RepositoryStore } from '../../../src/state/repository-store.js';
import { FileStorage } from '../../../src/state/storage/file/index.js';
import { makeCertificate } from '../../helpers/certs.js';
import { openFileStore } from '../../helpers/state.js';

/** A clock that moves one second per reading, so versions sort in write order. */
function steppingClock(start = Date.parse('2026-06-01T00:00:00Z')): Clock {
  let t = start;
  return { now: () => new Date((t += 1000)), sleep: systemClock.sleep };
}

const DIRECTORY = 'https://acme.test/directory';
const mode = async (p: string): Promise<number> => (await fs.stat(p)).mode & 0o777;

let tmp: string;
let dir: string;
let root: string;
let store: RepositoryStore;

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-store-'));
  dir = path.join(tmp, 'state');
  root = path.join(dir, 'store');
  store = await openFileStore(dir, steppingClock());
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** The files of a certificate's `current` and of the version it names. */
async function files(name: string): Promise<{ current: string; version: string }> {
  const certDir = path.join(root, 'certs', name);
  const { version } = JSON.parse(await fs.readFile(path.join(certDir, 'current'), 'utf8')) as { version: string };
  return { current: path.join(certDir, 'current'), version: path.join(certDir, 'versions', version) };
}

describe('file store layout', () => {
  it('creates the store folder 0700, and every value 0600 in 0700 folders', async () => {
    await store.putCertificate('www', makeCertificate({ domains: ['a.example'] }), { directoryUrl: DIRECTORY, issuedAt: new Date() });
    await store.putRecord('www', emptyRecord());
    const { current, version } = await files('www');
    for (const folder of [root, path.join(root, 'certs'), path.join(root, 'certs/www'), path.dirname(version)]) expect(await mode(folder)).toBe(0o700);
    for (const file of [current, version, path.join(root, 'certs/www/record')]) expect(await mode(file)).toBe(0o600);
  });

  it('tightens an existing store folder that others could read', async () => {
    const loose = path.join(tmp, 'loose');
    await fs.mkdir(loose, { mode: 0o755 });
    await fs.chmod(loose, 0o755);
    await FileStorage.open({ dir: loose, clock: systemClock });
    expect(await mode(loose)).toBe(0o700);
  });
});

describe('file store certificates', () => {
  it('keeps the previous versions as the archive and prunes beyond the limit', async () => {
    const clock = steppingClock();
    const small = new RepositoryStore({ storage: await FileStorage.open({ dir: root, clock }), clock, localDir: dir, archiveVersions: 2 });
    const serials: string[] = [];
    for (let i = 0; i < 5; i++) {
      const put = await small.putCertificate('www', makeCertificate({ domains: ['a.example'] }), { directoryUrl: DIRECTORY, issuedAt: new Date() });
      serials.push(put.info.serial);
    }
    const versions = (await fs.readdir(path.join(root, 'certs/www/versions'))).sort();
    expect(versions).toHaveLength(3); // current + 2 previous
    // The survivors are the three newest, labelled with their serials.
    expect(versions.map((v) => serials.findIndex((s) => v.includes(s)))).toEqual([2, 3, 4]);
    expect((await small.getCertificate('www'))!.info.serial).toBe(serials[4]);
  });

  it('keeps ten previous versions by default', async () => {
    for (let i = 0; i < 12; i++)
      await store.putCertificate('www', makeCertificate({ domains: ['a.example'] }), { directoryUrl: DIRECTORY, issuedAt: new Date() });
    expect(await fs.readdir(path.join(root, 'certs/www/versions'))).toHaveLength(11);
  });

  it('never shows a certificate next to a key of another version while it is being replaced', async () => {
    const materials = Array.from({ length: 12 }, () => makeCertificate({ domains: ['a.example'] }));
    await store.putCertificate('www', materials[0]!, { directoryUrl: DIRECTORY, issuedAt: new Date() });
    const reader = await openFileStore(dir, systemClock); // another process's handle
    let writing = true;
    let reads = 0;
    const reading = (async () => {
      while (writing) {
        const stored = await reader.getCertificate('www'); // throws STATE_CORRUPT on a mismatch
        expect(keyMatchesCertificate(stored!.material.certPem, stored!.material.keyPem)).toBe(true);
        reads++;
      }
    })();
    for (const material of materials.slice(1)) await store.putCertificate('www', material, { directoryUrl: DIRECTORY, issuedAt: new Date() });
    writing = false;
    await reading;
    expect(reads).toBeGreaterThan(0);
    expect((await store.getCertificate('www'))!.material).toEqual(materials.at(-1));
  });

  it('reports STATE_CORRUPT when the stored key does not match the certificate', async () => {
    await store.putCertificate('www', makeCertificate({ domains: ['a.example'] }), { directoryUrl: DIRECTORY, issuedAt: new Date() });
    const { version } = await files('www');
    const material = JSON.parse(await fs.readFile(version, 'utf8')) as Record<string, string>;
    await fs.writeFile(version, JSON.stringify({ ...material, keyPem: makeCertificate({ domains: ['a.example'] }).keyPem }));
    const error = await store.getCertificate('www').catch((e: unknown) => e);
    expect(isCertkeeperError(error, 'STATE_CORRUPT')).toBe(true);
    expect((error as Error).message).toContain('does not belong');
  });

  it('reports STATE_CORRUPT for a missing version or a current that does not parse', async () => {
    await store.putCertificate('www', makeCertificate({ domains: ['a.example'] }), { directoryUrl: DIRECTORY, issuedAt: new Date() });
    const { current, version } = await files('www');
    await fs.rm(version);
    await expect(store.getCertificate('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
    await fs.writeFile(current, '{"version":');
    await expect(store.getCertificate('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
    await expect(store.peekCertificate('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
  });

  it('lists only names that have a certificate, sorted', async () => {
    await store.putRecord('only-record', emptyRecord());
    await store.putSinkState('only-data', 'acm', { arn: 'x' });
    for (const name of ['zeta', 'alpha'])
      await store.putCertificate(name, makeCertificate({ domains: [`${name}.example`] }), { directoryUrl: DIRECTORY, issuedAt: new Date() });
    expect(await store.listCertificateNames()).toEqual(['alpha', 'zeta']);
  });
});

describe('file store records, accounts, sink data and history', () => {
  it('fills fields missing from an older record with defaults', async () => {
    await fs.mkdir(path.join(root, 'certs/www'), { recursive: true });
    await fs.writeFile(path.join(root, 'certs/www/record'), JSON.stringify({ deployed: { web: 'AB' } }));
    expect(await store.getRecord('www')).toEqual({ ...emptyRecord(), deployed: { web: 'AB' } });
  });

  it('reports STATE_CORRUPT for an unparsable record', async () => {
    await fs.mkdir(path.join(root, 'certs/www'), { recursive: true });
    await fs.writeFile(path.join(root, 'certs/www/record'), '{"deployed":');
    await expect(store.getRecord('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
  });

  it('keeps an account with an email and one without apart, at one CA', async () => {
    const keyPem = makeCertificate({ domains: ['k.example'] }).keyPem;
    await store.putAccount({ directoryUrl: DIRECTORY, email: 'ops@example.com', accountUrl: 'https://acme.test/acct/1', keyPem });
    await store.putAccount({ directoryUrl: DIRECTORY, email: null, accountUrl: null, keyPem: 'other' });
    expect(await store.getAccount(DIRECTORY, 'ops@example.com')).toEqual({
      directoryUrl: DIRECTORY,
      email: 'ops@example.com',
      accountUrl: 'https://acme.test/acct/1',
      keyPem,
    });
    expect(await store.getAccount(DIRECTORY, null)).toEqual({ directoryUrl: DIRECTORY, email: null, accountUrl: null, keyPem: 'other' });
  });

  it('refuses a sink name that could leave its place', async () => {
    await expect(store.putSinkState('www', '../x', {})).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(store.getSinkState('www', '../x')).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('reads an empty history when none was written', async () => {
    expect(await store.readHistory()).toEqual([]);
    expect(await store.lastDryRuns()).toEqual(new Map());
  });
});

describe('file store temp files of killed writers', () => {
  it("the sweep removes those of a process that is gone, and a live writer's stay", async () => {
    await store.putCertificate('www', makeCertificate({ domains: ['a.example'] }), { directoryUrl: DIRECTORY, issuedAt: new Date() });
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    const leftovers = [
      path.join(root, 'certs/www', `.record.tmp-${dead}-abcd1234`),
      path.join(root, 'certs/www/versions', `.x.tmp-${dead}-00ff`),
      path.join(root, `.format.tmp-${dead}-00ff`),
    ];
    const live = path.join(root, 'certs/www', `.record.tmp-${process.pid}-abcd1234`);
    for (const file of [...leftovers, live]) await fs.writeFile(file, 'partial');

    expect(await store.storage.sweep!()).toBe(leftovers.length);
    for (const file of leftovers) await expect(fs.access(file)).rejects.toThrow();
    await fs.access(live);
    expect((await store.getCertificate('www'))!.info.domains).toEqual(['a.example']);
  });
});
