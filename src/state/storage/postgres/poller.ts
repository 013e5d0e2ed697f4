// `watch` for PostgreSQL, the poll half: while anyone watches, one small statement every
// interval asks for the rows written since it last looked, so a change whose NOTIFY was lost (a
// listening connection silently dead, a pooler in transaction mode, a write by a plain SQL
// client) is still reported within the interval. Every write takes its version from one sequence
// and `kv_by_version` indexes it (migration 2), deletions leave a tombstone with a version from
// the same sequence for a day; so the poll is an index range scan over what changed, never a
// read of every row, and returns the newest version there is as well.
//
// A version is taken before its write commits: a write may become visible after a newer one was
// already seen. Each poll therefore looks back to what was newest LAG_MS ago (past every
// statement's deadline), and skips versions it has reported already.

import type pg from 'pg';
import type { CertkeeperError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import type { StorageKey } from '../contract.js';
import { TOMBSTONE_RETENTION_HOURS } from './migrations/002-change-poll.js';
import { Subscribers } from './subscribers.js';

export interface PollerOptions {
  pool: pg.Pool;
  /** The schema, quoted. */
  q: string;
  /** This instance's writer token: its own writes (kv.writer) are not reported. */
  token: string;
  intervalMs: number;
  logger: Logger;
  /** Resolves once the schema is current (the poll reads what migration 2 added). */
  ready(): Promise<unknown>;
  error(action: string, error: unknown): CertkeeperError;
}

/** How far back each poll looks: longer than any write statement may run (its deadline is 15 s). */
export const LAG_MS = 30_000;
/** Changed rows one poll takes; past it every watcher is told to re-read everything instead. */
export const MAX_ROWS = 5_000;
/** A poller that has not looked for this long may have missed deletions whose tombstones are gone. */
const AWAY_MS = (TOMBSTONE_RETENTION_HOURS / 2) * 3_600_000;
/** A version larger than any: asked for, the poll returns only the newest version. */
const NO_ROWS = '9223372036854775807';

interface Mark {
  at: number;
  top: bigint;
}

/** The poll's statement; exported so a test can EXPLAIN exactly what runs. */
export function pollStatement(q: string, floor: string, token: string, prefixes: readonly string[], limit: number): { text: string; values: unknown[] } {
  // `_` is LIKE's one-character wildcard and may appear in keys (as in list()).
  const patterns = prefixes.map((prefix) => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  return {
    text: `SELECT top.v::text AS top, c.key, c.version::text AS version, c.removed
             FROM (SELECT greatest(coalesce((SELECT max(version) FROM ${q}.kv), 0), coalesce((SELECT max(version) FROM ${q}.kv_removed), 0)) AS v) AS top
             LEFT JOIN LATERAL (
               SELECT key, version, removed FROM (
                 SELECT key, version, false AS removed FROM ${q}.kv WHERE version > $1::bigint AND writer IS DISTINCT FROM $2 AND key LIKE ANY($3::text[])
                 UNION ALL
                 SELECT key, version, true AS removed FROM ${q}.kv_removed WHERE version > $1::bigint AND key LIKE ANY($3::text[])
               ) AS changed ORDER BY version LIMIT $4
             ) AS c ON true
            ORDER BY c.version`,
    values: [floor, token, patterns, limit],
  };
}

export class ChangePoller {
  private readonly subscribers: Subscribers;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private closed = false;
  /** The newest version when watching started (or after an overflow): nothing older is reported. */
  private start: bigint | undefined;
  /** The newest version at each recent poll, oldest first (see floor). */
  private marks: Mark[] = [];
  /** Versions above the floor already reported. */
  private readonly reported = new Set<bigint>();
  /** Keys this instance deleted lately, and when: their tombstones are its own writes. */
  private readonly ownDeletes = new Map<StorageKey, number>();
  private lastOkAt: number | undefined;
  private failing = false;

  constructor(private readonly options: PollerOptions) {
    this.subscribers = new Subscribers(options.logger);
  }

  subscribe(prefix: string, listener: (key: StorageKey) => void): () => void {
    const remove = this.subscribers.add(prefix, listener);
    if (this.subscribers.size === 1) this.schedule(0);
    return () => {
      remove();
      if (this.subscribers.size === 0) this.reset();
    };
  }

  /** Called before this instance deletes `key`, so its poll does not report the tombstone back to it. */
  noteOwnDelete(key: StorageKey): void {
    if (this.subscribers.size > 0) this.ownDeletes.set(key, now());
  }

  async close(): Promise<void> {
    this.closed = true;
    this.reset();
    await this.polling;
  }

  /** Polls once now (tests; the timer calls it otherwise). */
  poll(): Promise<void> {
    this.polling ??= this.pollOnce().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private schedule(ms: number): void {
    if (this.closed || this.timer || this.subscribers.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll().finally(() => this.schedule(this.options.intervalMs));
    }, ms);
    this.timer.unref(); // a hint: never the reason a process stays up
  }

  /** Nobody watches: the next watcher starts from scratch. */
  private reset(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.start = undefined;
    this.marks = [];
    this.reported.clear();
    this.ownDeletes.clear();
    this.lastOkAt = undefined;
  }

  /** The version each poll reads above: the newest one LAG_MS ago (a write may commit that long after taking its version). */
  private floor(at: number): bigint {
    let floor = this.start!;
    while (this.marks.length > 0 && this.marks[0]!.at <= at - LAG_MS) {
      const { top } = this.marks.shift()!;
      if (top > floor) floor = this.start = top;
    }
    for (const version of this.reported) if (version <= floor) this.reported.delete(version);
    return floor;
  }

  private async pollOnce(): Promise<void> {
    const { pool, q, token, logger } = this.options;
    const prefixes = this.subscribers.prefixes();
    if (this.closed || prefixes.length === 0) return;
    const at = now();
    const starting = this.start === undefined;
    const floor = starting ? NO_ROWS : this.floor(at).toString();
    let rows: { top: string; key: string | null; version: string | null; removed: boolean | null }[];
    try {
      await this.options.ready();
      const statement = pollStatement(q, floor, token, prefixes, MAX_ROWS + 1);
      rows = (await pool.query<{ top: string; key: string | null; version: string | null; removed: boolean | null }>(statement.text, statement.values)).rows;
    } catch (error) {
      if (this.closed) return;
      // Said once per outage: the store being down is reported by everything else as well.
      if (!this.failing)
        logger.warn({ err: this.options.error('poll for state changes', error).message }, 'state change poll failed; trying again at the next interval');
      this.failing = true;
      return;
    }
    if (this.closed || this.subscribers.size === 0) return;
    if (this.failing) logger.info('state change poll works again');
    this.failing = false;
    const top = BigInt(rows[0]?.top ?? '0');
    const away = this.lastOkAt !== undefined && at - this.lastOkAt > AWAY_MS;
    this.lastOkAt = at;
    if (starting || this.start === undefined) {
      this.start = top;
      return;
    }
    const changed = rows.filter((row) => row.key !== null && row.version !== null);
    if (changed.length > MAX_ROWS || away) {
      // More than one poll should carry, or away past the tombstones' day: everything is re-read.
      logger.info({ changed: changed.length, away }, 'state changes past what one poll reports; watchers re-read everything');
      this.start = top;
      this.marks = [];
      this.reported.clear();
      this.subscribers.deliverPrefixes();
      return;
    }
    this.marks.push({ at, top });
    for (const [key, when] of this.ownDeletes) if (when < at - 2 * LAG_MS - this.options.intervalMs) this.ownDeletes.delete(key);
    for (const row of changed) {
      const version = BigInt(row.version!);
      if (this.reported.has(version)) continue;
      this.reported.add(version);
      if (row.removed && this.ownDeletes.has(row.key!)) continue;
      this.subscribers.deliver(row.key!);
    }
  }
}

/** Milliseconds on a clock that only moves forward: the poll's pacing, not the agent's logic. */
function now(): number {
  return performance.now();
}
