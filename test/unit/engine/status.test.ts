// `status` over a large fleet: rows are read in batches (peekCertificates, getRecords,
// getSinkStates), from the certificates' details and never their keys; issuer state is read once per pass.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { CertificateMaterial } from '../../../src/core/types.js';
import { loadConfigFile, type Config } from '../../../src/config/load.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import { READ_AHEAD_BATCH } from '../../../src/engine/read-ahead.js';
import { ARI_STATE_KEY } from '../../../src/engine/renewal-info.js';
import { statusRows } from '../../../src/engine/status.js';
import type { CertificateSummary } from '../../../src/state/contract.js';
import { rateLimitsIn } from '../../../src/state/issuer-state.js';
import { makeCertificate } from '../../helpers/certs.js';
import { MemoryStore } from '../../helpers/memory-store.js';

function fleetConfig(count: number): Config {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-status-'));
  const file = path.join(dir, 'certkeeper.yaml');
  const certs = Array.from({ length: count }, (_, i) => `  - { name: c${i}, domains: [c${i}.example.com], dns: corp, sinks: [reload] }`).join('\n');
  writeFileSync(
    file,
    `stateDir: ./state
acme: { directory: "https://ca.test/directory" }
dns: { corp: { type: exec, command: ["/bin/true"] } }
sinks: { reload: { type: exec, command: ["/bin/true"] } }
certificates:
${certs}
`,
  );
  return loadConfigFile(file, { env: {} });
}

/** A store counting its reads: the single ones, and the batch ones with their sizes. */
class CountingStore extends MemoryStore {
  readonly calls = { peekCertificate: 0, getCertificate: 0, getRecord: 0, getSinkState: 0, getIssuerState: 0 };
  readonly batches = { peekCertificates: [] as number[], getRecords: [] as number[], getSinkStates: [] as string[] };

  override peekCertificate(name: string) {
    this.calls.peekCertificate++;
    return super.peekCertificate(name);
  }
  override getCertificate(name: string) {
    this.calls.getCertificate++;
    return super.getCertificate(name);
  }
  override getRecord(name: string) {
    this.calls.getRecord++;
    return super.getRecord(name);
  }
  override getSinkState(cert: string, sink: string) {
    this.calls.getSinkState++;
    return super.getSinkState(cert, sink);
  }
  override getIssuerState(key: string) {
    this.calls.getIssuerState++;
    return super.getIssuerState(key);
  }
  // The batch reads answer from the same maps without going through the counted single reads.
  override async peekCertificates(names: readonly string[]) {
    this.batches.peekCertificates.push(names.length);
    const found = new Map<string, CertificateSummary | CertkeeperError>();
    for (const name of names) {
      const summary = await super.peekCertificate(name);
      if (summary) found.set(name, summary);
    }
    return found;
  }
  override async getRecords(names: readonly string[]) {
    this.batches.getRecords.push(names.length);
    return new Map(await Promise.all(names.map(async (name) => [name, await super.getRecord(name)] as const)));
  }
  override async getSinkStates(names: readonly string[], sink: string) {
    this.batches.getSinkStates.push(`${sink}:${names.length}`);
    const found = new Map<string, Record<string, unknown> | CertkeeperError>();
    for (const name of names) {
      const data = await super.getSinkState(name, sink);
      if (data) found.set(name, data);
    }
    return found;
  }
}

it('status reads its rows in batches (details, never the keys; records; ARI windows), not one read each', async () => {
  const count = READ_AHEAD_BATCH * 2 + 20;
  const config = fleetConfig(count);
  const store = new CountingStore();
  const material: CertificateMaterial = makeCertificate({ domains: ['c0.example.com'] });
  for (let i = 0; i < count; i += 2) await store.putCertificate(`c${i}`, material, { directoryUrl: 'https://ca.test/directory', issuedAt: new Date() });
  await store.putSinkState('c4', ARI_STATE_KEY, { serial: 'other' });

  const rows = await statusRows({ config, store, clock: systemClock, logger: silentLogger, rateLimits: rateLimitsIn(store) });

  expect(rows.map((row) => row.name)).toEqual(config.certificates.map((c) => c.name));
  expect(rows.filter((row) => row.serial !== null)).toHaveLength(count / 2);
  expect(rows.find((row) => row.name === 'c1')).toMatchObject({ serial: null, state: 'missing' });
  expect(store.batches.peekCertificates).toEqual([READ_AHEAD_BATCH, READ_AHEAD_BATCH, 20]);
  expect(store.batches.getRecords).toEqual([READ_AHEAD_BATCH, READ_AHEAD_BATCH, 20]);
  expect(store.batches.getSinkStates).toEqual([`${ARI_STATE_KEY}:${READ_AHEAD_BATCH}`, `${ARI_STATE_KEY}:${READ_AHEAD_BATCH}`, `${ARI_STATE_KEY}:20`]);
  expect(store.calls).toEqual({ peekCertificate: 0, getCertificate: 0, getRecord: 0, getSinkState: 0, getIssuerState: 1 }); // one issuer serves every row: read once per pass
});

it('reads only the named certificates when given some (the daemon after a batch)', async () => {
  const config = fleetConfig(10);
  const store = new CountingStore();
  const rows = await statusRows({ config, store, clock: systemClock, logger: silentLogger }, { certs: ['c7', 'c2'] });
  expect(rows.map((row) => row.name)).toEqual(['c2', 'c7']); // config order
  expect(store.batches.peekCertificates).toEqual([2]);
  expect(store.calls.peekCertificate).toBe(0);
});

it('a certificate whose details are damaged is shown as unreadable in its row only', async () => {
  const config = fleetConfig(3);
  const store = new CountingStore();
  const material: CertificateMaterial = makeCertificate({ domains: ['c0.example.com'] });
  for (const name of ['c0', 'c1', 'c2']) await store.putCertificate(name, material, { directoryUrl: 'https://ca.test/directory', issuedAt: new Date() });
  const damaged = new CertkeeperError('STATE_CORRUPT', 'stored certs/c1/current is not valid JSON');
  store.peekCertificates = async (names) => {
    const found = await CountingStore.prototype.peekCertificates.call(store, names);
    found.set('c1', damaged);
    return found;
  };
  const warnings: unknown[] = [];
  const logger = { ...silentLogger, warn: (fields: unknown) => void warnings.push(fields) };
  const rows = await statusRows({ config, store, clock: systemClock, logger });
  expect(rows.map((row) => row.serial === null)).toEqual([false, true, false]);
  expect(warnings).toEqual([{ cert: 'c1', err: String(damaged) }]);
});
