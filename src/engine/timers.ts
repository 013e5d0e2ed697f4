// The agent's certificate timers: one due time per certificate and one wake-up on the clock for
// all of them (a sleep, an AbortController and their closures per certificate were ~1 KB each,
// 10 MB at 10,000). arm/disarm set a certificate's time; the wake-up sleeps until the earliest
// one and hands every certificate that has come due, earliest first, to `onDue`.

import type { Clock } from '../core/clock.js';

/** Wake-ups never sleep longer than this; the next plan re-arms them (clock changes, suspend). */
export const MAX_WAKE_MS = 6 * 3_600_000;

export class CertTimers {
  private readonly timers = new Map<string, number>();
  /** The one pending wake-up, at the earliest timer (at most MAX_WAKE_MS away). */
  private wakeUp: { at: number; controller: AbortController } | undefined;
  /** A wake-up recomputation is queued (arming 10,000 timers computes it once). */
  private wakeQueued = false;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly onDue: (name: string) => void,
  ) {}

  /** When each certificate's timer fires next. */
  get schedule(): Record<string, Date> {
    return Object.fromEntries([...this.timers].map(([name, at]) => [name, new Date(at)]));
  }

  /** The armed certificates' names. */
  names(): string[] {
    return [...this.timers.keys()];
  }

  /** Sets `name` to fire at `at` (ms); the wake-up is recomputed once per microtask. */
  arm(name: string, at: number): void {
    if (this.stopped) return;
    if (this.timers.get(name) === at) return;
    this.timers.set(name, at);
    if (!this.wakeQueued) {
      this.wakeQueued = true;
      queueMicrotask(() => {
        this.wakeQueued = false;
        this.wake();
      });
    }
  }

  disarm(name: string): void {
    // The wake-up stays: finding nothing due, it sleeps again until the next timer.
    this.timers.delete(name);
  }

  /** Drops every timer and the wake-up, for good. */
  stop(): void {
    this.stopped = true;
    this.timers.clear();
    this.wakeUp?.controller.abort();
    this.wakeUp = undefined;
  }

  /** Sleeps until the earliest timer (a long wait in MAX_WAKE_MS steps), unless an earlier wake-up is already set. */
  private wake(): void {
    if (this.stopped) return;
    let next = Infinity;
    for (const at of this.timers.values()) next = Math.min(next, at);
    const now = this.clock.now().getTime();
    if (next === Infinity) {
      this.wakeUp?.controller.abort();
      this.wakeUp = undefined;
      return;
    }
    const at = Math.min(Math.max(next, now), now + MAX_WAKE_MS);
    if (this.wakeUp && this.wakeUp.at <= at) return;
    this.wakeUp?.controller.abort();
    const controller = new AbortController();
    this.wakeUp = { at, controller };
    this.clock.sleep(at - now, controller.signal).then(
      () => {
        if (this.wakeUp?.controller !== controller) return;
        this.wakeUp = undefined;
        this.fire();
      },
      () => {}, // replaced by an earlier wake-up, or stopped
    );
  }

  /** Hands over every certificate whose time has come, earliest first, and sleeps until the next. */
  private fire(): void {
    const now = this.clock.now().getTime();
    const due = [...this.timers].filter(([, at]) => at <= now).sort((a, b) => a[1] - b[1]);
    for (const [name] of due) {
      this.timers.delete(name);
      this.onDue(name);
    }
    this.wake();
  }
}
