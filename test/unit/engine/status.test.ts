// `status` over a large fleet: rows are read a bounded number at a time, from the certificates'
// details (peekCertificate) and never their keys; issuer state is read once per pass.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { CertificateMaterial } from '../../../src/core/types.js';
import { loadConfigFile, type Config } from '../../../src/config/load.js';
import { STATUS_READ_CONCURRENCY, statusRows } from '../../../src/engine/status.js';
import { makeCertificate } from '../../helpers/certs.js';
import { MemoryStore } from '../../helpers/memory-store.js';

const COUNT = 120;

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

/** A store whose reads each take a turn of the event loop, counting how many are in flight at once. */
class CountingStore extends MemoryStore {
  inFlight = 0;
  maxInFlight = 0;
  readonly calls = { peekCertificate: 0, getCertificate: 0, getIssuerState: 0 };

  private async counted<T>(read: () => Promise<T>): Promise<T> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((resolve) => setImmediate(resolve));
      return await read();
    } finally {
      this.inFlight--;
    }
  }

  override peekCertificate(name: string) {
    this.calls.peekCertificate++;
    return this.counted(() => super.peekCertificate(name));
  }
  override getCertificate(name: string) {
    this.calls.getCertificate++;
    return this.counted(() => super.getCertificate(name));
  }
  override getRecord(name: string) {
    return this.counted(() => super.getRecord(name));
  }
  override getSinkState(cert: string, sink: string) {
    return this.counted(() => super.getSinkState(cert, sink));
  }
  override getIssuerState(key: string) {
    this.calls.getIssuerState++;
    return this.counted(() => super.getIssuerState(key));
  }
}

it('status read limit: reads at most STATUS_READ_CONCURRENCY rows at once, from peekCertificate, never the keys', async () => {
  const config = fleetConfig(COUNT);
  const store = new CountingStore();
  const material: CertificateMaterial = makeCertificate({ domains: ['c0.example.com'] });
  for (let i = 0; i < COUNT; i += 2) await store.putCertificate(`c${i}`, material, { directoryUrl: 'https://ca.test/directory', issuedAt: new Date() });

  const rows = await statusRows({ config, store, clock: systemClock, logger: silentLogger });

  expect(rows.map((row) => row.name)).toEqual(config.certificates.map((c) => c.name));
  expect(rows.filter((row) => row.serial !== null)).toHaveLength(COUNT / 2);
  expect(rows.find((row) => row.name === 'c1')).toMatchObject({ serial: null, state: 'missing' });
  expect(store.maxInFlight).toBe(STATUS_READ_CONCURRENCY); // bounded, and the bound is used
  expect(store.inFlight).toBe(0);
  expect(store.calls.peekCertificate).toBe(COUNT);
  expect(store.calls.getCertificate).toBe(0);
  expect(store.calls.getIssuerState).toBe(1); // one issuer serves every row: read once per pass
});

it('reads only the named certificates when given some (the daemon after a batch)', async () => {
  const config = fleetConfig(10);
  const store = new CountingStore();
  const rows = await statusRows({ config, store, clock: systemClock, logger: silentLogger }, { certs: ['c7', 'c2'] });
  expect(rows.map((row) => row.name)).toEqual(['c2', 'c7']); // config order
  expect(store.calls.peekCertificate).toBe(2);
});
