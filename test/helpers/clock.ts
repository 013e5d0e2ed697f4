// A clock tests move by hand; sleeps resolve as soon as the clock is moved past them, or
// immediately when `autoAdvance` is on.

import type { Clock } from '../../src/core/clock.js';

export class ManualClock implements Clock {
  private current: number;
  constructor(
    start: Date | string = '2026-11-22T00:00:00Z',
    private readonly autoAdvance = true,
  ) {
    this.current = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.current);
  }
  set(to: Date | string): void {
    this.current = new Date(to).getTime();
  }
  advance(ms: number): void {
    this.current += ms;
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw Object.assign(new Error('aborted'), { name: 'AbortError' });
    if (this.autoAdvance) this.current += ms;
    await Promise.resolve();
  }
}
