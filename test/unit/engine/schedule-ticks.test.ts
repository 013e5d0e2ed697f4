// The agent's `schedule:` ticks: waits on the injected clock for the times the cron expression
// gives, fires once per tick, skips ticks missed while the machine slept, and stops cleanly.

import { afterEach, describe, expect, it } from 'vitest';
import { cronSchedule } from '../../../src/config/cron.js';
import { startScheduleTicks } from '../../../src/engine/schedule-ticks.js';
import type { Clock } from '../../../src/core/clock.js';
import { realTick, TimerClock } from '../../helpers/timer-clock.js';

const startTz = process.env.TZ;
afterEach(() => {
  if (startTz === undefined) delete process.env.TZ;
  else process.env.TZ = startTz;
});

describe('schedule ticks', () => {
  it('fires at the last day of each month (L) and the first Monday (1#1), as validate accepted them', async () => {
    process.env.TZ = 'UTC';
    const clock = new TimerClock('2026-11-22T00:00:00Z');
    const fired: string[] = [];
    const ticks = startScheduleTicks(cronSchedule('0 3 L * *'), { clock, onTick: () => fired.push(clock.now().toISOString()) });
    await clock.advance(0);
    expect(clock.pending.map((d) => d.toISOString())).toEqual(['2026-11-30T03:00:00.000Z']);
    await clock.advance(40 * 86_400_000);
    expect(fired).toEqual(['2026-11-30T03:00:00.000Z', '2026-12-31T03:00:00.000Z']);
    ticks.stop();
    await clock.advance(0);
    expect(clock.pending).toEqual([]);

    const mondays: string[] = [];
    const first = startScheduleTicks(cronSchedule('0 3 * * 1#1'), { clock, onTick: () => mondays.push(clock.now().toISOString()) });
    await clock.advance(45 * 86_400_000); // to 15 February 2027
    expect(mondays).toEqual(['2027-01-04T03:00:00.000Z', '2027-02-01T03:00:00.000Z']);
    first.stop();
  });

  it('fires once for ticks it slept through, then keeps to the schedule', async () => {
    process.env.TZ = 'UTC';
    // A clock whose waits end when the test says: the machine was suspended for five hours, so the
    // wall clock jumped past five ticks while the first wait was pending.
    let now = Date.parse('2026-11-22T00:00:00Z');
    const waits: { ms: number; end: () => void }[] = [];
    const clock: Clock = { now: () => new Date(now), sleep: (ms) => new Promise<void>((resolve) => waits.push({ ms, end: resolve })) };
    let fired = 0;
    const ticks = startScheduleTicks(cronSchedule('0 * * * *'), { clock, onTick: () => fired++ });
    await realTick();
    expect(waits.map((w) => w.ms)).toEqual([3_600_000]);
    now = Date.parse('2026-11-22T05:30:00Z');
    waits[0]!.end();
    await realTick();
    expect(fired).toBe(1);
    expect(waits.map((w) => w.ms)).toEqual([3_600_000, 1_800_000]); // to 06:00, not five catch-up ticks
    ticks.stop();
  });
});
