// The state lock: one file created with O_EXCL, holding who owns it. The holder touches the file
// every few seconds; a waiter takes the lock over when the holder is a dead process on this host,
// or when the file has not changed for `staleMs` as measured by the waiter's own clock (which
// works across hosts sharing the state dir and ignores clock skew between them).
//
// Taking over is the racy part: two waiters may both judge the same lock stale, and a naive
// "unlink, then create" lets the slower one delete the faster one's fresh lock. So a stale lock is
// only removed by whoever holds a second, short-lived lock (`<lock>.break`), after checking that
// the file is still exactly the stale one it inspected; then everybody races on O_EXCL again.
//
// The lock and break files are never followed when they are symlinks: created with
// O_EXCL|O_NOFOLLOW, read with O_NOFOLLOW (a planted link is refused with UNSAFE_PATH, never
// removed), touched with lutimes.

import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import { CertkeeperError, toCertkeeperError } from '../core/errors.js';
import { ensureDir } from '../core/fs-atomic.js';
import { silentLogger, type Logger } from '../core/logger.js';

/** What a lock file holds; read back through this codec (anything else is an unidentified holder). */
const lockHolderCodec = z.object({
  pid: z.number(),
  hostname: z.string(),
  /** Informational: a holder without it is still identified. */
  startedAt: z
    .unknown()
    .optional()
    .transform((value) => String(value ?? '')),
  /** Random per acquisition: tells our lock from a later one even when pid and inode repeat. */
  token: z.string(),
});

export type LockHolder = z.output<typeof lockHolderCodec>;

export interface LockTiming {
  /** How often a waiter looks at the lock again (default 200 ms). */
  pollMs?: number;
  /** How often the holder touches the lock file (default 5 s). */
  refreshMs?: number;
  /** How long a lock file may stay unchanged before a waiter takes it over (default 30 s). */
  staleMs?: number;
}

export interface AcquireOptions extends LockTiming {
  clock: Clock;
  logger?: Logger;
  /** Give up with LOCK_TIMEOUT after this long (default 10 minutes; Infinity waits forever). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called once, when the lock is found held and waiting starts. */
  onWait?: (holder: string) => void;
  /** Called once if, while held, the lock is found taken over by another process. */
  onLost?: () => void;
}

export interface HeldLock {
  readonly holder: LockHolder;
  /** True when it was taken over from a dead or stale holder (who may have left half-written files). */
  readonly tookOver: boolean;
  /** Removes the lock file if it is still ours. Safe to call twice. */
  release(): Promise<void>;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 10 * 60_000;
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const CREATE_EXCLUSIVE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW;
const DEFAULTS = { pollMs: 200, refreshMs: 5_000, staleMs: 30_000 } as const;

/** What a waiter saw at the lock path: enough to notice change and to recognise the same file. */
export interface Observation {
  holder: LockHolder | undefined; // undefined while the creator has not written it yet, or garbage
  /** Changes whenever the holder refreshes or the file is replaced. */
  identity: string;
}

export async function observeLock(file: string): Promise<Observation | undefined> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, constants.O_RDONLY | O_NOFOLLOW);
    const stat = await handle.stat();
    const raw = await handle.readFile('utf8');
    return { holder: parseHolder(raw), identity: `${stat.ino}:${stat.mtimeMs}:${raw}` };
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    if (errnoOf(error) === 'ELOOP') {
      const link = await fs.readlink(file).catch(() => '?');
      throw new CertkeeperError(
        'UNSAFE_PATH',
        `the state lock ${file} is a symlink (to ${link}) that certkeeper did not create; it neither follows nor removes it. Remove the link (after checking who put it there)`,
        {
          cause: error,
          retryable: false,
        },
      );
    }
    throw error;
  } finally {
    await handle?.close();
  }
}

function parseHolder(raw: string): LockHolder | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined; // empty or torn: the creator is between open() and write(), or died there
  }
  const parsed = lockHolderCodec.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

export function describeHolder(holder: LockHolder | undefined): string {
  if (!holder) return 'an unidentified process';
  return `pid ${holder.pid} on ${holder.hostname}${holder.startedAt ? ` since ${holder.startedAt}` : ''}`;
}

/**
 * Removes the lock at `file` when its holder is provably dead (same host, no such pid), through
 * the same `.break` protocol a waiter uses, so a lock taken meanwhile is never removed. For the
 * sweep after a crash: a killed agent's lock goes before anyone has to wait on it.
 */
export async function removeDeadLock(file: string, now: number): Promise<boolean> {
  const seen = await observeLock(file);
  if (!seen || !isDeadOnThisHost(seen.holder)) return false;
  await breakStaleLock(file, seen, { breakWatch: new ChangeWatch(), now, staleMs: Number.POSITIVE_INFINITY });
  return (await observeLock(file))?.identity !== seen.identity;
}

/** True only when we can prove the holder is gone: same host and the pid does not exist. */
function isDeadOnThisHost(holder: LockHolder | undefined): boolean {
  if (!holder || holder.hostname !== os.hostname()) return false;
  if (!Number.isInteger(holder.pid) || holder.pid <= 0 || holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return errnoOf(error) === 'ESRCH'; // EPERM: alive, owned by another user
  }
}

/** Creates `file` exclusively with `content`; false when it already exists. */
async function tryCreate(file: string, content: string): Promise<boolean> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, CREATE_EXCLUSIVE, 0o600);
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return false;
    if (errnoOf(error) === 'ENOENT') {
      await ensureDir(path.dirname(file), 0o700);
      return tryCreate(file, content);
    }
    throw error;
  }
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}

/** Remembers since when (by our clock) an observed identity has stayed the same. */
export class ChangeWatch {
  private identity: string | undefined;
  private since = 0;

  unchangedFor(identity: string, nowMs: number): number {
    if (identity !== this.identity) {
      this.identity = identity;
      this.since = nowMs;
    }
    return nowMs - this.since;
  }
}

/**
 * Takes the lock at `file`, waiting while a live holder has it. Rejects with LOCK_TIMEOUT when
 * `timeoutMs` passes, CANCELLED when `signal` aborts, STATE_IO when the file cannot be used.
 */
export async function acquireFileLock(file: string, options: AcquireOptions): Promise<HeldLock> {
  const { clock, signal, onWait } = options;
  const logger = options.logger ?? silentLogger;
  const pollMs = options.pollMs ?? DEFAULTS.pollMs;
  const staleMs = options.staleMs ?? DEFAULTS.staleMs;
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const deadline = clock.now().getTime() + timeoutMs;
  const lockWatch = new ChangeWatch();
  const breakWatch = new ChangeWatch();
  let waiting = false;
  let tookOver = false;

  try {
    for (;;) {
      if (signal?.aborted) throw new CertkeeperError('CANCELLED', 'cancelled while waiting for the state lock');
      const mine: LockHolder = { pid: process.pid, hostname: os.hostname(), startedAt: clock.now().toISOString(), token: randomBytes(8).toString('hex') };
      if (await tryCreate(file, `${JSON.stringify(mine)}\n`)) {
        return holdLock(file, mine, { clock, logger, refreshMs: options.refreshMs ?? DEFAULTS.refreshMs, tookOver, onLost: options.onLost });
      }

      const seen = await observeLock(file);
      if (!seen) continue; // released between our create and our look: try again at once
      const now = clock.now().getTime();
      const dead = isDeadOnThisHost(seen.holder);
      if (dead || lockWatch.unchangedFor(seen.identity, now) >= staleMs) {
        logger.warn(
          { lock: file, holder: describeHolder(seen.holder), reason: dead ? 'holder process is gone' : `unchanged for ${staleMs} ms` },
          'taking over stale state lock',
        );
        if (await breakStaleLock(file, seen, { breakWatch, now, staleMs })) {
          tookOver = true;
          continue;
        }
      }

      if (!waiting) {
        waiting = true;
        onWait?.(describeHolder(seen.holder));
      }
      if (now >= deadline) {
        throw new CertkeeperError('LOCK_TIMEOUT', `the state lock ${file} is still held by ${describeHolder(seen.holder)} after ${timeoutMs} ms`, {
          details: { lock: file, holder: seen.holder ? { pid: seen.holder.pid, hostname: seen.holder.hostname } : null },
        });
      }
      await clock.sleep(Math.min(pollMs, deadline - now), signal);
    }
  } catch (error) {
    if (error instanceof CertkeeperError) throw error;
    const wrapped = toCertkeeperError(error, 'STATE_IO');
    if (wrapped.code === 'CANCELLED') throw wrapped;
    throw new CertkeeperError('STATE_IO', `cannot take the state lock ${file}: ${wrapped.message}`, { cause: error });
  }
}

/**
 * Removes the stale lock `seen` if it is still exactly that file, under the `.break` lock.
 * Returns true when the caller should retry O_EXCL at once (removed, or already gone).
 * Exported for tests: the race it guards against cannot be provoked reliably from outside.
 */
export async function breakStaleLock(file: string, seen: Observation, state: { breakWatch: ChangeWatch; now: number; staleMs: number }): Promise<boolean> {
  const breakFile = `${file}.break`;
  const breaker: LockHolder = {
    pid: process.pid,
    hostname: os.hostname(),
    startedAt: new Date(state.now).toISOString(),
    token: randomBytes(8).toString('hex'),
  };
  if (!(await tryCreate(breakFile, JSON.stringify(breaker)))) {
    // Someone else is breaking it (for milliseconds). A breaker that died mid-way would block
    // everyone, so its file goes too once dead or unchanged for staleMs; that second-order race
    // needs a process to die inside a millisecond window and is accepted.
    const other = await observeLock(breakFile);
    if (other && (isDeadOnThisHost(other.holder) || state.breakWatch.unchangedFor(other.identity, state.now) >= state.staleMs)) {
      await fs.rm(breakFile, { force: true });
      return true;
    }
    return other === undefined;
  }
  try {
    const again = await observeLock(file);
    if (again?.identity === seen.identity) await fs.rm(file, { force: true });
    return true;
  } finally {
    await fs.rm(breakFile, { force: true });
  }
}

function holdLock(
  file: string,
  mine: LockHolder,
  options: { clock: Clock; logger: Logger; refreshMs: number; tookOver: boolean; onLost?: (() => void) | undefined },
): HeldLock {
  const { clock, logger } = options;
  let lastTouchMs = clock.now().getTime();
  let released = false;
  let refreshing: Promise<void> = Promise.resolve();

  // Waiters judge liveness by the file changing, so the mtime must move even under a frozen
  // test clock: never set the same value twice.
  const refresh = async (): Promise<void> => {
    try {
      const current = await observeLock(file);
      if (current?.holder?.token !== mine.token) {
        logger.error({ lock: file, holder: describeHolder(current?.holder) }, 'the state lock was taken over by another process');
        clearInterval(timer);
        options.onLost?.();
        return;
      }
      lastTouchMs = Math.max(clock.now().getTime(), lastTouchMs + 1);
      const stamp = new Date(lastTouchMs);
      await fs.lutimes(file, stamp, stamp); // never through a link swapped in since the look above
    } catch (error) {
      logger.warn({ lock: file, err: toCertkeeperError(error).message }, 'cannot refresh the state lock');
    }
  };
  const timer = setInterval(() => {
    refreshing = refreshing.then(refresh);
  }, options.refreshMs);
  timer.unref(); // a forgotten lock must not keep the process alive

  return {
    holder: mine,
    tookOver: options.tookOver,
    async release(): Promise<void> {
      if (released) return;
      released = true;
      clearInterval(timer);
      await refreshing;
      try {
        const current = await observeLock(file);
        if (current?.holder?.token === mine.token) {
          await fs.rm(file, { force: true });
        } else {
          logger.warn({ lock: file, holder: describeHolder(current?.holder) }, 'the state lock was no longer ours at release; left it alone');
        }
      } catch (error) {
        throw new CertkeeperError('STATE_IO', `cannot release the state lock ${file}: ${toCertkeeperError(error).message}`, { cause: error });
      }
    },
  };
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}
