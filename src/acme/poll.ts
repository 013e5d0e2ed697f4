// Waiting for an ACME object (authorization, order) to leave a transient state, with the
// injected Clock: the interval grows from a quick first look to a few seconds, and the wait is
// cancellable and bounded.

import type { Clock } from '../core/clock.js';
import { CertkeeperError } from '../core/errors.js';

export interface PollOptions {
  clock: Clock;
  signal?: AbortSignal | undefined;
  timeoutMs: number;
  /** First pause after a look that was not final; doubled up to `maxIntervalMs`. */
  initialIntervalMs?: number;
  maxIntervalMs?: number;
  /** Names what is awaited, for the timeout message: "authorization for example.com". */
  what: string;
}

/** Fetches until `isFinal` holds and returns that value; ACME_ERROR (retryable) on timeout. */
export async function pollUntil<T extends { status: string }>(fetch: () => Promise<T>, isFinal: (item: T) => boolean, options: PollOptions): Promise<T> {
  const { clock, signal } = options;
  const deadline = clock.now().getTime() + options.timeoutMs;
  let intervalMs = options.initialIntervalMs ?? 250;
  for (;;) {
    const item = await fetch();
    if (isFinal(item)) return item;
    const remaining = deadline - clock.now().getTime();
    if (remaining <= 0) {
      throw new CertkeeperError('ACME_ERROR', `${options.what} still "${item.status}" after ${Math.round(options.timeoutMs / 1000)} s`, {
        details: { status: item.status },
      });
    }
    await clock.sleep(Math.min(intervalMs, remaining), signal);
    intervalMs = Math.min(intervalMs * 2, options.maxIntervalMs ?? 5000);
  }
}
