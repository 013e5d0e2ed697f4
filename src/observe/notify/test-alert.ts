// `certkeeper notify test`: one clearly marked test alert per target, one attempt each under the
// target's timeout, and what became of it. Nothing is queued or remembered.

import type { Clock } from '../../core/clock.js';
import { toCertkeeperError } from '../../core/errors.js';
import { testAlert } from './alert.js';
import { attemptDelivery } from './attempt.js';
import type { NotifyTarget } from './dispatcher.js';

export interface TestDelivery {
  target: string;
  type: string;
  delivered: boolean;
  /** Why not (status, socket error, exit code); never the URL. */
  error?: string;
  code?: string;
  durationMs: number;
}

export async function sendTestAlerts(targets: readonly NotifyTarget[], clock: Clock): Promise<TestDelivery[]> {
  return Promise.all(
    targets.map(async (target): Promise<TestDelivery> => {
      const started = performance.now();
      const base = { target: target.name, type: target.notifier.type };
      try {
        await attemptDelivery(target.notifier, testAlert(target.name, clock.now()), target.policy.timeoutMs);
        return { ...base, delivered: true, durationMs: Math.round(performance.now() - started) };
      } catch (error) {
        const failure = toCertkeeperError(error);
        return { ...base, delivered: false, error: failure.message, code: failure.code, durationMs: Math.round(performance.now() - started) };
      }
    }),
  );
}
