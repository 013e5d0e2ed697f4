// The agent's certificate timers on the timer clock: one wake-up serves every certificate, what
// comes due is handed over earliest first, disarm and stop drop timers, long waits are capped.
import { describe, expect, it } from 'vitest';
import { CertTimers, MAX_WAKE_MS } from '../../../src/engine/timers.js';
import { realTick, TimerClock } from '../../helpers/timer-clock.js';

const HOUR = 3_600_000;

function setup(): { clock: TimerClock; timers: CertTimers; fired: string[]; start: number } {
  const clock = new TimerClock('2026-11-22T00:00:00Z');
  const fired: string[] = [];
  const timers = new CertTimers(clock, (name) => fired.push(name));
  return { clock, timers, fired, start: clock.now().getTime() };
}

describe('CertTimers', () => {
  it('arms many certificates behind one wake-up, at the earliest time', async () => {
    const { clock, timers, start } = setup();
    timers.arm('b', start + 2 * HOUR);
    timers.arm('a', start + HOUR);
    timers.arm('c', start + 3 * HOUR);
    await realTick();
    expect(clock.pending).toEqual([new Date(start + HOUR)]);
    expect(timers.schedule).toEqual({ a: new Date(start + HOUR), b: new Date(start + 2 * HOUR), c: new Date(start + 3 * HOUR) });
  });

  it('fires what has come due, earliest first, and sleeps again until the next', async () => {
    const { clock, timers, fired, start } = setup();
    timers.arm('late', start + 2 * HOUR);
    timers.arm('early', start + HOUR);
    timers.arm('also-early', start + HOUR + 1);
    await realTick();
    await clock.advance(HOUR + 1);
    expect(fired).toEqual(['early', 'also-early']);
    expect(Object.keys(timers.schedule)).toEqual(['late']);
    expect(clock.pending).toEqual([new Date(start + 2 * HOUR)]);
    await clock.advance(HOUR);
    expect(fired).toEqual(['early', 'also-early', 'late']);
    expect(clock.pending).toEqual([]);
  });

  it('re-arming earlier replaces the wake-up; re-arming at the same time changes nothing', async () => {
    const { clock, timers, fired, start } = setup();
    timers.arm('www', start + 5 * HOUR);
    await realTick();
    timers.arm('www', start + 5 * HOUR);
    timers.arm('api', start + HOUR);
    await realTick();
    expect(clock.pending).toEqual([new Date(start + HOUR)]);
    await clock.advance(HOUR);
    expect(fired).toEqual(['api']);
  });

  it('a disarmed certificate never fires; the wake-up finds nothing and sleeps on', async () => {
    const { clock, timers, fired, start } = setup();
    timers.arm('gone', start + HOUR);
    timers.arm('kept', start + 2 * HOUR);
    await realTick();
    timers.disarm('gone');
    expect(timers.names()).toEqual(['kept']);
    await clock.advance(2 * HOUR);
    expect(fired).toEqual(['kept']);
  });

  it('a time in the past fires at the next wake-up', async () => {
    const { clock, timers, fired, start } = setup();
    timers.arm('overdue', start - HOUR);
    await realTick();
    await clock.advance(0);
    expect(fired).toEqual(['overdue']);
  });

  it('a far timer wakes at most MAX_WAKE_MS away, then sleeps the rest', async () => {
    const { clock, timers, fired, start } = setup();
    timers.arm('far', start + 30 * 24 * HOUR);
    await realTick();
    expect(clock.pending).toEqual([new Date(start + MAX_WAKE_MS)]);
    await clock.advance(MAX_WAKE_MS);
    expect(fired).toEqual([]);
    expect(clock.pending).toEqual([new Date(start + 2 * MAX_WAKE_MS)]);
  });

  it('stop drops every timer and the wake-up, and arms nothing after', async () => {
    const { clock, timers, fired, start } = setup();
    timers.arm('www', start + HOUR);
    await realTick();
    timers.stop();
    timers.arm('api', start + HOUR);
    await realTick();
    expect(timers.schedule).toEqual({});
    expect(clock.pending).toEqual([]);
    await clock.advance(2 * HOUR);
    expect(fired).toEqual([]);
  });
});
