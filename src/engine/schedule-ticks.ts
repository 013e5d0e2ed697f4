// The agent's `schedule:` ticks: waits on the injected Clock for each time the cron schedule
// gives (config/cron.ts, the same parser `validate` uses) and calls onTick once per tick.

import type { Clock } from '../core/clock.js';
import type { CronSchedule } from '../config/cron.js';

export interface ScheduleTicks {
  /** Ends the wait for the next tick; no tick fires after it. */
  stop(): void;
}

export function startScheduleTicks(schedule: CronSchedule, options: { clock: Clock; onTick: () => void }): ScheduleTicks {
  const { clock, onTick } = options;
  const controller = new AbortController();
  void (async () => {
    let after = clock.now();
    for (;;) {
      const at = schedule.next(after);
      if (!at) return;
      try {
        await clock.sleep(at.getTime() - clock.now().getTime(), controller.signal);
      } catch {
        return; // stopped
      }
      if (controller.signal.aborted) return;
      onTick();
      // From now, not from the tick: after a suspend or a clock jump the missed ticks fire once, not each.
      after = new Date(Math.max(at.getTime(), clock.now().getTime()));
    }
  })();
  return { stop: () => controller.abort() };
}
