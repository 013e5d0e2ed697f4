// A fake clock with real timer semantics: sleep() registers a timer that fires only when the
// test advances the clock past it, in time order. Lets scheduler tests jump days in
// milliseconds while everything else (files, processes) stays real.

import type { Clock } from '../../src/core/clock.js';

interface PendingTimer {
  at: number;
  seq: number;
  resolve(): void;
  reject(error: Error): void;
}

function abortError(): Error {
  return Object.assign(new Error('aborted'), { name: 'AbortError' });
}

export class TimerClock implements Clock {
  private current: number;
  private timers: PendingTimer[] = [];
  private seq = 0;

  constructor(start: Date | string = '2026-11-22T00:00:00Z') {
    this.current = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError());
    if (ms <= 0) return new Promise((resolve) => setImmediate(resolve));
    return new Promise<void>((resolve, reject) => {
      const timer: PendingTimer = {
        at: this.current + ms,
        seq: this.seq++,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject,
      };
      const onAbort = (): void => {
        this.timers = this.timers.filter((t) => t !== timer);
        reject(abortError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.timers.push(timer);
    });
  }

  /** Pending timers' due times, earliest first. */
  get pending(): Date[] {
    return [...this.timers].sort((a, b) => a.at - b.at).map((t) => new Date(t.at));
  }

  /** Moves time forward, firing every timer due on the way in order; `settle` runs between fires. */
  async advance(ms: number, settle: () => Promise<void> = realTick): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      const next = [...this.timers].sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next || next.at > target) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.current = Math.max(this.current, next.at);
      next.resolve();
      await settle();
    }
    this.current = target;
    await settle();
  }
}

/** Lets pending promise chains and I/O callbacks run. */
export async function realTick(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}
