// An agent whose encryption key is not the one the store's keys were sealed with must not take
// the certificates for damaged: it orders nothing and records nothing for the others to see.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { loadConfigFile } from '../../../src/config/load.js';
import type { EngineDeps } from '../../../src/engine/contracts.js';
import { renew } from '../../../src/engine/renew.js';
import { RepositoryStore } from '../../../src/state/repository-store.js';
import { aesGcmSealer } from '../../../src/state/seal.js';
import { FileStorage } from '../../../src/state/storage/file/index.js';
import { makeCertificate } from '../../helpers/certs.js';

it('refuses to run with a key that does not open the stored certificates, ordering nothing', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-sealed-'));
  const file = path.join(dir, 'certkeeper.yaml');
  writeFileSync(
    file,
    `stateDir: ./state\nacme: { directory: "https://ca.test/directory" }\ndns: { corp: { type: exec, command: ["/bin/true"] } }\nsinks: { web: { type: exec, command: ["/bin/true"] } }\ncertificates:\n  - { name: www, domains: [www.example.com], dns: corp, sinks: [web] }\n`,
  );
  const config = loadConfigFile(file, { env: {} });
  const storeWith = async (key: Buffer) =>
    new RepositoryStore({
      storage: await FileStorage.open({ dir: path.join(dir, 'state', 'store'), clock: systemClock }),
      clock: systemClock,
      localDir: path.join(dir, 'local'),
      sealer: aesGcmSealer(key),
      agentId: 'x',
    });
  const right = await storeWith(randomBytes(32));
  await right.putCertificate('www', makeCertificate({ domains: ['www.example.com'], days: 90 }), {
    directoryUrl: 'https://ca.test/directory',
    issuedAt: new Date(),
  });
  await right.ping(); // the first agent's first run marks the store with its key
  const before = await right.getRecord('www');

  let orders = 0;
  const wrong = await storeWith(randomBytes(32));
  const deps: EngineDeps = {
    config,
    store: wrong,
    clock: systemClock,
    logger: silentLogger,
    issuer: async () => ({
      directoryUrl: 'https://ca.test/directory',
      issue: async () => {
        orders++;
        throw new Error('must not order');
      },
    }),
    dnsProvider: () => ({ name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} }),
    sink: () => ({ name: 'web', type: 'fake', deploy: async () => ({}) }),
  };
  await expect(renew({ force: true, yes: true }, deps)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  expect(orders).toBe(0);
  expect(await right.getRecord('www')).toEqual(before);
  // An agent without any key is refused the same way.
  const keyless = new RepositoryStore({
    storage: await FileStorage.open({ dir: path.join(dir, 'state', 'store'), clock: systemClock }),
    clock: systemClock,
    localDir: path.join(dir, 'local2'),
    agentId: 'y',
  });
  await expect(renew({}, { ...deps, store: keyless })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('encryptionKeyFile') });
  expect(orders).toBe(0);
});
