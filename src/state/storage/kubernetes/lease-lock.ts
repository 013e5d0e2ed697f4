// Named locks as coordination.k8s.io/v1 Leases, with the semantics of `ha.kubernetes`: every
// write guarded by the resourceVersion that was read, and expiry judged on the waiter's own clock
// (a lease is expired when its resourceVersion has not changed for its duration since this agent
// first saw it), so agents' clocks never need to agree. The holder renews every ttl/3 and gives
// up (`lost`) before anyone could count the lease as expired; release empties holderIdentity
// (no delete verb needed). The lease's exact TTL in ms rides in an annotation, as
// leaseDurationSeconds is whole seconds.

import { randomBytes } from 'node:crypto';
import type { V1Lease } from '@kubernetes/client-node';
import type { Clock } from '../../../core/clock.js';
import { CertkeeperError, isAbortError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import type { LockOptions, StorageLock } from '../contract.js';
import { checkLockOptions, heldLock, keepLease } from '../lease-keeper.js';
import type { KubeApi } from './api.js';
import { MANAGED_BY, STORE_LABEL } from './objects.js';

const TOKEN = 'certkeeper.io/lock-token';
const TTL_MS = 'certkeeper.io/ttl-ms';
const LOCK_NAME = 'certkeeper.io/lock';

export interface LeaseContext {
  api: KubeApi;
  prefix: string;
  holder: string;
  clock: Clock;
  logger: Logger;
  pollMs: number;
  /** V1MicroTime of the loaded client library (six fractional digits, as the API server wants). */
  microTime: new (value: number) => Date;
  forget(lock: StorageLock): void;
}

export async function acquireLease(ctx: LeaseContext, leaseName: string, lockName: string, options: LockOptions): Promise<StorageLock> {
  const { signal, ttlMs, waitMs } = options;
  checkLockOptions(options);
  const start = ctx.clock.now().getTime();
  const deadline = start + waitMs;
  let waiting = false;
  /** When this agent first saw the lease at its current resourceVersion (client-go's observedTime). */
  let observed: { version: string; at: number } | undefined;

  for (;;) {
    if (signal?.aborted) throw new CertkeeperError('CANCELLED', `cancelled while waiting for the lock ${lockName}`);
    const token = randomBytes(16).toString('hex');
    const sentAt = ctx.clock.now().getTime();
    const current = await ctx.api.readLease(leaseName);
    if (!current) {
      const created = await ctx.api.createLease(leaseBody(ctx, leaseName, lockName, token, ttlMs, sentAt, undefined));
      if (created !== 'conflict') return holdLease(ctx, leaseName, lockName, token, ttlMs, sentAt, created, false);
      continue; // another agent created it first: look at theirs
    }
    const version = current.metadata?.resourceVersion ?? '';
    const now = ctx.clock.now().getTime();
    if (observed?.version !== version) observed = { version, at: now };
    const holderText = current.spec?.holderIdentity ?? '';
    const free = holderText === '';
    const theirTtl = Number(current.metadata?.annotations?.[TTL_MS]) || (current.spec?.leaseDurationSeconds ?? 15) * 1000;
    const expired = observed.at + theirTtl <= now;
    if (free || expired) {
      const body = leaseBody(ctx, leaseName, lockName, token, ttlMs, sentAt, current);
      const replaced = await ctx.api.replaceLease({ ...body, metadata: { ...body.metadata, resourceVersion: version } });
      if (replaced !== 'conflict') {
        if (!free) ctx.logger.warn({ lock: lockName, previous: holderText }, 'lock lease expired; taken over');
        return holdLease(ctx, leaseName, lockName, token, ttlMs, sentAt, replaced, !free);
      }
      continue; // someone else wrote first: re-read
    }
    if (!waiting) {
      waiting = true;
      options.onWait?.(holderText);
    }
    if (now >= deadline) {
      throw new CertkeeperError('LOCK_TIMEOUT', `the lock ${lockName} is held by ${holderText} (waited ${now - start} ms)`, {
        details: { lock: lockName, holder: holderText },
      });
    }
    const untilExpiry = Math.max(1, observed.at + theirTtl - now + 1);
    try {
      await ctx.clock.sleep(Math.min(ctx.pollMs, untilExpiry, deadline - now), signal);
    } catch (error) {
      if (isAbortError(error)) throw new CertkeeperError('CANCELLED', `cancelled while waiting for the lock ${lockName}`, { cause: error });
      throw error;
    }
  }
}

function leaseBody(
  ctx: LeaseContext,
  leaseName: string,
  lockName: string,
  token: string,
  ttlMs: number,
  at: number,
  previous: V1Lease | undefined,
): V1Lease & { metadata: { name: string } } {
  return {
    metadata: {
      name: leaseName,
      labels: { [MANAGED_BY]: 'certkeeper', [STORE_LABEL]: ctx.prefix },
      annotations: { [TOKEN]: token, [TTL_MS]: String(ttlMs), [LOCK_NAME]: lockName },
    },
    spec: {
      holderIdentity: ctx.holder,
      leaseDurationSeconds: Math.max(1, Math.ceil(ttlMs / 1000)),
      acquireTime: new ctx.microTime(at),
      renewTime: new ctx.microTime(at),
      leaseTransitions: (previous?.spec?.leaseTransitions ?? -1) + 1,
    },
  };
}

/** A lease's spec with some fields changed; times written again as MicroTime (the library reads them back as Dates). */
function respec(ctx: LeaseContext, lease: V1Lease, change: { renewTime?: number; holderIdentity?: string }): V1Lease['spec'] {
  const time = (value: unknown): Date | undefined => {
    const ms = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : NaN;
    return Number.isNaN(ms) ? undefined : new ctx.microTime(ms);
  };
  const acquireTime = time(lease.spec?.acquireTime);
  const renewTime = change.renewTime !== undefined ? new ctx.microTime(change.renewTime) : time(lease.spec?.renewTime);
  return {
    holderIdentity: change.holderIdentity ?? lease.spec?.holderIdentity ?? '',
    leaseDurationSeconds: lease.spec?.leaseDurationSeconds ?? 1,
    leaseTransitions: lease.spec?.leaseTransitions ?? 0,
    ...(acquireTime ? { acquireTime } : {}),
    ...(renewTime ? { renewTime } : {}),
  };
}

function holdLease(
  ctx: LeaseContext,
  leaseName: string,
  lockName: string,
  token: string,
  ttlMs: number,
  takenAt: number,
  taken: V1Lease,
  tookOver: boolean,
): StorageLock {
  const { api } = ctx;
  let lease = taken;

  /** One renewal: update over the lease as last seen; on a conflict re-read once and go on if it is still ours. */
  const renew = async (sentAt: number): Promise<'renewed' | 'gone'> => {
    for (let round = 0; round < 3; round++) {
      if (lease.metadata?.annotations?.[TOKEN] !== token) return 'gone';
      const body = {
        metadata: { ...lease.metadata!, name: leaseName, resourceVersion: lease.metadata?.resourceVersion ?? '' },
        spec: respec(ctx, lease, { renewTime: sentAt }),
      };
      const written = await api.replaceLease(body);
      if (written !== 'conflict') {
        lease = written;
        return 'renewed';
      }
      const seen = await api.readLease(leaseName);
      if (!seen) return 'gone';
      lease = seen;
    }
    throw new CertkeeperError('STATE_CONFLICT', `the Lease of ${lockName} kept changing under its holder`);
  };
  // A waiter starts counting the TTL no earlier than it saw our last write, so the keeper's
  // "renewed at the send time" rule keeps us ahead on the waiter's clock too.
  const keeper = keepLease({
    name: lockName,
    ttlMs,
    takenAt,
    clock: ctx.clock,
    logger: ctx.logger,
    renew,
    describeError: (error) => (error instanceof Error ? error.message : String(error)),
  });

  return heldLock(keeper, { name: lockName, holder: ctx.holder, tookOver }, ctx.forget, async () => {
    // Empty the holder, only over a lease still ours; a conflict is re-read and tried again.
    for (let round = 0; round < 5; round++) {
      if (lease.metadata?.annotations?.[TOKEN] !== token) return;
      const annotations = { ...lease.metadata.annotations };
      delete annotations[TOKEN];
      const written = await api.replaceLease({
        metadata: { ...lease.metadata, name: leaseName, resourceVersion: lease.metadata.resourceVersion ?? '', annotations },
        spec: respec(ctx, lease, { holderIdentity: '' }),
      });
      if (written !== 'conflict') return;
      const seen = await api.readLease(leaseName);
      if (!seen) return;
      lease = seen;
    }
    throw new CertkeeperError('STATE_CONFLICT', `the Lease of ${lockName} kept changing; left to expire`);
  });
}
