// Leader election over a lease record with optimistic concurrency, the way client-go's
// leaderelection does it: the holder renews every renewInterval; a candidate takes the lease
// over only when the record has not changed for its leaseDuration *as measured on the
// candidate's own clock* (so clock skew between replicas does not matter); the holder counts
// itself leader only until renewDeadline after its last successful renewal, which is shorter
// than leaseDuration, so it stops before anyone else can start. Every wait is on the injected
// clock; the store is a contract (a Kubernetes Lease in kubernetes-lease.ts, memory in tests).

import { describeError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';

export interface LeaseRecord {
  /** Empty or undefined: nobody holds it (released). */
  holderIdentity: string | undefined;
  leaseDurationSeconds: number;
  acquireTime: Date | undefined;
  renewTime: Date | undefined;
  leaseTransitions: number;
}

export interface VersionedLease {
  record: LeaseRecord;
  /** Changes on every write (Kubernetes: metadata.resourceVersion). */
  version: string;
}

export interface LeaseStore {
  /** e.g. "Lease certkeeper/certkeeper", for logs. */
  readonly description: string;
  get(): Promise<VersionedLease | undefined>;
  /** Creates the lease; undefined when it exists already (somebody was faster). */
  create(record: LeaseRecord): Promise<VersionedLease | undefined>;
  /** Replaces `version`; undefined when the lease changed since it was read (a conflict). */
  update(record: LeaseRecord, version: string): Promise<VersionedLease | undefined>;
}

export interface LeaderElectorOptions {
  store: LeaseStore;
  identity: string;
  clock: Clock;
  logger: Logger;
  leaseDurationMs: number;
  /** How often the leader renews and a follower looks again (default: a third of leaseDurationMs). */
  renewIntervalMs?: number | undefined;
  /** Called when this replica becomes leader (true) or stops being leader (false). */
  onChange?: (leader: boolean) => void;
}

export class LeaderElector {
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewIntervalMs: number;
  /** The leader stops counting itself leader this long after its last successful renewal. */
  readonly renewDeadlineMs: number;
  private held: { version: string; record: LeaseRecord; renewedAt: number } | undefined;
  private observed: { version: string; at: number } | undefined;
  private leader = false;
  private loop: Promise<void> | undefined;
  private inflight: Promise<void> | undefined;
  private readonly controller = new AbortController();

  constructor(private readonly options: LeaderElectorOptions) {
    this.identity = options.identity;
    this.leaseDurationMs = options.leaseDurationMs;
    this.renewIntervalMs = options.renewIntervalMs ?? Math.max(100, Math.floor(options.leaseDurationMs / 3));
    this.renewDeadlineMs = Math.max(this.renewIntervalMs, this.leaseDurationMs - this.renewIntervalMs);
  }

  /** True while this replica holds the lease and renewed it within renewDeadline (checked now, on the clock). */
  isLeader(): boolean {
    if (!this.held) return false;
    return this.options.clock.now().getTime() < this.held.renewedAt + this.renewDeadlineMs;
  }

  /** Starts campaigning; resolves after the first attempt (so a lone replica leads at once). */
  async start(): Promise<void> {
    if (this.loop) return;
    await this.round(this.leaseDurationMs);
    this.loop = this.run();
  }

  /** Stops campaigning and releases the lease when held, so a follower takes over at once. */
  async stop(): Promise<void> {
    this.controller.abort();
    await this.loop;
    this.loop = undefined;
    if (this.inflight) {
      // A late renewal could otherwise land after the release; wait for it, boundedly.
      const bound = new AbortController();
      await Promise.race([this.inflight, this.options.clock.sleep(this.renewIntervalMs, bound.signal).catch(() => {})]);
      bound.abort();
    }
    const held = this.held;
    this.held = undefined;
    this.publish();
    if (!held) return;
    try {
      const now = this.options.clock.now();
      const released = await this.options.store.update({ ...held.record, holderIdentity: undefined, leaseDurationSeconds: 1, renewTime: now }, held.version);
      if (released) this.options.logger.info({ lease: this.options.store.description }, 'released the leader lease');
    } catch (error) {
      this.options.logger.warn(
        { lease: this.options.store.description, err: describeError(error) },
        'could not release the leader lease; it expires on its own',
      );
    }
  }

  private async run(): Promise<void> {
    const signal = this.controller.signal;
    while (!signal.aborted) {
      try {
        await this.options.clock.sleep(this.renewIntervalMs, signal);
      } catch {
        return; // stopped
      }
      await this.round(this.renewIntervalMs);
    }
  }

  /**
   * One attempt, waited for at most `boundMs`: a request the API server never answers (the
   * client has no timeout) must not stall the loop. A slow attempt keeps running and no second
   * one starts beside it; leadership is judged on the clock meanwhile (isLeader).
   */
  private async round(boundMs: number): Promise<void> {
    this.inflight ??= this.tryAcquireOrRenew()
      .then(
        () => {},
        (error: unknown) => {
          this.options.logger.warn({ lease: this.options.store.description, err: describeError(error) }, 'leader election: lease request failed; will retry');
        },
      )
      .finally(() => {
        this.inflight = undefined;
      });
    const bound = new AbortController();
    await Promise.race([this.inflight, this.options.clock.sleep(boundMs, bound.signal).catch(() => {})]);
    bound.abort();
    this.publish();
  }

  /**
   * One attempt: create the lease, renew ours, or take over a free or expired one. Returns
   * whether this replica holds the lease afterwards. Public for tests, which drive it by hand.
   */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { store, clock } = this.options;
    const started = clock.now();
    const duration = Math.ceil(this.leaseDurationMs / 1000);
    const current = await store.get();
    if (!current) {
      const created = await store.create({
        holderIdentity: this.identity,
        leaseDurationSeconds: duration,
        acquireTime: started,
        renewTime: started,
        leaseTransitions: 0,
      });
      return this.settle(created, started);
    }
    const nowMs = clock.now().getTime();
    if (this.observed?.version !== current.version) this.observed = { version: current.version, at: nowMs };
    const record = current.record;
    const mine = record.holderIdentity === this.identity;
    if (!mine && this.held) {
      this.options.logger.warn({ lease: store.description, holder: record.holderIdentity }, 'leader lease taken by another replica');
      this.held = undefined;
    }
    const free = !record.holderIdentity;
    const expired = this.observed.at + record.leaseDurationSeconds * 1000 <= nowMs;
    if (!mine && !free && !expired) return false;
    const next: LeaseRecord = mine
      ? { ...record, leaseDurationSeconds: duration, renewTime: started }
      : {
          holderIdentity: this.identity,
          leaseDurationSeconds: duration,
          acquireTime: started,
          renewTime: started,
          leaseTransitions: record.leaseTransitions + 1,
        };
    if (!mine)
      this.options.logger.info(
        { lease: store.description, previous: record.holderIdentity || null },
        free ? 'leader lease is free; taking it' : 'leader lease expired; taking it over',
      );
    return this.settle(await store.update(next, current.version), started);
  }

  /** Records a successful write (renewedAt is when the attempt started: the conservative end). */
  private settle(written: VersionedLease | undefined, started: Date): boolean {
    if (!written) {
      this.held = undefined;
      return false;
    }
    this.held = { version: written.version, record: written.record, renewedAt: started.getTime() };
    this.observed = { version: written.version, at: started.getTime() };
    return true;
  }

  private publish(): void {
    const leader = this.isLeader();
    if (leader === this.leader) return;
    this.leader = leader;
    this.options.logger.info(
      { lease: this.options.store.description, identity: this.identity },
      leader ? 'became the leader: renewing and deploying' : 'not the leader: standing by (health and metrics only)',
    );
    try {
      this.options.onChange?.(leader);
    } catch (error) {
      this.options.logger.error({ err: describeError(error) }, 'leadership listener failed');
    }
  }
}
