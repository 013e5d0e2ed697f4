// peekCertificate: a stored certificate's details from `current` alone (status and planning of a
// large fleet), without reading the version that holds the PEM material and the key. (Reading a
// 0.1 meta.json, with its fallback to cert.pem, is the legacy reader's: legacy-state.test.ts.)

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import type { RepositoryStore } from '../../../src/state/repository-store.js';
import { makeCertificate } from '../../helpers/certs.js';
import { openFileStore } from '../../helpers/state.js';

const DIRECTORY = 'https://acme.test/directory';
const ISSUED_AT = new Date('2026-06-01T12:00:00Z');

let tmp: string;
let store: RepositoryStore;

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-peek-'));
  store = await openFileStore(path.join(tmp, 'state'), systemClock);
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** The files of a certificate's `current` and of the version it names. */
async function files(name: string): Promise<{ current: string; version: string }> {
  const dir = path.join(tmp, 'state/store/certs', name);
  const { version } = JSON.parse(await fs.readFile(path.join(dir, 'current'), 'utf8')) as { version: string };
  return { current: path.join(dir, 'current'), version: path.join(dir, 'versions', version) };
}

it('returns what getCertificate would, without the key, from current alone', async () => {
  await store.putCertificate('www', makeCertificate({ domains: ['a.example', '*.a.example'] }), { directoryUrl: DIRECTORY, issuedAt: ISSUED_AT });
  const full = await store.getCertificate('www');
  const peeked = await store.peekCertificate('www');
  expect(peeked).toEqual({ name: 'www', info: full!.info, issuedAt: ISSUED_AT, directoryUrl: DIRECTORY });
  expect(peeked).not.toHaveProperty('material');

  // The version (certificate and key) is not read at all: with it gone the details still come back.
  await fs.rm((await files('www')).version);
  expect(await store.peekCertificate('www')).toEqual(peeked);
  await expect(store.getCertificate('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
});

it('trusts recorded details that disagree with the certificate, and getCertificate refuses them (STATE_CORRUPT), so nothing is ordered or deployed from them', async () => {
  const put = await store.putCertificate('www', makeCertificate({ domains: ['d.example'] }), { directoryUrl: DIRECTORY, issuedAt: ISSUED_AT });
  const { current } = await files('www');
  const recorded = JSON.parse(await fs.readFile(current, 'utf8')) as Record<string, unknown>;
  const later = new Date(put.info.notAfter.getTime() + 365 * 86_400_000);
  await fs.writeFile(current, JSON.stringify({ ...recorded, notAfter: later.toISOString() }));

  expect((await store.peekCertificate('www'))!.info.notAfter).toEqual(later);
  const error = await store.getCertificate('www').catch((e: unknown) => e);
  expect(error).toMatchObject({ code: 'STATE_CORRUPT' });
  expect((error as Error).message).toContain('notAfter');

  // The same for a serial of another certificate.
  await fs.writeFile(current, JSON.stringify({ ...recorded, serial: 'ABCDEF' }));
  expect((await store.peekCertificate('www'))!.info.serial).toBe('ABCDEF');
  await expect(store.getCertificate('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
});

it('returns undefined for a name never stored, and STATE_CORRUPT for details of the wrong shape', async () => {
  expect(await store.peekCertificate('none')).toBeUndefined();
  await store.putCertificate('www', makeCertificate({ domains: ['e.example'] }), { directoryUrl: DIRECTORY, issuedAt: ISSUED_AT });
  const { current } = await files('www');
  const recorded = JSON.parse(await fs.readFile(current, 'utf8')) as Record<string, unknown>;
  await fs.writeFile(current, JSON.stringify({ ...recorded, notBefore: 'yesterday', domains: 'e.example' }));
  await expect(store.peekCertificate('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
  await expect(store.getCertificate('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
});

it('sees the new certificate once it replaced the old one, and nothing after quarantine', async () => {
  await store.putCertificate('www', makeCertificate({ domains: ['f.example'] }), { directoryUrl: DIRECTORY, issuedAt: ISSUED_AT });
  const second = await store.putCertificate('www', makeCertificate({ domains: ['f.example'] }), { directoryUrl: DIRECTORY, issuedAt: ISSUED_AT });
  expect((await store.peekCertificate('www'))!.info.serial).toBe(second.info.serial);
  await store.quarantineCertificate('www');
  expect(await store.peekCertificate('www')).toBeUndefined();
});
