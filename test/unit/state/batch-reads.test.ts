// The repositories' batch reads (peekCertificates, getRecords, getSinkStates) over a folder: a
// damaged entry is that certificate's answer and spoils no other; a damaged record fails the
// read as getRecord does; what the batch reads is what the single reads return.

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import { RepositoryStore } from '../../../src/state/repository-store.js';
import { FileStorage } from '../../../src/state/storage/file/index.js';
import { makeCertificate } from '../../helpers/certs.js';

const DIRECTORY = 'https://acme.test/directory';
const garbage = new TextEncoder().encode('{"version": 1, "trunc');

let tmp: string;
let store: RepositoryStore;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-batch-'));
  await fs.mkdir(path.join(tmp, 'local'), { mode: 0o700 });
  store = new RepositoryStore({
    storage: await FileStorage.open({ dir: path.join(tmp, 'state'), clock: systemClock }),
    clock: systemClock,
    localDir: path.join(tmp, 'local'),
  });
});
afterEach(async () => {
  await store.storage.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

it('a damaged current is STATE_CORRUPT for that certificate alone', async () => {
  for (const name of ['a', 'b', 'c'])
    await store.putCertificate(name, makeCertificate({ domains: [`${name}.example`] }), { directoryUrl: DIRECTORY, issuedAt: new Date() });
  await store.storage.put('certs/b/current', garbage);
  const peeked = await store.peekCertificates(['a', 'b', 'c', 'none']);
  expect([...peeked.keys()].sort()).toEqual(['a', 'b', 'c']);
  expect(peeked.get('b')).toBeInstanceOf(CertkeeperError);
  expect(peeked.get('b')).toMatchObject({ code: 'STATE_CORRUPT' });
  await expect(store.peekCertificate('b')).rejects.toMatchObject({ code: 'STATE_CORRUPT', message: (peeked.get('b') as CertkeeperError).message });
  expect(peeked.get('a')).toEqual(await store.peekCertificate('a'));
  expect(peeked.get('c')).toEqual(await store.peekCertificate('c'));
});

it("a name that cannot be a key is that name's error, not the batch's", async () => {
  await store.putCertificate('a', makeCertificate({ domains: ['a.example'] }), { directoryUrl: DIRECTORY, issuedAt: new Date() });
  const peeked = await store.peekCertificates(['../x', 'a']);
  expect(peeked.get('../x')).toMatchObject({ code: 'CONFIG_INVALID' });
  expect(peeked.get('a')).toMatchObject({ name: 'a' });
});

it("a damaged sink entry is that certificate's error; a damaged record fails the batch as getRecord fails", async () => {
  await store.putSinkState('a', 'acme.ari', { serial: '01' });
  await store.storage.put('certs/b/data/acme.ari', garbage);
  const data = await store.getSinkStates(['a', 'b', 'c'], 'acme.ari');
  expect(data.get('a')).toEqual({ serial: '01' });
  expect(data.get('b')).toMatchObject({ code: 'STATE_CORRUPT' });
  expect(data.has('c')).toBe(false);

  await store.storage.put('certs/b/record', garbage);
  await expect(store.getRecord('b')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
  await expect(store.getRecords(['a', 'b'])).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
});
