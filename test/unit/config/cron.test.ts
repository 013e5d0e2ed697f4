import { afterEach, describe, expect, it } from 'vitest';
import { cronProblem, cronSchedule } from '../../../src/config/cron.js';
import { defaultSchedule } from '../../../src/cli/commands/run.js';

// The process's local time, as the agent under systemd or in a container reads it (TZ).
const startTz = process.env.TZ;
const inZone = (tz: string): void => {
  process.env.TZ = tz;
};
afterEach(() => {
  if (startTz === undefined) delete process.env.TZ;
  else process.env.TZ = startTz;
});
const FROM = new Date('2026-11-22T00:00:00Z');
const next = (expression: string, from: Date = FROM): string | undefined => cronSchedule(expression).next(from)?.toISOString();

describe('cron expressions (schedule:)', () => {
  it('accepts what the scheduler runs, nth weekday (1#1), last day (L) and nearest weekday (W) included', () => {
    for (const good of [
      '17 3,15 * * *',
      '*/5 * * * *',
      '0 0 1-15/2 jan-jun mon-fri',
      '30 17 3,15 * * *',
      '0 12 * * 7',
      '0 0 ? * SUN',
      '0 3 * * 1#1',
      '0 3 L * *',
      '0 3 * * 5L',
      '0 3 15W * *',
      '0 0 29 2 *', // once every four years, but it does fire
      '5/15 * * * *', // accepted before: minute 5, then every 15
      '@daily',
    ]) {
      expect(cronProblem(good), good).toBeUndefined();
    }
  });
  it('names what is wrong', () => {
    expect(cronProblem('99 99 * * *')).toMatch(/minute.*99/);
    expect(cronProblem('0 25 * * *')).toMatch(/hour.*25/);
    expect(cronProblem('0 0 * * * * *')).toContain('got 7');
    expect(cronProblem('every day')).toContain('got 2');
    expect(cronProblem('0 0 10-2 * *')).toContain('10-2');
    expect(cronProblem('*/0 * * * *')).toContain('stepping');
  });
  it('an expression that never fires (30 February, 31 April) is refused, saying so', () => {
    for (const never of ['0 0 30 2 *', '0 0 31 4 *', '0 0 31 2,4,6 *']) {
      expect(cronProblem(never), never).toMatch(/never fires/);
      expect(() => cronSchedule(never), never).toThrow(/never fires/);
    }
    // With a weekday too, cron fires on either (Vixie cron's OR): every Monday of February.
    expect(cronProblem('0 0 30 2 1')).toBeUndefined();
  });
  it('computes the ticks the agent waits for: nth weekday, last day of the month, either day field', () => {
    inZone('UTC');
    expect(next('0 3 * * 1#1')).toBe('2026-12-07T03:00:00.000Z'); // the first Monday of December
    expect(next('0 3 L * *')).toBe('2026-11-30T03:00:00.000Z');
    expect(next('0 3 L * *', new Date('2026-11-30T03:00:00Z'))).toBe('2026-12-31T03:00:00.000Z'); // strictly after
    expect(next('0 0 30 2 1')).toBe('2027-02-01T00:00:00.000Z');
    expect(next('17 3,15 * * *')).toBe('2026-11-22T03:17:00.000Z');
    expect(next('30 17 3,15 * * *')).toBe('2026-11-22T03:17:30.000Z');
  });
  it('runs in the local time zone (TZ), across daylight saving time as Vixie cron: a fixed time skipped runs after the gap, a repeated one once', () => {
    inZone('Europe/Berlin');
    expect(next('0 3 * * *')).toBe('2026-11-22T02:00:00.000Z'); // 03:00 CET
    // 2027-03-28: 02:00 CET jumps to 03:00 CEST, so 02:30 does not exist that night.
    expect(next('30 2 * * *', new Date('2027-03-27T12:00:00Z'))).toBe('2027-03-28T01:00:00.000Z');
    expect(next('30 2 * * *', new Date('2027-03-28T01:00:00Z'))).toBe('2027-03-29T00:30:00.000Z');
    // 2027-10-31: 03:00 CEST falls back to 02:00 CET, so 02:30 happens twice; it runs at the first.
    expect(next('30 2 * * *', new Date('2027-10-30T12:00:00Z'))).toBe('2027-10-31T00:30:00.000Z');
    expect(next('30 2 * * *', new Date('2027-10-31T00:30:00Z'))).toBe('2027-11-01T01:30:00.000Z');
    // So does a list of hours, as the default schedule's "M H,H+12 * * *" (Vixie cron's rule too).
    expect(next('30 2,14 * * *', new Date('2027-03-27T20:00:00Z'))).toBe('2027-03-28T01:00:00.000Z');
    expect(next('30 2,14 * * *', new Date('2027-10-30T20:00:00Z'))).toBe('2027-10-31T00:30:00.000Z');
    expect(next('30 2,14 * * *', new Date('2027-10-31T00:30:00Z'))).toBe('2027-10-31T13:30:00.000Z');
    // A wildcard job runs every hour that exists: none in the skipped one, both of the repeated one.
    expect(next('0 * * * *', new Date('2027-03-28T00:30:00Z'))).toBe('2027-03-28T01:00:00.000Z'); // 03:00 CEST
    expect(next('30 * * * *', new Date('2027-10-31T00:00:00Z'))).toBe('2027-10-31T00:30:00.000Z'); // 02:30 CEST
    expect(next('30 * * * *', new Date('2027-10-31T00:30:00Z'))).toBe('2027-10-31T01:30:00.000Z'); // 02:30 CET
  });
  it('the default schedule (twice a day at a random minute) is valid', () => {
    for (let i = 0; i < 50; i++) expect(cronProblem(defaultSchedule())).toBeUndefined();
    expect(defaultSchedule((max) => max - 1)).toBe('59 11,23 * * *');
  });
});
