// The system clock's sleeps outlast Node's timer limit: setTimeout fires after 1 ms for a delay
// past 2^31-1 ms (~24.8 days), so a long sleep is waited in chunks.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { MAX_TIMER_MS } from '../../src/core/duration.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('systemClock.sleep', () => {
  it('waits 30 days when asked to, not 1 ms', async () => {
    vi.useFakeTimers({ now: 0 });
    let woke = false;
    const sleeping = systemClock.sleep(30 * 86_400_000).then(() => (woke = true));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(woke).toBe(false);
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS);
    expect(woke).toBe(false);
    await vi.advanceTimersByTimeAsync(30 * 86_400_000 - MAX_TIMER_MS - 1_000);
    await sleeping;
    expect(woke).toBe(true);
  });

  it('shows what it guards against: a bare setTimeout past the limit fires at once', async () => {
    vi.useFakeTimers({ now: 0 });
    const fired = vi.fn();
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    setTimeout(fired, MAX_TIMER_MS + 1);
    await vi.advanceTimersByTimeAsync(1);
    warn.mockRestore();
    expect(fired).toHaveBeenCalled();
  });
});
