// Read-ahead (engine/read-ahead.ts): planning and `status` read a fleet in batches. The view
// answers the reads it made for the names it read, throws a damaged entry's error as the single
// read would, and passes every other call to the store itself; `renew` plans a fleet with nothing
// due from three batched reads and no single read of a certificate's keys.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { parseConfig } from '../../../src/config/load.js';
import type { EngineDeps } from '../../../src/engine/contracts.js';
import { readAhead } from '../../../src/engine/read-ahead.js';
import { ARI_STATE_KEY } from '../../../src/engine/renewal-info.js';
import { renew } from '../../../src/engine/renew.js';
import type { CertificateSummary } from '../../../src/state/contract.js';
import { makeCertificate } from '../../helpers/certs.js';
import { ManualClock } from '../../helpers/clock.js';
import { MemoryStore } from '../../helpers/memory-store.js';
import { openConfigStore } from '../../helpers/state.js';

const DIRECTORY = 'https://ca.test/directory';
const DAY = 86_400_000;

class CountingStore extends MemoryStore {
  readonly singles: string[] = [];
  override peekCertificate(name: string) {
    this.singles.push(`peek ${name}`);
    return super.peekCertificate(name);
  }
  override getRecord(name: string) {
    this.singles.push(`record ${name}`);
    return super.getRecord(name);
  }
  override getSinkState(cert: string, sink: string) {
    this.singles.push(`data ${cert} ${sink}`);
    return super.getSinkState(cert, sink);
  }
  override async peekCertificates(names: readonly string[]) {
    const found = new Map<string, CertificateSummary | CertkeeperError>();
    for (const name of names) {
      const summary = await super.peekCertificate(name);
      if (summary) found.set(name, summary);
    }
    return found;
  }
  override async getRecords(names: readonly string[]) {
    return new Map(await Promise.all(names.map(async (name) => [name, await super.getRecord(name)] as const)));
  }
  override async getSinkStates(names: readonly string[], sink: string) {
    const found = new Map<string, Record<string, unknown>>();
    for (const name of names) {
      const data = await super.getSinkState(name, sink);
      if (data) found.set(name, data);
    }
    return found;
  }
}

it('answers from what it read for those names, and asks the store for anything else', async () => {
  const store = new CountingStore();
  const put = await store.putCertificate('www', makeCertificate({ domains: ['a.example'] }), { directoryUrl: DIRECTORY, issuedAt: new Date() });
  await store.putRecord('www', { ...(await store.getRecord('www')), consecutiveFailures: 3 });
  await store.putSinkState('www', ARI_STATE_KEY, { serial: put.info.serial });
  await store.putSinkState('www', 'acm', { arn: 'x' });
  store.singles.length = 0;

  const view = await readAhead(store, ['www', 'api'], { sinkStates: [ARI_STATE_KEY] });
  expect((await view.peekCertificate('www'))?.info.serial).toBe(put.info.serial);
  expect(await view.peekCertificate('api')).toBeUndefined();
  expect((await view.getRecord('www')).consecutiveFailures).toBe(3);
  expect(await view.getSinkState('www', ARI_STATE_KEY)).toEqual({ serial: put.info.serial });
  expect(await view.getSinkState('api', ARI_STATE_KEY)).toBeUndefined();
  expect(store.singles).toEqual([]);

  // Not read ahead: another name, another entry, and everything else go to the store.
  expect(await view.getSinkState('www', 'acm')).toEqual({ arn: 'x' });
  expect(await view.peekCertificate('other')).toBeUndefined();
  expect((await view.getCertificate('www'))?.info.serial).toBe(put.info.serial);
  expect(store.singles).toEqual(['data www acm', 'peek other']);
  // Called on the store itself: a lock taken through the view is the store's lock.
  const lock = await view.lock();
  let second = false;
  const waiting = store.lock().then((l) => ((second = true), l));
  await new Promise((resolve) => setImmediate(resolve));
  expect(second).toBe(false);
  await lock.release();
  await (await waiting).release();
});

it("throws a damaged entry's error for that name, as the single read would", async () => {
  const store = new CountingStore();
  await store.putCertificate('www', makeCertificate({ domains: ['a.example'] }), { directoryUrl: DIRECTORY, issuedAt: new Date() });
  const damaged = new CertkeeperError('STATE_CORRUPT', 'stored certs/api/current is not valid JSON');
  store.peekCertificates = async () => new Map<string, CertificateSummary | CertkeeperError>([['api', damaged]]);
  const view = await readAhead(store, ['www', 'api'], { records: false });
  await expect(view.peekCertificate('api')).rejects.toBe(damaged);
  expect(await view.peekCertificate('www')).toBeUndefined(); // what the batch said
  expect(await view.getRecord('www')).toMatchObject({ consecutiveFailures: 0 }); // records not read ahead: the store's
  expect(store.singles).toEqual(['record www']);
});

it('renew plans a fleet with nothing due from batched reads, never one read per certificate', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-read-ahead-'));
  const names = Array.from({ length: 30 }, (_, i) => `c${i}`);
  const config = parseConfig(
    `
stateDir: ./state
acme: { directory: "${DIRECTORY}", email: ops@example.com }
dns: { corp: { type: exec, command: ["/bin/true"] } }
sinks: { reload: { type: exec, command: ["/bin/true"] } }
certificates:
${names.map((name) => `  - { name: ${name}, domains: [${name}.example.com], dns: corp, sinks: [reload] }`).join('\n')}
`,
    path.join(dir, 'certkeeper.yaml'),
    { env: {} },
  );
  const clock = new ManualClock('2026-11-22T00:00:00Z');
  const store = await openConfigStore(config, clock);
  const deps: EngineDeps = {
    config,
    store,
    clock,
    logger: silentLogger,
    issuer: async () => ({
      directoryUrl: DIRECTORY,
      issue: async (request) => ({
        material: makeCertificate({ domains: request.domains, notBefore: clock.now(), notAfter: new Date(clock.now().getTime() + 90 * DAY) }),
      }),
    }),
    dnsProvider: () => ({ name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} }),
    sink: () => ({ type: 'fake', name: 'reload', deploy: async () => ({}) }),
  };
  expect(await renew({}, deps)).toMatchObject({ succeeded: names.length });

  const storage = store.storage;
  const reads: string[] = [];
  const get = storage.get.bind(storage);
  const getMany = storage.getMany.bind(storage);
  storage.get = (key) => (reads.push(`get ${key}`), get(key));
  storage.getMany = (keys) => (reads.push(`getMany ${keys.length}`), getMany(keys));
  clock.advance(DAY);
  expect(await renew({}, deps)).toMatchObject({ succeeded: 0, failed: 0, skipped: names.length });
  expect(reads.filter((read) => read.startsWith('get ') && /^get certs\//.test(read))).toEqual([]);
  expect(reads.filter((read) => read.startsWith('getMany')).sort()).toEqual([`getMany ${names.length}`, `getMany ${names.length}`, `getMany ${names.length}`]);
});
