import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import {
  acquireFileLock,
  ChangeWatch,
  breakStaleLock,
  observeLock,
  type AcquireOptions,
  type HeldLock,
  type LockTiming,
} from '../../../src/state/file-lock.js';

// Real time and short timings: waiters judge staleness by their clock while the holder's
// refresh runs on a real timer, so these tests keep both on real time.
const timing = { pollMs: 20, refreshMs: 100, staleMs: 600 };

let tmp: string;
let lockFile: string;
const held: HeldLock[] = [];

type Options = Omit<AcquireOptions, 'clock' | keyof LockTiming>;

/** A process's view of the lock file (a FileStorage lock, the 0.1 state lock the one-time copy takes). */
function newLocker(lockTiming: LockTiming = timing): { lock: (options?: Options) => Promise<HeldLock> } {
  return { lock: (options = {}) => acquireFileLock(lockFile, { ...lockTiming, clock: systemClock, ...options }) };
}

async function take(locker: ReturnType<typeof newLocker>, options: Options = {}): Promise<HeldLock> {
  const lock = await locker.lock(options);
  held.push(lock);
  return lock;
}

async function writeForeignLock(holder: { pid: number; hostname: string }): Promise<void> {
  await fs.mkdir(path.dirname(lockFile), { recursive: true });
  await fs.writeFile(lockFile, JSON.stringify({ ...holder, startedAt: '2026-01-01T00:00:00.000Z', token: 'foreign' }));
}

/** Resolves to 'pending' if `promise` has not settled within `ms`. */
async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T | 'pending'> {
  return Promise.race([promise, new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), ms))]);
}

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-lock-'));
  lockFile = path.join(tmp, 'state', 'lock');
});
afterEach(async () => {
  for (const lock of held.splice(0)) await lock.release();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('acquireFileLock', () => {
  it('writes who holds the lock into a 0600 file and removes it on release', async () => {
    const lock = await take(newLocker());
    const content = JSON.parse(await fs.readFile(lockFile, 'utf8'));
    expect(content).toMatchObject({ pid: process.pid, hostname: os.hostname() });
    expect(Date.parse(content.startedAt)).not.toBeNaN();
    expect((await fs.stat(lockFile)).mode & 0o777).toBe(0o600);
    await lock.release();
    await expect(fs.access(lockFile)).rejects.toThrow();
    await lock.release(); // a second release is harmless
  });

  it('makes a second locker wait until the first releases, telling it once who holds the lock', async () => {
    const first = await take(newLocker());
    const waits: string[] = [];
    const second = newLocker().lock({ onWait: (holder) => waits.push(holder) });

    expect(await settledWithin(second, 300)).toBe('pending');
    expect(waits).toEqual([expect.stringContaining(`pid ${process.pid} on ${os.hostname()}`)]);

    await first.release();
    held.push(await second);
    expect(waits).toHaveLength(1);
  });

  it("keeps a live holder's lock fresh, so waiters time out instead of taking it over", async () => {
    await take(newLocker());
    const start = Date.now();
    await expect(newLocker().lock({ timeoutMs: 1_500 })).rejects.toMatchObject({ code: 'LOCK_TIMEOUT', retryable: true });
    expect(Date.now() - start).toBeGreaterThanOrEqual(1_400);
    expect(JSON.parse(await fs.readFile(lockFile, 'utf8')).pid).toBe(process.pid);
  });

  it('fails with LOCK_TIMEOUT naming the holder', async () => {
    await take(newLocker());
    const error = await newLocker()
      .lock({ timeoutMs: 200 })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'LOCK_TIMEOUT' });
    expect((error as Error).message).toContain(`pid ${process.pid}`);
  });

  it('takes over at once a lock left by a dead process on this host', async () => {
    const exited = spawnSync(process.execPath, ['-e', '']);
    expect(exited.pid).toBeGreaterThan(0);
    await writeForeignLock({ pid: exited.pid, hostname: os.hostname() });

    const waits: string[] = [];
    const start = Date.now();
    await take(newLocker({ ...timing, staleMs: 60_000 }), { timeoutMs: 5_000, onWait: (h) => waits.push(h) });
    expect(Date.now() - start).toBeLessThan(1_000);
    expect(waits).toEqual([]);
    expect(JSON.parse(await fs.readFile(lockFile, 'utf8')).pid).toBe(process.pid);
  });

  it('takes over a lock from another host once it has not been refreshed for the stale limit', async () => {
    await writeForeignLock({ pid: 1, hostname: 'some-other-host' });
    const waits: string[] = [];
    const start = Date.now();
    await take(newLocker(), { timeoutMs: 5_000, onWait: (h) => waits.push(h) });
    expect(Date.now() - start).toBeGreaterThanOrEqual(timing.staleMs - 50);
    expect(waits).toEqual([expect.stringContaining('pid 1 on some-other-host')]);
    expect(JSON.parse(await fs.readFile(lockFile, 'utf8')).hostname).toBe(os.hostname());
  });

  it('lets exactly one of many waiters in at a time when they all find the same stale lock', async () => {
    const exited = spawnSync(process.execPath, ['-e', '']);
    await writeForeignLock({ pid: exited.pid, hostname: os.hostname() });
    let inside = 0;
    let maxInside = 0;
    const worker = async (): Promise<void> => {
      const lock = await newLocker().lock({ timeoutMs: 10_000 });
      inside++;
      maxInside = Math.max(maxInside, inside);
      await new Promise((resolve) => setTimeout(resolve, 30));
      inside--;
      await lock.release();
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    expect(maxInside).toBe(1);
    await expect(fs.access(lockFile)).rejects.toThrow();
  });

  it('does not remove a lock that is no longer its own on release', async () => {
    const lock = await take(newLocker());
    await writeForeignLock({ pid: 1, hostname: 'some-other-host' });
    await lock.release();
    expect(JSON.parse(await fs.readFile(lockFile, 'utf8')).hostname).toBe('some-other-host');
  });

  it('stops waiting with CANCELLED when the signal aborts', async () => {
    await take(newLocker());
    const controller = new AbortController();
    const waiting = newLocker().lock({ signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await expect(waiting).rejects.toMatchObject({ code: 'CANCELLED' });
  });
});

describe('breaking a stale lock', () => {
  const deadPid = (): number => spawnSync(process.execPath, ['-e', '']).pid;

  it('removes the stale lock it inspected', async () => {
    await writeForeignLock({ pid: deadPid(), hostname: os.hostname() });
    const seen = (await observeLock(lockFile))!;
    expect(await breakStaleLock(lockFile, seen, { breakWatch: new ChangeWatch(), now: 0, staleMs: 1_000 })).toBe(true);
    await expect(fs.access(lockFile)).rejects.toThrow();
    await expect(fs.access(`${lockFile}.break`)).rejects.toThrow();
  });

  it('leaves alone a fresh lock that replaced the stale one after it was inspected', async () => {
    // Two waiters judge the same lock stale; the faster one replaces it with its own. The
    // slower one must not delete the winner's lock.
    await writeForeignLock({ pid: deadPid(), hostname: os.hostname() });
    const seen = (await observeLock(lockFile))!;
    await fs.rm(lockFile);
    await fs.writeFile(lockFile, JSON.stringify({ pid: process.pid, hostname: os.hostname(), startedAt: '', token: 'winner' }));
    expect(await breakStaleLock(lockFile, seen, { breakWatch: new ChangeWatch(), now: 0, staleMs: 1_000 })).toBe(true);
    expect(JSON.parse(await fs.readFile(lockFile, 'utf8')).token).toBe('winner');
  });

  it('waits while another process is breaking the lock, and clears a breaker that died', async () => {
    await writeForeignLock({ pid: deadPid(), hostname: os.hostname() });
    const seen = (await observeLock(lockFile))!;
    const breakFile = `${lockFile}.break`;
    const breakWatch = new ChangeWatch();

    await fs.writeFile(breakFile, JSON.stringify({ pid: process.pid, hostname: os.hostname(), startedAt: '', token: 'busy' }));
    expect(await breakStaleLock(lockFile, seen, { breakWatch, now: 0, staleMs: 1_000 })).toBe(false);
    expect(await breakStaleLock(lockFile, seen, { breakWatch, now: 500, staleMs: 1_000 })).toBe(false);
    await fs.access(lockFile); // untouched while someone else is at it

    // The same breaker file, unchanged for the stale limit: its owner died mid-way.
    expect(await breakStaleLock(lockFile, seen, { breakWatch, now: 1_000, staleMs: 1_000 })).toBe(true);
    await expect(fs.access(breakFile)).rejects.toThrow();

    await fs.writeFile(breakFile, JSON.stringify({ pid: deadPid(), hostname: os.hostname(), startedAt: '', token: 'dead' }));
    expect(await breakStaleLock(lockFile, seen, { breakWatch: new ChangeWatch(), now: 0, staleMs: 1_000 })).toBe(true);
    await expect(fs.access(breakFile)).rejects.toThrow();
  });
});
