// PostgresStorage against a real PostgreSQL (a throw-away cluster, test/helpers/postgres.ts): the
// shared storage contract suite, then what only this backend has: migrations racing and refusing
// a newer schema, the server restarted or gone under a running agent, and the log index at
// 100,000 rows.

import net from 'node:net';
import type pg from 'pg';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../../src/core/clock.js';
import { describeError, isCertkeeperError, type CertkeeperError } from '../../../src/core/errors.js';
import type { Storage, StorageKey } from '../../../src/state/storage/contract.js';
import { PostgresStorage, readLogStatement, type PostgresStorageOptions } from '../../../src/state/storage/postgres/index.js';
import { LATEST_VERSION, MIGRATIONS } from '../../../src/state/storage/postgres/migrations/index.js';
import { startPostgres, type PostgresCluster } from '../../helpers/postgres.js';
import { describeStorageContract } from '../../unit/state/storage-contract.js';

let cluster: PostgresCluster;
let schemas = 0;

beforeAll(async () => {
  cluster = await startPostgres();
});
afterAll(async () => {
  await cluster?.stop();
});

const freshSchema = (): string => `t${process.pid}_${++schemas}`;

function storage(schema: string, options: Partial<PostgresStorageOptions> = {}): PostgresStorage {
  return new PostgresStorage({ url: cluster.url, schema, agentId: `agent-${schema}`, lockPollMs: 50, ...options });
}

/** A clock whose waits never end: the holder's renewals stop as a frozen or killed process's would. */
const frozenClock: Clock = {
  now: () => new Date(),
  sleep: (_ms, signal) =>
    new Promise((_resolve, reject) => {
      signal?.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })), { once: true });
    }),
};

async function rejection(promise: Promise<unknown>): Promise<CertkeeperError> {
  try {
    await promise;
  } catch (error) {
    if (isCertkeeperError(error)) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describeStorageContract('PostgreSQL', async () => {
  const schema = freshSchema();
  const dead: Storage[] = [];
  return {
    open: async () => storage(schema),
    openPollingOnly: async (pollIntervalMs) => storage(schema, { pollIntervalMs, listen: false }),
    async takeLockAndDie(name, ttlMs) {
      const doomed = storage(schema, { clock: frozenClock, agentId: 'doomed' });
      dead.push(doomed);
      await doomed.lock(name, { ttlMs, waitMs: 0 });
    },
    async dispose() {
      for (const instance of dead) await instance.close();
    },
  };
});

describe('PostgresStorage connections and leases', () => {
  it('connects over a unix socket given as ?host=', async () => {
    const agent = new PostgresStorage({
      url: `postgres://${cluster.user}@/postgres?host=${encodeURIComponent(cluster.socketDir)}&port=${cluster.port}`,
      schema: freshSchema(),
    });
    try {
      expect(agent.description).toBe(`postgres://${cluster.user}@[${cluster.socketDir}]:${cluster.port}/postgres (schema ${agent.schema})`);
      await agent.put('certs/www', new Uint8Array([7]));
      expect((await agent.get('certs/www'))?.value).toEqual(new Uint8Array([7]));
    } finally {
      await agent.close();
    }
  });

  it('keeps the lease on the server clock and gives the lock up (lost) when a renewal finds it is no longer ours', async () => {
    const schema = freshSchema();
    const agent = storage(schema);
    try {
      const held = await agent.lock('certs/www', { ttlMs: 900, waitMs: 0 });
      const [row] = await cluster.query<{ holder: string; left_ms: number }>(
        `SELECT holder, extract(epoch FROM expires_at - now()) * 1000 AS left_ms FROM ${schema}.locks WHERE name = 'certs/www'`,
      );
      expect(row?.holder).toBe(held.holder);
      expect(Number(row?.left_ms)).toBeGreaterThan(0);
      expect(Number(row?.left_ms)).toBeLessThanOrEqual(900);

      await cluster.query(`UPDATE ${schema}.locks SET token = 'someone-else' WHERE name = 'certs/www'`);
      await vi.waitFor(() => expect(held.lost.aborted).toBe(true), { timeout: 10_000, interval: 20 });
      expect((held.lost.reason as CertkeeperError).code).toBe('LOCK_TIMEOUT');
      await held.release(); // not ours any more: the row stays
      expect(await cluster.query(`SELECT token FROM ${schema}.locks`)).toEqual([{ token: 'someone-else' }]);
    } finally {
      await agent.close();
    }
  });
});

describe('PostgresStorage migrations', () => {
  it('agents starting together on an empty database apply each version once', async () => {
    const schema = freshSchema();
    const agents = Array.from({ length: 5 }, () => storage(schema));
    try {
      await Promise.all(agents.map((agent, n) => agent.put(`agents/${n}`, new Uint8Array([n]))));
      // Each agent's own migration outcome: one applied every version, the others found it done.
      const outcomes = await Promise.all(agents.map((agent) => agent.migrate()));
      expect(outcomes.filter((o) => o.from === 0)).toEqual([{ from: 0, to: LATEST_VERSION }]);
      expect(outcomes.filter((o) => o.from === LATEST_VERSION)).toHaveLength(4);
      const versions = await cluster.query<{ version: number }>(`SELECT version FROM ${schema}.schema_version ORDER BY version`);
      expect(versions).toEqual(MIGRATIONS.map((m) => ({ version: m.version })));
      expect(await agents[0]!.list('agents/')).toEqual(['agents/0', 'agents/1', 'agents/2', 'agents/3', 'agents/4']);
    } finally {
      for (const agent of agents) await agent.close();
    }
  });

  it('refuses a schema newer than it knows, saying so', async () => {
    const schema = freshSchema();
    const first = storage(schema);
    await first.put('certs/www', new Uint8Array([1]));
    await first.close();
    await cluster.query(`INSERT INTO ${schema}.schema_version (version, description, applied_by) VALUES (99, 'from the future', 'test')`);

    const older = storage(schema);
    try {
      const error = await rejection(older.get('certs/www'));
      expect(error.code).toBe('STATE_IO');
      expect(error.retryable).toBe(false);
      expect(error.message).toMatch(new RegExp(`schema "${schema}" is at version 99, newer than this certkeeper knows \\(up to ${LATEST_VERSION}\\)`));
      expect((await rejection(older.lock('certs/www', { ttlMs: 1_000, waitMs: 0 }))).code).toBe('STATE_IO');
      // Nothing was written over it.
      expect(await cluster.query(`SELECT max(version) AS v FROM ${schema}.schema_version`)).toEqual([{ v: 99 }]);
    } finally {
      await older.close();
    }
  });
});

describe('PostgresStorage when the server goes away', () => {
  it('a pooled connection cut while an operation holds it is reported, never thrown at the process', async () => {
    const agent = storage(freshSchema());
    try {
      await agent.ping();
      // The store's own pool, as a migration or a query holds a connection: checked out, idle.
      const pool = (agent as unknown as { pool: pg.Pool }).pool;
      const held = await pool.connect();
      const pid = (held as unknown as { processID: number }).processID;
      // The server ends that one session (as a restart or a failover does): pg emits 'error' on
      // the client, which without a listener would be an uncaught exception ending the daemon.
      await cluster.query('SELECT pg_terminate_backend($1)', [pid]);
      await vi.waitFor(() => expect((held as unknown as { _ended: boolean })._ended).toBe(true), { timeout: 10_000, interval: 50 });
      held.release(true);
      await expect(agent.ping()).resolves.toBeUndefined();
    } finally {
      await agent.close();
    }
  });

  it('a watcher resumes after a server restart (told to re-read), and ping recovers', async () => {
    const schema = freshSchema();
    const writer = storage(schema);
    const watcher = storage(schema);
    const seen: StorageKey[] = [];
    const unwatch = watcher.watch('certs/', (key) => seen.push(key));
    try {
      await vi.waitFor(
        async () => {
          await writer.put('certs/before', new Uint8Array([1]));
          expect(seen).toContain('certs/before');
        },
        { timeout: 10_000, interval: 100 },
      );

      await cluster.restart();
      // Notices sent while it was away are gone: the watcher gets its prefix back as "re-read".
      await vi.waitFor(() => expect(seen).toContain('certs/'), { timeout: 20_000, interval: 50 });
      await vi.waitFor(
        async () => {
          await writer.put('certs/after', new Uint8Array([2])).catch(() => undefined); // the first use of a cut pooled connection may fail
          expect(seen).toContain('certs/after');
        },
        { timeout: 20_000, interval: 100 },
      );
      await expect(writer.ping()).resolves.toBeUndefined();
      await expect(watcher.ping()).resolves.toBeUndefined();
    } finally {
      unwatch();
      await writer.close();
      await watcher.close();
    }
  });

  it('with the server down: ping and get reject STATE_UNREACHABLE promptly, without the password; a held lock is given up before its lease ends; all recovers', async () => {
    const schema = freshSchema();
    const agent = storage(schema, { connectTimeoutMs: 2_000 });
    const other = storage(schema);
    try {
      await agent.put('certs/www', new Uint8Array([1]));
      const held = await agent.lock('certs/www', { ttlMs: 3_000, waitMs: 0 });

      await cluster.stopServer();
      const downAt = Date.now();
      try {
        let started = Date.now();
        const pingError = await rejection(agent.ping());
        console.log(`ping with the server down rejected after ${Date.now() - started} ms: ${pingError.message}`);
        started = Date.now();
        const getError = await rejection(agent.get('certs/www'));
        console.log(`get with the server down rejected after ${Date.now() - started} ms: ${getError.message}`);
        for (const error of [pingError, getError]) {
          expect(error.code).toBe('STATE_UNREACHABLE');
          expect(error.retryable).toBe(true);
          for (const shown of [error.message, describeError(error), inspect(error, { depth: 10 }), JSON.stringify(error)])
            expect(shown).not.toContain(cluster.password);
        }

        // The holder cannot renew: it must stop (lost) before the lease can expire on the server.
        await vi.waitFor(() => expect(held.lost.aborted).toBe(true), { timeout: 15_000, interval: 20 });
        console.log(`lock lost ${Date.now() - downAt} ms after the server went down (ttl 3000 ms)`);
        expect((held.lost.reason as CertkeeperError).code).toBe('STATE_UNREACHABLE');
      } finally {
        await cluster.startServer();
      }

      await vi.waitFor(() => agent.ping(), { timeout: 20_000, interval: 100 });
      expect((await agent.get('certs/www'))?.value).toEqual(new Uint8Array([1]));
      const taken = await other.lock('certs/www', { ttlMs: 3_000, waitMs: 20_000 });
      expect(taken.tookOver).toBe(true);
      await held.release(); // its token is no longer the row's: leaves the new holder alone
      expect((await rejection(agent.lock('certs/www', { ttlMs: 3_000, waitMs: 0 }))).code).toBe('LOCK_TIMEOUT');
      await taken.release();
    } finally {
      await agent.close();
      await other.close();
    }
  });

  it('a server that accepts connections and never answers: ping and get reject STATE_UNREACHABLE after the connect timeout', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket)); // accepts, then says nothing
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const agent = new PostgresStorage({
      url: `postgres://certkeeper:${cluster.password}@127.0.0.1:${port}/postgres`,
      schema: freshSchema(),
      connectTimeoutMs: 500,
    });
    try {
      for (const [what, attempt] of [
        ['ping', () => agent.ping()],
        ['get', () => agent.get('certs/www')],
      ] as const) {
        const started = Date.now();
        const error = await rejection(attempt());
        console.log(`${what} against a silent server rejected after ${Date.now() - started} ms (connect timeout 500 ms): ${error.message}`);
        expect(error.code).toBe('STATE_UNREACHABLE');
        expect(inspect(error, { depth: 10 })).not.toContain(cluster.password);
      }
    } finally {
      await agent.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('a wrong password is STATE_IO naming the cause, never the password', async () => {
    const url = new URL(cluster.url);
    url.password = 'Wrong-Secret-123';
    const agent = new PostgresStorage({ url: url.toString(), schema: freshSchema() });
    try {
      const error = await rejection(agent.get('certs/www'));
      expect(error.code).toBe('STATE_IO');
      expect(error.details).toEqual({ sqlState: '28P01' });
      expect(error.message).toMatch(/password authentication failed/);
      for (const shown of [error.message, describeError(error), inspect(error, { depth: 10 })]) expect(shown).not.toContain('Wrong-Secret-123');
      expect((await rejection(agent.ping())).code).toBe('STATE_UNREACHABLE');
    } finally {
      await agent.close();
    }
  });
});

describe('PostgresStorage logs at size', () => {
  it('reads one subject newest first from 100,000 rows through the index', async () => {
    const schema = freshSchema();
    const agent = storage(schema);
    try {
      await agent.migrate();
      // 1,000 certificates × 100 entries, one a minute each, written in one statement.
      await cluster.query(
        `INSERT INTO ${schema}.log (log, at, subject, kind, body)
         SELECT 'history', timestamptz '2026-01-01 00:00:00+00' + n * interval '1 minute', 'cert-' || (n % 1000), CASE WHEN n % 7 = 0 THEN 'dry-run' ELSE 'renewal' END, '{"n":' || n || '}'
         FROM generate_series(1, 100000) AS n`,
      );
      await cluster.query(`ANALYZE ${schema}.log`);

      const started = performance.now();
      const entries = await agent.readLog('history', { subject: 'cert-42', limit: 50 });
      const firstMs = performance.now() - started;
      const runs: number[] = [];
      for (let run = 0; run < 5; run++) {
        const t = performance.now();
        await agent.readLog('history', { subject: `cert-${run * 100 + 7}`, limit: 50 });
        runs.push(performance.now() - t);
      }
      console.log(`readLog(subject, limit 50) over 100,000 rows: first ${firstMs.toFixed(1)} ms, then ${runs.map((ms) => ms.toFixed(1)).join(', ')} ms`);

      expect(entries).toHaveLength(50);
      const ns = entries.map((e) => (JSON.parse(e.body) as { n: number }).n);
      expect(ns[0]).toBe(99_042);
      expect(ns).toEqual([...ns].sort((x, y) => y - x));
      expect(entries.every((e) => e.subject === 'cert-42')).toBe(true);

      const plan = async (query: { subject?: string; limit?: number }): Promise<string> => {
        const statement = readLogStatement(`"${schema}"`, 'history', query);
        const rows = await cluster.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${statement.text}`, statement.values);
        return rows.map((row) => row['QUERY PLAN']).join('\n');
      };
      const bySubject = await plan({ subject: 'cert-42', limit: 50 });
      expect(bySubject).toMatch(/Index Scan using log_by_subject/);
      expect(bySubject).not.toMatch(/Sort|Seq Scan/);
      const newest = await plan({ limit: 50 });
      expect(newest).toMatch(/Index Scan using log_by_time/);
      expect(newest).not.toMatch(/Sort|Seq Scan/);
    } finally {
      await agent.close();
    }
  });
});
