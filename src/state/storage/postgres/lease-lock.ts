// Named locks as lease rows: `locks(name, holder, token, expires_at)`, with every expiry measured
// on the database server's clock. Taking is one INSERT ... ON CONFLICT DO UPDATE that succeeds
// only over a missing or expired row; the holder renews every ttl/3 (guarded by its token) and
// gives up (`lost`) once it has not renewed for ttl minus a margin, which is before anyone else
// can take the lease over (../lease-keeper.ts). Unlike session advisory locks these survive a reconnect and work
// through PgBouncer in transaction mode. The README beside this file has the partition story.

import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { Clock } from '../../../core/clock.js';
import { CertkeeperError, isAbortError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import type { LockOptions, StorageLock } from '../contract.js';
import { checkLockOptions, heldLock, keepLease, lostMarginMs } from '../lease-keeper.js';

export interface LeaseContext {
  pool: pg.Pool;
  /** The quoted `"schema".locks` table. */
  table: string;
  /** Who we are, as waiters see it. */
  holder: string;
  clock: Clock;
  logger: Logger;
  /** How often a waiter tries again (default 200 ms; sooner when the lease expires sooner). */
  pollMs: number;
  error(action: string, error: unknown): CertkeeperError;
  /** Told when a lock is released or lost, so close() knows what is still held. */
  forget(lock: StorageLock): void;
}

export { lostMarginMs };

export async function acquireLease(ctx: LeaseContext, name: string, options: LockOptions): Promise<StorageLock> {
  const { signal, ttlMs, waitMs } = options;
  checkLockOptions(options);
  const start = ctx.clock.now().getTime();
  const deadline = start + waitMs;
  let waiting = false;

  for (;;) {
    if (signal?.aborted) throw new CertkeeperError('CANCELLED', `cancelled while waiting for the lock ${name}`);
    const token = randomBytes(16).toString('hex');
    const sentAt = ctx.clock.now().getTime();
    let taken: pg.QueryResult<{ took_over: boolean }>;
    try {
      taken = await ctx.pool.query<{ took_over: boolean }>(
        `INSERT INTO ${ctx.table} AS l (name, holder, token, expires_at) VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = excluded.token, expires_at = excluded.expires_at, taken_at = now()
         WHERE l.expires_at < now()
         RETURNING (l.xmax::text <> '0') AS took_over`,
        [name, ctx.holder, token, ttlMs],
      );
    } catch (error) {
      throw ctx.error(`take the lock ${name}`, error);
    }
    const row = taken.rows[0];
    if (row) return holdLease(ctx, name, token, ttlMs, sentAt, row.took_over);

    let current: { holder: string; expires_in_ms: number } | undefined;
    try {
      const seen = await ctx.pool.query<{ holder: string; expires_in_ms: number }>(
        `SELECT holder, (extract(epoch FROM expires_at - now()) * 1000)::float8 AS expires_in_ms FROM ${ctx.table} WHERE name = $1`,
        [name],
      );
      current = seen.rows[0];
    } catch (error) {
      throw ctx.error(`look at the lock ${name}`, error);
    }
    if (!current) continue; // released between our two statements: try again at once

    if (!waiting) {
      waiting = true;
      options.onWait?.(current.holder);
    }
    const now = ctx.clock.now().getTime();
    if (now >= deadline) {
      throw new CertkeeperError('LOCK_TIMEOUT', `the lock ${name} is held by ${current.holder} (waited ${now - start} ms)`, {
        details: { lock: name, holder: current.holder },
      });
    }
    const untilExpiry = Math.max(1, Math.ceil(current.expires_in_ms) + 1);
    try {
      await ctx.clock.sleep(Math.min(ctx.pollMs, untilExpiry, deadline - now), signal);
    } catch (error) {
      if (isAbortError(error)) throw new CertkeeperError('CANCELLED', `cancelled while waiting for the lock ${name}`, { cause: error });
      throw error;
    }
  }
}

function holdLease(ctx: LeaseContext, name: string, token: string, ttlMs: number, takenAt: number, tookOver: boolean): StorageLock {
  const keeper = keepLease({
    name,
    ttlMs,
    takenAt,
    clock: ctx.clock,
    logger: ctx.logger,
    async renew(_sentAt, timeoutMs) {
      const renewed = await ctx.pool.query({
        text: `UPDATE ${ctx.table} SET expires_at = now() + $3 * interval '1 millisecond' WHERE name = $1 AND token = $2`,
        values: [name, token, ttlMs],
        query_timeout: timeoutMs,
      } as pg.QueryConfig);
      return renewed.rowCount === 0 ? 'gone' : 'renewed';
    },
    describeError: (error) => ctx.error(`renew the lock ${name}`, error).message,
  });
  return heldLock(keeper, { name, holder: ctx.holder, tookOver }, ctx.forget, async () => {
    try {
      await ctx.pool.query(`DELETE FROM ${ctx.table} WHERE name = $1 AND token = $2`, [name, token]);
    } catch (error) {
      // The lease then ends by itself at its expiry.
      throw ctx.error(`release the lock ${name}`, error);
    }
  });
}
