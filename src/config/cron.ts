// The one cron parser (croner): `validate` checks `schedule:` with it when the config is loaded,
// and `run` waits for the times it computes (engine/schedule-ticks.ts), so whatever passes
// validation is exactly what the agent schedules. Five fields (minute hour day month weekday) or
// six (seconds first), in the process's local time zone (TZ).

import { Cron, type CronOptions } from 'croner';
import { CertkeeperError } from '../core/errors.js';

const OPTIONS: CronOptions = {
  mode: '5-or-6-parts',
  // Day of month and day of week both restricted: either one fires (Vixie cron, node-schedule).
  domAndDow: false,
  // "5/15" (from 5, every 15) was accepted before croner; configs that used it keep working.
  sloppyRanges: true,
  // Daylight saving time as Vixie cron: a job whose minute and hour have no wildcard or step
  // (the default "M H,H+12 * * *" included) runs once after a skipped hour and once in a repeated one.
  fixedTimeRule: 'no-wildcard',
  // Only computes times: nothing is scheduled by croner itself.
  paused: true,
};

/** The times a cron expression fires. */
export interface CronSchedule {
  readonly expression: string;
  /** The first time strictly after `after`, or undefined when there is none. */
  next(after: Date): Date | undefined;
}

type Parsed = { schedule: CronSchedule; problem?: undefined } | { schedule?: undefined; problem: string };

function parse(expression: string): Parsed {
  const text = expression.trim();
  const fields = text.split(/\s+/).filter(Boolean);
  if (!text.startsWith('@') && fields.length !== 5 && fields.length !== 6) {
    return { problem: `needs 5 fields (minute hour day month weekday) or 6 (with seconds), got ${fields.length}` };
  }
  let cron: Cron;
  try {
    cron = new Cron(text, OPTIONS);
  } catch (error) {
    return { problem: (error instanceof Error ? error.message : String(error)).replace(/^CronPattern:\s*/, '') };
  }
  const schedule: CronSchedule = { expression: text, next: (after) => cron.nextRun(after) ?? undefined };
  // Croner looks years ahead, so a 29 February fires and a 30 February or a 31 April does not.
  if (!schedule.next(new Date())) return { problem: 'never fires: no date matches its day and month (e.g. 30 February)' };
  return { schedule };
}

/** Why a cron expression is not acceptable, or undefined when it is. */
export function cronProblem(expression: string): string | undefined {
  return parse(expression).problem;
}

/** The parsed schedule; a CONFIG_INVALID error when the expression is not acceptable. */
export function cronSchedule(expression: string): CronSchedule {
  const parsed = parse(expression);
  if (parsed.problem !== undefined)
    throw new CertkeeperError('CONFIG_INVALID', `schedule "${expression}" is not a usable cron expression: ${parsed.problem}`, { retryable: false });
  return parsed.schedule;
}
