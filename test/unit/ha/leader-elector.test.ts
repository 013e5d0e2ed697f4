// Leader election on a lease in memory and a hand-moved clock: acquire, renew, hold off while
// the holder renews, take over once the lease has not changed for its duration on the
// candidate's own clock, step down before a successor can start, and release on stop.

import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { LeaderElector, type LeaseRecord, type LeaseStore, type VersionedLease } from '../../../src/ha/leader-elector.js';
import { haSchema } from '../../../src/ha/schema.js';
import { ManualClock } from '../../helpers/clock.js';

class MemoryLease implements LeaseStore {
  readonly description = 'Lease test/test';
  current: VersionedLease | undefined;
  private version = 0;
  failing = false;
  async get(): Promise<VersionedLease | undefined> {
    if (this.failing) throw new Error('API down');
    return this.current && { record: { ...this.current.record }, version: this.current.version };
  }
  async create(record: LeaseRecord): Promise<VersionedLease | undefined> {
    if (this.current) return undefined;
    this.current = { record: { ...record }, version: String(++this.version) };
    return this.current;
  }
  async update(record: LeaseRecord, version: string): Promise<VersionedLease | undefined> {
    if (this.failing) throw new Error('API down');
    if (!this.current || this.current.version !== version) return undefined;
    this.current = { record: { ...record }, version: String(++this.version) };
    return this.current;
  }
}

function elector(identity: string, store: LeaseStore, clock: ManualClock, changes: boolean[] = []): LeaderElector {
  return new LeaderElector({
    store,
    identity,
    clock,
    logger: silentLogger,
    leaseDurationMs: 15_000,
    renewIntervalMs: 5_000,
    onChange: (leader) => changes.push(leader),
  });
}

describe('LeaderElector', () => {
  it('the first candidate creates the lease and leads; the second waits while it renews', async () => {
    const clock = new ManualClock('2026-11-22T00:00:00Z', false);
    const lease = new MemoryLease();
    const a = elector('a', lease, clock);
    const b = elector('b', lease, clock);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect(a.isLeader()).toBe(true);
    expect(lease.current!.record).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 0 });
    for (let i = 0; i < 6; i++) {
      expect(await b.tryAcquireOrRenew()).toBe(false);
      clock.advance(5_000);
      expect(await a.tryAcquireOrRenew()).toBe(true);
    }
    expect(b.isLeader()).toBe(false);
    expect(lease.current!.record.holderIdentity).toBe('a');
    expect(lease.current!.record.renewTime).toEqual(clock.now());
  });

  it('a follower takes over once the lease has not changed for leaseDuration on its own clock; the old holder has stepped down before', async () => {
    const clock = new ManualClock('2026-11-22T00:00:00Z', false);
    const lease = new MemoryLease();
    const a = elector('a', lease, clock);
    const b = elector('b', lease, clock);
    await a.tryAcquireOrRenew();
    expect(await b.tryAcquireOrRenew()).toBe(false); // b observes version 1 now
    // a stops renewing (killed). a's own view: leader only until renewDeadline (10 s).
    clock.advance(9_999);
    expect(a.isLeader()).toBe(true);
    clock.advance(1);
    expect(a.isLeader()).toBe(false);
    clock.advance(4_999);
    expect(await b.tryAcquireOrRenew()).toBe(false); // 14.999 s unchanged: not yet
    clock.advance(1);
    expect(await b.tryAcquireOrRenew()).toBe(true);
    expect(b.isLeader()).toBe(true);
    expect(lease.current!.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    // a comes back: it sees b's lease and does not fight.
    expect(await a.tryAcquireOrRenew()).toBe(false);
    expect(a.isLeader()).toBe(false);
  });

  it("judges expiry by when it saw the record change, not by the holder's renewTime (clock skew)", async () => {
    const clock = new ManualClock('2026-11-22T00:00:00Z', false);
    const lease = new MemoryLease();
    // A holder whose clock is an hour behind wrote a renewTime that looks long expired.
    lease.current = {
      record: {
        holderIdentity: 'skewed',
        leaseDurationSeconds: 15,
        acquireTime: new Date('2026-11-21T23:00:00Z'),
        renewTime: new Date('2026-11-21T23:00:00Z'),
        leaseTransitions: 3,
      },
      version: 'v1',
    };
    const b = elector('b', lease, clock);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    clock.advance(10_000);
    lease.current = { ...lease.current, version: 'v2' }; // the skewed holder renewed
    expect(await b.tryAcquireOrRenew()).toBe(false);
    clock.advance(14_000);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    clock.advance(1_000);
    expect(await b.tryAcquireOrRenew()).toBe(true);
    expect(lease.current!.record.leaseTransitions).toBe(4);
  });

  it('takes a released lease at once, and release on stop hands it over', async () => {
    // The campaign loop's waits never end on their own here: only stop() ends them.
    const clock = new ManualClock('2026-11-22T00:00:00Z', false);
    clock.sleep = (_ms, signal) => new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
    const lease = new MemoryLease();
    const changesA: boolean[] = [];
    const a = elector('a', lease, clock, changesA);
    await a.start();
    expect(changesA).toEqual([true]);
    const b = elector('b', lease, clock);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    await a.stop();
    expect(changesA).toEqual([true, false]);
    expect(lease.current!.record.holderIdentity).toBeUndefined();
    expect(await b.tryAcquireOrRenew()).toBe(true);
  });

  it('keeps leading through a failed renewal until renewDeadline, then steps down', async () => {
    const clock = new ManualClock('2026-11-22T00:00:00Z', false);
    const lease = new MemoryLease();
    const a = elector('a', lease, clock);
    await a.tryAcquireOrRenew();
    lease.failing = true;
    clock.advance(5_000);
    await expect(a.tryAcquireOrRenew()).rejects.toThrow('API down');
    expect(a.isLeader()).toBe(true);
    clock.advance(5_000);
    expect(a.isLeader()).toBe(false);
    lease.failing = false;
    expect(await a.tryAcquireOrRenew()).toBe(true); // still its lease: renewed, leading again
    expect(a.isLeader()).toBe(true);
  });

  it('loses the lease when a renewal conflicts (someone else wrote it)', async () => {
    const clock = new ManualClock('2026-11-22T00:00:00Z', false);
    const lease = new MemoryLease();
    const a = elector('a', lease, clock);
    await a.tryAcquireOrRenew();
    lease.current = { record: { ...lease.current!.record, holderIdentity: 'intruder' }, version: 'other' };
    expect(await a.tryAcquireOrRenew()).toBe(false);
    expect(a.isLeader()).toBe(false);
  });
});

describe('LeaderElector with an API server that does not answer', () => {
  it('does not stall: start() returns after its bound, no second request starts beside the stuck one, and it leads once answers come', async () => {
    const clock = new ManualClock('2026-11-22T00:00:00Z', false);
    const lease = new MemoryLease();
    let release: () => void = () => {};
    let calls = 0;
    const original = lease.get.bind(lease);
    lease.get = async () => {
      calls++;
      if (calls === 1) await new Promise<void>((resolve) => (release = resolve));
      return original();
    };
    // Sleeps end only when aborted or when the test says so.
    let wake: () => void = () => {};
    clock.sleep = (_ms, signal) =>
      new Promise((resolve, reject) => {
        wake = resolve;
        signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      });
    const a = elector('a', lease, clock);
    const started = a.start();
    await Promise.resolve();
    wake(); // the bound of the first attempt passes
    await started;
    expect(a.isLeader()).toBe(false);
    expect(calls).toBe(1);
    release(); // the stuck request finally returns: the lease is created
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(a.isLeader()).toBe(true);
    await a.stop();
    expect(lease.current!.record.holderIdentity).toBeUndefined();
  });
});

describe('ha config', () => {
  it('defaults leaseDuration to 15s and checks renewInterval against it', () => {
    expect(haSchema.parse({ kubernetes: { leaseName: 'certkeeper' } })).toEqual({ kubernetes: { leaseName: 'certkeeper', leaseDuration: 15_000 } });
    expect(haSchema.parse({ kubernetes: { leaseName: 'ck', namespace: 'certkeeper', leaseDuration: '3s', renewInterval: '1s' } }).kubernetes).toMatchObject({
      leaseDuration: 3_000,
      renewInterval: 1_000,
    });
    expect(haSchema.safeParse({ kubernetes: { leaseName: 'ck', leaseDuration: '10s', renewInterval: '6s' } }).success).toBe(false);
    expect(haSchema.safeParse({ kubernetes: { leaseName: 'Certkeeper' } }).success).toBe(false);
    expect(haSchema.safeParse({ kubernetes: { leaseName: 'ck', leaseDuration: '1s' } }).success).toBe(false);
    expect(haSchema.safeParse({ etcd: {} }).success).toBe(false);
  });
});
