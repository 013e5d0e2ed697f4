// The PostgreSQL watch's poll (src/state/storage/postgres/poller.ts) against a real server: a
// change whose NOTIFY never reaches the watcher is still reported by the poll. The ways a notice
// goes missing: a write by a plain SQL client (no NOTIFY at all), a listening connection that
// died silently (its server process stopped: the socket stays open, nothing arrives), a write
// that commits after a newer one was already seen. Also: the poll reads through indexes, a
// schema of version 1 is brought up with its rows, and compare-and-set sees a plain SQL write.

import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isCertkeeperError } from '../../../src/core/errors.js';
import type { StorageKey } from '../../../src/state/storage/contract.js';
import { migrate } from '../../../src/state/storage/postgres/migrate.js';
import { initial } from '../../../src/state/storage/postgres/migrations/001-initial.js';
import { LATEST_VERSION } from '../../../src/state/storage/postgres/migrations/index.js';
import { PostgresStorage, type PostgresStorageOptions } from '../../../src/state/storage/postgres/index.js';
import { MAX_ROWS, pollStatement } from '../../../src/state/storage/postgres/poller.js';
import { startPostgres, type PostgresCluster } from '../../helpers/postgres.js';

let cluster: PostgresCluster;
let schemas = 0;
const open: PostgresStorage[] = [];

beforeAll(async () => {
  cluster = await startPostgres();
});
afterAll(async () => {
  for (const storage of open) await storage.close();
  await cluster?.stop();
});

const freshSchema = (): string => `p${process.pid}_${++schemas}`;
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function storage(schema: string, options: Partial<PostgresStorageOptions> = {}): PostgresStorage {
  const instance = new PostgresStorage({ url: cluster.url, schema, agentId: `agent-${schema}`, pollIntervalMs: 100, ...options });
  open.push(instance);
  return instance;
}

/** A watcher on certs/ and what it was told. */
function watching(instance: PostgresStorage): StorageKey[] {
  const seen: StorageKey[] = [];
  instance.watch('certs/', (key) => seen.push(key));
  return seen;
}

const wait = { timeout: 15_000, interval: 25 };

/** Writes `key` by `writer` until the watcher has it: its poll starts from the newest version it finds first. */
async function putUntilSeen(writer: PostgresStorage, key: StorageKey, seen: StorageKey[]): Promise<void> {
  await vi.waitFor(async () => {
    if (!seen.includes(key)) await writer.put(key, bytes('x'));
    expect(seen).toContain(key);
  }, wait);
}

describe('PostgreSQL watch: the poll finds what NOTIFY did not bring', { timeout: 60_000 }, () => {
  it('rows updated, inserted and deleted by a plain SQL client (no NOTIFY) are reported', async () => {
    const schema = freshSchema();
    const writer = storage(schema);
    const watcher = storage(schema);
    const seen = watching(watcher);
    await putUntilSeen(writer, 'certs/ready/current', seen);
    const times = (key: StorageKey): number => seen.filter((k) => k === key).length;

    await cluster.query(`INSERT INTO ${schema}.kv (key, value) VALUES ('certs/www/current', 'one'), ('certs/api/current', 'one')`);
    await vi.waitFor(() => expect([times('certs/www/current'), times('certs/api/current')]).toEqual([1, 1]), wait);
    await cluster.query(`UPDATE ${schema}.kv SET value = 'two' WHERE key = 'certs/www/current'`);
    await vi.waitFor(() => expect(times('certs/www/current')).toBe(2), wait);
    await cluster.query(`DELETE FROM ${schema}.kv WHERE key = 'certs/api/current'`);
    await vi.waitFor(() => expect(times('certs/api/current')).toBe(2), wait);
    // Each change once, however many polls went by.
    await putUntilSeen(writer, 'certs/marker', seen);
    expect([times('certs/www/current'), times('certs/api/current')]).toEqual([2, 2]);
  });

  it('a listening connection that died silently (its server process stopped): another agent’s write is still reported', async () => {
    const schema = freshSchema();
    const writer = storage(schema);
    // A long check interval: the dead connection is not found out while the test runs.
    const watcher = storage(schema, { listenerCheckMs: 600_000, pollIntervalMs: 500 });
    const seen = watching(watcher);
    await putUntilSeen(writer, 'certs/ready/current', seen);
    const [listening] = await cluster.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE query = $1`, [`LISTEN "certkeeper.${schema}"`]);
    expect(listening?.pid).toBeGreaterThan(0);
    execFileSync('kill', ['-STOP', String(listening!.pid)]);
    try {
      seen.length = 0;
      await writer.put('certs/www/current', bytes('renewed'));
      await vi.waitFor(() => expect(seen).toContain('certs/www/current'), wait);
      expect(seen).not.toContain('certs/'); // not a reconnect: the listener never noticed
    } finally {
      execFileSync('kill', ['-CONT', String(listening!.pid)]);
    }
  });

  it('a write that commits after a newer one was already seen is still reported', async () => {
    const schema = freshSchema();
    const writer = storage(schema);
    const watcher = storage(schema, { listen: false });
    const seen = watching(watcher);
    await putUntilSeen(writer, 'certs/ready/current', seen);

    const slow = new pg.Client({ connectionString: cluster.url });
    await slow.connect();
    try {
      await slow.query('BEGIN');
      // Takes its version now, commits later.
      await slow.query(`INSERT INTO ${schema}.kv (key, value) VALUES ('certs/late/current', 'x')`);
      await putUntilSeen(writer, 'certs/early/current', seen);
      const [late] = await cluster.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.kv WHERE key = 'certs/late/current'`);
      expect(late?.n).toBe(0);
      await slow.query('COMMIT');
      await vi.waitFor(() => expect(seen).toContain('certs/late/current'), wait);
    } finally {
      await slow.end();
    }
  });

  it('compare-and-set refuses a version a plain SQL client wrote over', async () => {
    const schema = freshSchema();
    const agent = storage(schema);
    const first = await agent.put('certs/www/record', bytes('one'));
    await cluster.query(`UPDATE ${schema}.kv SET value = 'by hand' WHERE key = 'certs/www/record'`);
    const error = await agent.put('certs/www/record', bytes('two'), { ifVersion: first }).catch((e: unknown) => e);
    expect(isCertkeeperError(error, 'STATE_CONFLICT')).toBe(true);
    expect(new TextDecoder().decode((await agent.get('certs/www/record'))?.value)).toBe('by hand');
  });

  it('a schema of version 1 is brought up with its rows: their versions still serve compare-and-set, and changes to them are reported', async () => {
    const schema = freshSchema();
    const setup = new pg.Pool({ connectionString: cluster.url });
    try {
      await migrate(setup, schema, 'test', [initial]);
      await setup.query(`INSERT INTO "${schema}".kv (key, value, version) VALUES ('certs/www/current', 'old', nextval('"${schema}".kv_version'))`);
    } finally {
      await setup.end();
    }
    const agent = storage(schema);
    const watcher = storage(schema, { listen: false });
    const before = await agent.get('certs/www/current');
    expect(await agent.migrate()).toEqual({ from: 1, to: LATEST_VERSION });
    const seen = watching(watcher);
    await putUntilSeen(agent, 'certs/ready/current', seen);
    await agent.put('certs/www/current', bytes('new'), { ifVersion: before!.version });
    await vi.waitFor(() => expect(seen).toContain('certs/www/current'), wait);
  });
});

describe('PostgreSQL watch: the poll at 10,000 certificates', () => {
  it('reads through indexes, never every row', async () => {
    const schema = freshSchema();
    const agent = storage(schema);
    await agent.migrate();
    // Five keys per certificate, as the repositories write them, then a day of deletions.
    await cluster.query(
      `INSERT INTO ${schema}.kv (key, value) SELECT 'certs/c' || n || '/' || k, 'x' FROM generate_series(1, 10000) AS n, unnest(ARRAY['current', 'record', 'meta', 'data/ari', 'archive/1']) AS k`,
    );
    await cluster.query(`DELETE FROM ${schema}.kv WHERE key LIKE 'certs/c%/archive/1'`);
    await cluster.query(`ANALYZE ${schema}.kv`);
    await cluster.query(`ANALYZE ${schema}.kv_removed`);
    const [{ top } = { top: '0' }] = await cluster.query<{ top: string }>(`SELECT max(version)::text AS top FROM ${schema}.kv_removed`);
    const statement = pollStatement(`"${schema}"`, String(BigInt(top) - 10n), 'token', ['certs/'], MAX_ROWS + 1);
    const rows = await cluster.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${statement.text}`, statement.values);
    const plan = rows.map((row) => row['QUERY PLAN']).join('\n');
    expect(plan).toMatch(/Index (Only )?Scan( Backward)? using kv_by_version/);
    expect(plan).toMatch(/Index (Only )?Scan( Backward)? using kv_removed_pkey/);
    expect(plan).not.toMatch(/Seq Scan/);
    const found = await cluster.query<{ key: string | null }>(statement.text, statement.values);
    expect(found.map((row) => row.key)).toHaveLength(10);
  });
});
