// Keeping a lease that a store's lock holds (the PostgreSQL lease row, the Kubernetes Lease): the
// heartbeat renews it every ttl/3, and the watchdog gives up (`lost`) once it has not been renewed
// for ttl minus a margin, which is before any waiter can count it as expired. Each backend says
// only how one renewal is sent; what "held" means over time is the same for both.

import type { Clock } from '../../core/clock.js';
import { CertkeeperError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { LockOptions, StorageLock } from './contract.js';

/** The holder stops this long before its lease can expire: time to notice and stop writing. */
export function lostMarginMs(ttlMs: number): number {
  return Math.min(Math.floor(ttlMs / 4), 10_000);
}

/** A TTL too short to renew in time, or a negative wait, is a programming error. */
export function checkLockOptions({ ttlMs, waitMs }: Pick<LockOptions, 'ttlMs' | 'waitMs'>): void {
  if (!Number.isFinite(ttlMs) || ttlMs < 30) throw new RangeError(`a lock TTL must be at least 30 ms, not ${ttlMs}`);
  if (!(waitMs >= 0)) throw new RangeError(`a lock wait must be 0 or more ms, not ${waitMs}`);
}

export interface KeepLeaseOptions {
  /** The lock's name, for logs and errors. */
  name: string;
  ttlMs: number;
  /** When the request that took the lease was sent (the clock's ms). */
  takenAt: number;
  clock: Clock;
  logger: Logger;
  /**
   * One renewal, sent at `sentAt`, allowed `timeoutMs`: 'renewed' when the store confirmed it,
   * 'gone' when the lease is no longer ours (taken over). Throws on a failure worth retrying.
   */
  renew(sentAt: number, timeoutMs: number): Promise<'renewed' | 'gone'>;
  /** A failed renewal's text for the warning (redacted by the backend). */
  describeError(error: unknown): string;
}

export interface LeaseKeeper {
  /** Aborted (with a CertkeeperError) when the lease is lost. */
  readonly lost: AbortSignal;
  /** Stops renewing; resolves once no renewal can land any more. */
  stop(): Promise<void>;
}

export function keepLease(options: KeepLeaseOptions): LeaseKeeper {
  const { name, ttlMs, clock, logger } = options;
  const stopping = new AbortController();
  const lost = new AbortController();
  const margin = lostMarginMs(ttlMs);
  // When the last renewal that the store confirmed was SENT: its new expiry is at least that plus
  // ttl, so "now < renewedAt + ttl - margin" keeps us ahead of any taker.
  let renewedAt = options.takenAt;

  const lose = (reason: CertkeeperError): void => {
    if (lost.signal.aborted) return;
    logger.error({ lock: name, err: reason.message }, 'lock lost');
    lost.abort(reason);
    stopping.abort();
  };

  const heartbeat = (async (): Promise<void> => {
    const intervalMs = Math.max(1, Math.floor(ttlMs / 3));
    const timeoutMs = Math.max(1_000, intervalMs);
    while (!stopping.signal.aborted) {
      try {
        await clock.sleep(intervalMs, stopping.signal);
      } catch {
        return; // released or lost
      }
      const sentAt = clock.now().getTime();
      try {
        const result = await options.renew(sentAt, timeoutMs);
        if (stopping.signal.aborted) return;
        if (result === 'gone') {
          lose(new CertkeeperError('LOCK_TIMEOUT', `the lock ${name} was taken over by another agent (our lease had expired)`));
          return;
        }
        renewedAt = sentAt;
      } catch (error) {
        logger.warn({ lock: name, err: options.describeError(error) }, 'cannot renew lock; retrying');
      }
    }
  })();

  const watchdog = (async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      const left = renewedAt + ttlMs - margin - clock.now().getTime();
      if (left <= 0) {
        lose(new CertkeeperError('STATE_UNREACHABLE', `the lock ${name} could not be renewed for ${ttlMs - margin} ms; stopped before its lease can expire`));
        return;
      }
      try {
        await clock.sleep(left, stopping.signal);
      } catch {
        return;
      }
    }
  })();

  return {
    lost: lost.signal,
    async stop(): Promise<void> {
      stopping.abort();
      await Promise.all([heartbeat, watchdog]);
    },
  };
}

/** The held lock a backend hands out: `letGo` gives the lease back once no renewal can land. */
export function heldLock(
  keeper: LeaseKeeper,
  fields: Pick<StorageLock, 'name' | 'holder' | 'tookOver'>,
  forget: (lock: StorageLock) => void,
  letGo: () => Promise<void>,
): StorageLock {
  let released = false;
  const lock: StorageLock = {
    ...fields,
    lost: keeper.lost,
    async release(): Promise<void> {
      if (released) return;
      released = true;
      await keeper.stop(); // no renewal may land after the lease is given back
      forget(lock);
      await letGo();
    },
  };
  return lock;
}
