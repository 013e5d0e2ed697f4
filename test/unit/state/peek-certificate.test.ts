// peekCertificate: a stored certificate's details from meta.json alone (status and planning of a
// large fleet), falling back to cert.pem for meta.json written before the details were recorded.

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { FileStore } from '../../../src/state/file-store.js';
import { makeCertificate } from '../../helpers/certs.js';

const DIRECTORY = 'https://acme.test/directory';
const ISSUED_AT = new Date('2026-06-01T12:00:00Z');

let tmp: string;
let store: FileStore;

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-peek-'));
  store = await FileStore.open({ dir: path.join(tmp, 'state'), clock: systemClock });
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function versionDir(name: string): Promise<string> {
  return fs.realpath(path.join(store.dir, 'certs', name, 'live'));
}

it('returns what getCertificate would, without the key, from meta.json alone', async () => {
  await store.putCertificate('www', makeCertificate({ domains: ['a.example', '*.a.example'] }), { directoryUrl: DIRECTORY, issuedAt: ISSUED_AT });
  const full = await store.getCertificate('www');
  const peeked = await store.peekCertificate('www');
  expect(peeked).toEqual({ name: 'www', info: full!.info, issuedAt: ISSUED_AT, directoryUrl: DIRECTORY });
  expect(peeked).not.toHaveProperty('material');

  // cert.pem and the key are not read at all: with both gone the details still come back.
  const version = await versionDir('www');
  await fs.rm(path.join(version, 'cert.pem'));
  await fs.rm(path.join(version, 'privkey.pem'));
  expect(await store.peekCertificate('www')).toEqual(peeked);
  await expect(store.getCertificate('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
});

it('parses cert.pem when meta.json predates the recorded details (older state dirs keep working)', async () => {
  const put = await store.putCertificate('www', makeCertificate({ domains: ['b.example'], keyType: 'rsa-2048' }), { directoryUrl: DIRECTORY, issuedAt: ISSUED_AT });
  const version = await versionDir('www');
  // The meta.json that earlier versions wrote: four fields.
  const old = { directoryUrl: DIRECTORY, issuedAt: ISSUED_AT.toISOString(), serial: put.info.serial, notAfter: put.info.notAfter.toISOString() };
  await fs.writeFile(path.join(version, 'meta.json'), `${JSON.stringify(old, null, 2)}\n`);

  const peeked = await store.peekCertificate('www');
  expect(peeked).toEqual({ name: 'www', info: put.info, issuedAt: ISSUED_AT, directoryUrl: DIRECTORY });
  expect(peeked!.info).toMatchObject({ domains: ['b.example'], keyType: 'rsa-2048' });
  expect((await store.getCertificate('www'))!.info).toEqual(put.info);
});

it('parses cert.pem when meta.json has a detail of the wrong shape', async () => {
  const put = await store.putCertificate('www', makeCertificate({ domains: ['c.example'] }), { directoryUrl: DIRECTORY, issuedAt: ISSUED_AT });
  const file = path.join(await versionDir('www'), 'meta.json');
  const meta = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
  await fs.writeFile(file, JSON.stringify({ ...meta, notBefore: 'yesterday', domains: 'c.example' }));
  expect((await store.peekCertificate('www'))!.info).toEqual(put.info);
});

it('trusts meta.json that disagrees with cert.pem, and getCertificate refuses it (STATE_CORRUPT), so nothing is ordered or deployed from it', async () => {
  const put = await store.putCertificate('www', makeCertificate({ domains: ['d.example'] }), { directoryUrl: DIRECTORY, issuedAt: ISSUED_AT });
  const file = path.join(await versionDir('www'), 'meta.json');
  const meta = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
  const later = new Date(put.info.notAfter.getTime() + 365 * 86_400_000);
  await fs.writeFile(file, JSON.stringify({ ...meta, notAfter: later.toISOString() }));

  expect((await store.peekCertificate('www'))!.info.notAfter).toEqual(later);
  const error = await store.getCertificate('www').catch((e: unknown) => e);
  expect(error).toMatchObject({ code: 'STATE_CORRUPT' });
  expect((error as Error).message).toContain('notAfter');

  // The same for a serial of another certificate, in the older four-field meta.json too.
  await fs.writeFile(file, JSON.stringify({ directoryUrl: DIRECTORY, issuedAt: ISSUED_AT.toISOString(), serial: 'ABCDEF', notAfter: put.info.notAfter.toISOString() }));
  await expect(store.peekCertificate('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
  await expect(store.getCertificate('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
});

it('returns undefined for a name never stored and STATE_CORRUPT for a missing meta.json or a dangling live link', async () => {
  expect(await store.peekCertificate('none')).toBeUndefined();
  await store.putCertificate('www', makeCertificate({ domains: ['e.example'] }), { directoryUrl: DIRECTORY, issuedAt: ISSUED_AT });
  const version = await versionDir('www');
  await fs.rm(path.join(version, 'meta.json'));
  await expect(store.peekCertificate('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
  await fs.rm(version, { recursive: true });
  await expect(store.peekCertificate('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
});

it('sees the new certificate once it replaced the old one, and nothing after quarantine', async () => {
  await store.putCertificate('www', makeCertificate({ domains: ['f.example'] }), { directoryUrl: DIRECTORY, issuedAt: ISSUED_AT });
  const second = await store.putCertificate('www', makeCertificate({ domains: ['f.example'] }), { directoryUrl: DIRECTORY, issuedAt: ISSUED_AT });
  expect((await store.peekCertificate('www'))!.info.serial).toBe(second.info.serial);
  await store.quarantineCertificate('www');
  expect(await store.peekCertificate('www')).toBeUndefined();
});
