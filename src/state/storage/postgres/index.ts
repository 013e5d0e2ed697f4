// PostgresStorage: the storage contract on a PostgreSQL schema shared by every agent of a fleet.
// Values live in `kv` with a version from one sequence (compare-and-set is a guarded UPDATE or an
// INSERT ... ON CONFLICT DO NOTHING, so concurrent writers serialise on the row and exactly one
// wins), logs in `log` (indexed per subject, newest first), locks as lease rows (lease-lock.ts),
// change notices by NOTIFY in the writing statement itself (listener.ts) and a poll for what
// NOTIFY missed (poller.ts). Every statement has a deadline; every failure is a CertkeeperError
// without the password (connection.ts).

import { randomBytes } from 'node:crypto';
import os from 'node:os';
import pg from 'pg';
import { systemClock, type Clock } from '../../../core/clock.js';
import { CertkeeperError, isAbortError } from '../../../core/errors.js';
import { silentLogger, type Logger } from '../../../core/logger.js';
import { registerSecrets } from '../../../core/redaction.js';
import { assertStorageKey, DEFAULT_POLL_INTERVAL_MS } from '../contract.js';
import type { LockOptions, LogEntry, LogQuery, PutOptions, Storage, StorageKey, StorageLock, StoredValue } from '../contract.js';
import { resolveConnection, storageError, type PostgresConnectionOptions, type ResolvedConnection } from './connection.js';
import { acquireLease } from './lease-lock.js';
import { ChangeListener } from './listener.js';
import { migrate, quoteIdentifier, type MigrationResult } from './migrate.js';
import { ChangePoller } from './poller.js';

export type { SslMode } from './connection.js';

export interface PostgresStorageOptions extends PostgresConnectionOptions {
  /** The schema holding certkeeper's tables, created on first use (default `certkeeper`). */
  schema?: string;
  /** Who this agent is, shown to lock waiters (default: the host name). */
  agentId?: string;
  /** The TTL the repositories give their locks (the config's lockTtl), kept here for them (default 60 s). */
  lockTtlMs?: number;
  clock?: Clock;
  logger?: Logger;
  /** How often a lock waiter tries again (default 200 ms). */
  lockPollMs?: number;
  /** How often the idle LISTEN connection is checked (default 30 s). */
  listenerCheckMs?: number;
  /** How often a watcher polls for changes whose notice was lost (default 20 s). */
  pollIntervalMs?: number;
  /**
   * false: watch by polling alone, without a LISTEN connection (behind a pooler in transaction
   * mode LISTEN cannot work; tests stand in for a lost notice so). Default true.
   */
  listen?: boolean;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;
const VERSION = /^[0-9]{1,19}$/;
/** Keys per getMany statement. */
const GET_MANY_CHUNK = 1_000;

export class PostgresStorage implements Storage {
  readonly description: string;
  readonly schema: string;
  readonly lockTtlMs: number;
  private readonly connection: ResolvedConnection;
  private readonly pool: pg.Pool;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly holder: string;
  private readonly q: string;
  private readonly channel: string;
  /** Names this instance's writes in change notifications, so its own watchers skip them. */
  private readonly token = randomBytes(6).toString('hex');
  private readonly held = new Set<StorageLock>();
  private readonly listener: ChangeListener | undefined;
  private readonly poller: ChangePoller;
  private readonly options: PostgresStorageOptions;
  private migrated: Promise<MigrationResult> | undefined;
  private closed = false;

  constructor(options: PostgresStorageOptions) {
    this.schema = options.schema ?? 'certkeeper';
    if (!SCHEMA_NAME.test(this.schema)) {
      throw new CertkeeperError(
        'CONFIG_INVALID',
        `the PostgreSQL schema name ${JSON.stringify(this.schema)} must be lower-case letters, digits and _ (at most 48)`,
        { retryable: false },
      );
    }
    this.options = options;
    this.connection = resolveConnection(options);
    // Scrubbed here (storageError) where driver errors enter, and by every log line and error.
    registerSecrets(this.connection.secrets);
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.lockTtlMs = options.lockTtlMs ?? 60_000;
    this.holder = `${options.agentId ?? os.hostname()} (pid ${process.pid} on ${os.hostname()})`;
    this.q = quoteIdentifier(this.schema);
    this.channel = `certkeeper.${this.schema}`;
    this.description = `${this.connection.display} (schema ${this.schema})`;
    this.pool = new pg.Pool({
      ...this.connection.client,
      max: this.connection.poolSize,
      idleTimeoutMillis: 30_000,
      allowExitOnIdle: true, // a one-shot command exits without closing the store by hand
    });
    // An idle pooled connection that breaks (server restart) reports here; without a handler it
    // would crash the process. The pool drops it and opens a new one on demand.
    this.pool.on('error', (error) => this.logger.warn({ err: this.error('keep a connection', error).message }, 'a pooled PostgreSQL connection failed'));
    // The pool listens only while a connection is idle or running a pool.query: one held between
    // statements (a migration's transaction) that the server cuts would emit 'error' to nobody,
    // an uncaught exception. Every connection gets a listener of its own (debug: an idle one is
    // also reported by the pool above, and a held one's next statement fails loudly); releasing
    // it with that error drops it from the pool.
    this.pool.on('connect', (client) =>
      client.on('error', (error) => this.logger.debug({ err: this.error('keep a connection', error).message }, 'a PostgreSQL connection failed')),
    );
    this.listener =
      options.listen === false
        ? undefined
        : new ChangeListener({
            client: this.connection.client,
            channel: this.channel,
            clock: this.clock,
            logger: this.logger,
            checkEveryMs: options.listenerCheckMs,
            error: (action, error) => this.error(action, error),
            token: this.token,
          });
    this.poller = new ChangePoller({
      pool: this.pool,
      q: this.q,
      token: this.token,
      intervalMs: options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
      logger: this.logger,
      ready: () => this.migrate(),
      error: (action, error) => this.error(action, error),
    });
  }

  /** Brings the schema to this version (done on first use anyway); refuses a newer schema. */
  migrate(): Promise<MigrationResult> {
    this.migrated ??= migrate(this.pool, this.schema, this.holder).catch((error: unknown) => {
      this.migrated = undefined; // the next call tries again (the database may be back)
      throw this.error(`prepare the schema ${this.schema}`, error);
    });
    return this.migrated;
  }

  where(key: StorageKey): string {
    return `${this.description}: ${key}`;
  }

  async get(key: StorageKey): Promise<StoredValue | undefined> {
    assertStorageKey(key);
    const { rows } = await this.run(`read ${key}`, () =>
      this.pool.query<{ value: Buffer; version: string; modified_at: Date }>(
        `SELECT value, version::text AS version, modified_at FROM ${this.q}.kv WHERE key = $1`,
        [key],
      ),
    );
    const row = rows[0];
    if (!row) return undefined;
    return { value: new Uint8Array(row.value.buffer, row.value.byteOffset, row.value.byteLength), version: row.version, modifiedAt: row.modified_at };
  }

  async getMany(keys: readonly StorageKey[]): Promise<Map<StorageKey, StoredValue>> {
    const unique = [...new Set(keys)];
    for (const key of unique) assertStorageKey(key);
    const found = new Map<StorageKey, StoredValue>();
    // One statement per chunk (a primary-key lookup of each), instead of a round trip per key;
    // chunks keep each result small. The pool bounds how many run at once.
    const chunks: StorageKey[][] = [];
    for (let i = 0; i < unique.length; i += GET_MANY_CHUNK) chunks.push(unique.slice(i, i + GET_MANY_CHUNK));
    await Promise.all(
      chunks.map(async (chunk) => {
        const { rows } = await this.run(`read ${chunk.length} keys (${chunk[0]} ...)`, () =>
          this.pool.query<{ key: string; value: Buffer; version: string; modified_at: Date }>(
            `SELECT key, value, version::text AS version, modified_at FROM ${this.q}.kv WHERE key = ANY($1::text[])`,
            [chunk],
          ),
        );
        for (const row of rows) {
          found.set(row.key, {
            value: new Uint8Array(row.value.buffer, row.value.byteOffset, row.value.byteLength),
            version: row.version,
            modifiedAt: row.modified_at,
          });
        }
      }),
    );
    return found;
  }

  /** A change notification's payload: `<writer token> <key>` (the listener skips its own). */
  private notice(key: StorageKey): string {
    return `${this.token} ${key}`;
  }

  async put(key: StorageKey, value: Uint8Array, options: PutOptions = {}): Promise<string> {
    assertStorageKey(key);
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    const next = `nextval('${this.q}.kv_version'::regclass)`;
    const { ifVersion } = options;
    let text: string;
    let values: unknown[];
    if (ifVersion === undefined) {
      text = `INSERT INTO ${this.q}.kv (key, value, version, modified_at, writer) VALUES ($1, $2, ${next}, now(), $5)
              ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version, modified_at = excluded.modified_at, writer = excluded.writer
              RETURNING version::text AS version, pg_notify($3, $4)`;
      values = [key, bytes, this.channel, this.notice(key), this.token];
    } else if (ifVersion === null) {
      text = `INSERT INTO ${this.q}.kv (key, value, version, modified_at, writer) VALUES ($1, $2, ${next}, now(), $5)
              ON CONFLICT (key) DO NOTHING
              RETURNING version::text AS version, pg_notify($3, $4)`;
      values = [key, bytes, this.channel, this.notice(key), this.token];
    } else {
      if (!VERSION.test(ifVersion)) throw conflict(key, 'it changed since it was read');
      // Under READ COMMITTED a second writer with the same ifVersion waits for the first one's
      // row lock, then re-checks the version on the new row and updates nothing.
      text = `UPDATE ${this.q}.kv SET value = $2, version = ${next}, modified_at = now(), writer = $6 WHERE key = $1 AND version = $3::bigint
              RETURNING version::text AS version, pg_notify($4, $5)`;
      values = [key, bytes, ifVersion, this.channel, this.notice(key), this.token];
    }
    const { rows } = await this.run(`write ${key}`, () => this.pool.query<{ version: string }>(text, values));
    if (!rows[0]) throw conflict(key, ifVersion === null ? 'it exists already' : 'it changed since it was read');
    return rows[0].version;
  }

  async delete(key: StorageKey, options: { ifVersion?: string } = {}): Promise<boolean> {
    assertStorageKey(key);
    const { ifVersion } = options;
    if (ifVersion !== undefined && !VERSION.test(ifVersion)) throw conflict(key, 'it changed since it was read');
    const guarded = ifVersion !== undefined;
    this.poller.noteOwnDelete(key); // its tombstone is this instance's own write
    const result = await this.run(`delete ${key}`, () =>
      this.pool.query(
        `DELETE FROM ${this.q}.kv WHERE key = $1 ${guarded ? 'AND version = $4::bigint' : ''} RETURNING pg_notify($2, $3)`,
        guarded ? [key, this.channel, this.notice(key), ifVersion] : [key, this.channel, this.notice(key)],
      ),
    );
    if (guarded && result.rowCount === 0) throw conflict(key, 'it changed since it was read');
    return (result.rowCount ?? 0) > 0;
  }

  async list(prefix: string): Promise<StorageKey[]> {
    if (prefix !== '' && !prefix.endsWith('/')) throw new Error(`a list prefix ends with '/': ${prefix}`);
    if (prefix !== '') assertStorageKey(prefix.slice(0, -1));
    // `_` is LIKE's one-character wildcard and may appear in keys; with a "C" collation the
    // escaped prefix pattern is a range scan of the primary key.
    const pattern = `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const { rows } = await this.run(`list ${prefix || 'all keys'}`, () =>
      this.pool.query<{ key: string }>(`SELECT key FROM ${this.q}.kv WHERE key LIKE $1 ORDER BY key`, [pattern]),
    );
    return rows.map((row) => row.key);
  }

  async appendLog(log: string, entry: LogEntry): Promise<void> {
    assertLogName(log);
    if (!(entry.at instanceof Date) || Number.isNaN(entry.at.getTime())) throw new TypeError(`a log entry needs a valid date (log ${log})`);
    await this.run(`append to the log ${log}`, () =>
      this.pool.query(`INSERT INTO ${this.q}.log (log, at, subject, kind, body) VALUES ($1, $2, $3, $4, $5)`, [
        log,
        entry.at,
        entry.subject,
        entry.kind,
        entry.body,
      ]),
    );
  }

  async readLog(log: string, query: LogQuery = {}): Promise<LogEntry[]> {
    assertLogName(log);
    if (query.limit !== undefined && (!Number.isInteger(query.limit) || query.limit < 0))
      throw new RangeError(`a log limit is a whole number, not ${query.limit}`);
    if (query.limit === 0) return [];
    const statement = readLogStatement(this.q, log, query);
    const { rows } = await this.run(`read the log ${log}`, () =>
      this.pool.query<{ at: Date; subject: string; kind: string; body: string }>(statement.text, statement.values),
    );
    return rows.map((row) => ({ at: row.at, subject: row.subject, kind: row.kind, body: row.body }));
  }

  async lock(name: string, options: LockOptions): Promise<StorageLock> {
    assertStorageKey(name);
    this.assertOpen();
    await this.migrate();
    const lock = await acquireLease(
      {
        pool: this.pool,
        table: `${this.q}.locks`,
        holder: this.holder,
        clock: this.clock,
        logger: this.logger,
        pollMs: this.options.lockPollMs ?? 200,
        error: (action, error) => this.error(action, error),
        forget: (held) => this.held.delete(held),
      },
      name,
      options,
    );
    this.held.add(lock);
    return lock;
  }

  watch(prefix: string, listener: (key: StorageKey) => void): () => void {
    if (prefix !== '' && !prefix.endsWith('/')) throw new Error(`a watch prefix ends with '/': ${prefix}`);
    this.assertOpen();
    const stopListening = this.listener?.subscribe(prefix, listener);
    const stopPolling = this.poller.subscribe(prefix, listener);
    return () => {
      stopListening?.();
      stopPolling();
    };
  }

  async ping(signal?: AbortSignal): Promise<void> {
    this.assertOpen();
    const query = this.pool.query({ text: 'SELECT 1', query_timeout: 5_000 } as pg.QueryConfig);
    try {
      await (signal ? abortable(query, signal) : query);
    } catch (error) {
      if (isAbortError(error)) throw new CertkeeperError('CANCELLED', 'ping cancelled', { cause: error });
      const mapped = this.error('reach the database', error);
      // /readyz and `status` want one answer: whatever went wrong, the store is not usable.
      throw mapped.code === 'STATE_UNREACHABLE' ? mapped : new CertkeeperError('STATE_UNREACHABLE', mapped.message, { cause: mapped, details: mapped.details });
    }
  }

  /** Releases the locks still held (best effort), stops the listener, ends the pool. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const lock of [...this.held]) {
      await lock.release().catch((error: unknown) => this.logger.warn({ lock: lock.name, err: this.error('release', error).message }, 'lock left to expire'));
    }
    await this.listener?.close();
    await this.poller.close();
    await this.pool.end().catch(() => undefined);
  }

  // ---- internals ----

  private assertOpen(): void {
    if (this.closed) throw new CertkeeperError('STATE_IO', `the state store ${this.description} is closed`);
  }

  private async run<T>(action: string, step: () => Promise<T>): Promise<T> {
    this.assertOpen();
    await this.migrate();
    try {
      return await step();
    } catch (error) {
      throw this.error(action, error);
    }
  }

  private error(action: string, error: unknown): CertkeeperError {
    return storageError(action, error, this.connection.secrets);
  }
}

/** The readLog statement; exported so a test can EXPLAIN exactly what runs. */
export function readLogStatement(q: string, log: string, query: LogQuery): { text: string; values: unknown[] } {
  const values: unknown[] = [log];
  const where = ['log = $1'];
  if (query.subject !== undefined) where.push(`subject = $${values.push(query.subject)}`);
  if (query.kind !== undefined) where.push(`kind = $${values.push(query.kind)}`);
  const limit = query.limit === undefined ? '' : ` LIMIT $${values.push(query.limit)}`;
  return { text: `SELECT at, subject, kind, body FROM ${q}.log WHERE ${where.join(' AND ')} ORDER BY at DESC, id DESC${limit}`, values };
}

function assertLogName(log: string): void {
  assertStorageKey(log);
  if (log.includes('/')) throw new Error(`a log name is one segment: ${log}`);
}

function conflict(key: string, why: string): CertkeeperError {
  return new CertkeeperError('STATE_CONFLICT', `not written: ${key}: ${why}`);
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      const error = new Error('operation aborted');
      error.name = 'AbortError';
      reject(error);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
