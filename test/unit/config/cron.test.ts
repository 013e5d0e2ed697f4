import { describe, expect, it } from 'vitest';
import { cronProblem } from '../../../src/config/cron.js';
import { defaultSchedule } from '../../../src/cli/commands/run.js';

describe('cron expressions (schedule:)', () => {
  it('accepts what node-schedule accepts', () => {
    for (const good of ['17 3,15 * * *', '*/5 * * * *', '0 0 1-15/2 jan-jun mon-fri', '30 17 3,15 * * *', '0 12 * * 7', '0 0 ? * SUN']) {
      expect(cronProblem(good), good).toBeUndefined();
    }
  });
  it('names what is wrong', () => {
    expect(cronProblem('99 99 * * *')).toBe('minute "99" is outside 0-59');
    expect(cronProblem('0 25 * * *')).toBe('hour "25" is outside 0-23');
    expect(cronProblem('0 0 * * * * *')).toContain('got 7');
    expect(cronProblem('0 0 10-2 * *')).toContain('runs backwards');
    expect(cronProblem('*/0 * * * *')).toContain('positive');
  });
  it('the default schedule (twice a day at a random minute) is valid', () => {
    for (let i = 0; i < 50; i++) expect(cronProblem(defaultSchedule())).toBeUndefined();
    expect(defaultSchedule((max) => max - 1)).toBe('59 11,23 * * *');
  });
});
