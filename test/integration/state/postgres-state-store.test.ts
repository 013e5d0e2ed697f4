// The StateStore contract (the same suite the file store passes) on the repositories over
// PostgreSQL, with private keys sealed: and the database holds no private key in clear.

import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { RepositoryStore } from '../../../src/state/repository-store.js';
import { aesGcmSealer } from '../../../src/state/seal.js';
import { PostgresStorage } from '../../../src/state/storage/postgres/index.js';
import { makeCertificate } from '../../helpers/certs.js';
import { startPostgres, type PostgresCluster } from '../../helpers/postgres.js';
import { stateStoreContract } from '../../unit/state/state-store-contract.js';

let cluster: PostgresCluster;
let schemas = 0;
beforeAll(async () => {
  cluster = await startPostgres();
});
afterAll(async () => {
  await cluster?.stop();
});

const sealKey = randomBytes(32);

async function openStore(schema: string, localDir: string, opened: PostgresStorage[]): Promise<RepositoryStore> {
  const storage = new PostgresStorage({ url: cluster.url, schema, agentId: `agent-${opened.length}` });
  opened.push(storage);
  return new RepositoryStore({ storage, clock: systemClock, localDir, sealer: aesGcmSealer(sealKey) });
}

stateStoreContract('repositories on PostgreSQL, keys sealed', async () => {
  const schema = `s${process.pid}_${++schemas}`;
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-pgstore-'));
  const opened: PostgresStorage[] = [];
  return {
    store: await openStore(schema, path.join(tmp, 'a'), opened),
    other: () => openStore(schema, path.join(tmp, 'b'), opened),
    async close() {
      for (const storage of opened) await storage.close();
      await fs.rm(tmp, { recursive: true, force: true });
    },
  };
});

describe('PostgreSQL state at rest', () => {
  it('holds no private key in clear when encryptionKeyFile is set, and hooks still get the key as a 0600 file', async () => {
    const schema = `s${process.pid}_${++schemas}`;
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-pgseal-'));
    const opened: PostgresStorage[] = [];
    try {
      const store = await openStore(schema, tmp, opened);
      const material = makeCertificate({ domains: ['a.example'] });
      await store.putAccount({ directoryUrl: 'https://acme.test/dir', email: null, accountUrl: null, keyPem: material.keyPem });
      const stored = await store.putCertificate('www', material, { directoryUrl: 'https://acme.test/dir', issuedAt: new Date() });
      const rows = await cluster.query<{ key: string; value: Buffer }>(`SELECT key, value FROM ${schema}.kv`);
      expect(rows.length).toBeGreaterThan(2);
      for (const row of rows) expect(row.value.toString('latin1')).not.toContain('PRIVATE KEY');
      expect(await fs.readFile(stored.paths.key, 'utf8')).toBe(material.keyPem);
      expect((await fs.stat(stored.paths.key)).mode & 0o777).toBe(0o600);
    } finally {
      for (const storage of opened) await storage.close();
      await fs.rm(tmp, { recursive: true, force: true });
    }
  });
});
