// The store failing under one certificate mid-run (a database gone): that certificate fails,
// the others finish, and the run reports the store error instead of rejecting as a whole.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { loadConfigFile } from '../../../src/config/load.js';
import { renew } from '../../../src/engine/renew.js';
import type { CertRecord } from '../../../src/state/contract.js';
import { makeCertificate } from '../../helpers/certs.js';
import { MemoryStore } from '../../helpers/memory-store.js';

class FailingRecordStore extends MemoryStore {
  override async putRecord(name: string, record: CertRecord): Promise<void> {
    if (name === 'broken') throw new CertkeeperError('STATE_UNREACHABLE', 'server closed the connection unexpectedly');
    return super.putRecord(name, record);
  }
}

it('fails only the certificate the store failed under, and says the store failed', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-store-fail-'));
  const file = path.join(dir, 'certkeeper.yaml');
  writeFileSync(
    file,
    `stateDir: ./state\nacme: { directory: "https://ca.test/directory" }\ndns: { corp: { type: exec, command: ["/bin/true"] } }\ncertificates:\n  - { name: broken, domains: [broken.example.com], dns: corp }\n  - { name: fine, domains: [fine.example.com], dns: corp }\n`,
  );
  const report = await renew(
    {},
    {
      config: loadConfigFile(file, { env: {} }),
      store: new FailingRecordStore(),
      clock: systemClock,
      logger: silentLogger,
      issuer: async () => ({
        directoryUrl: 'https://ca.test/directory',
        issue: async (request) => ({ material: makeCertificate({ domains: request.domains, days: 90 }) }),
      }),
      dnsProvider: () => ({ name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} }),
      sink: () => {
        throw new Error('no sinks');
      },
    },
  );
  expect(report.outcomes.map((o) => `${o.cert}:${o.result}`).sort()).toEqual(['broken:failure', 'fine:success']);
  expect(report.outcomes.find((o) => o.cert === 'broken')).toMatchObject({ code: 'STATE_UNREACHABLE' });
  expect(report.storeError).toMatchObject({ code: 'STATE_UNREACHABLE' });
});
