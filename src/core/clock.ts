// Time, injected: logic asks a Clock for "now" and for waits, so tests can move time and
// cancel waits instead of sleeping.

import { MAX_TIMER_MS } from './duration.js';

export interface Clock {
  now(): Date;
  /** Resolves after `ms`, or rejects with an AbortError when `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      // setTimeout fires at once for delays past 2^31-1 ms (~24.8 days): wait in chunks.
      const deadline = Date.now() + Math.max(0, ms);
      let timer: NodeJS.Timeout;
      const arm = (): void => {
        const left = deadline - Date.now();
        timer = setTimeout(
          () => {
            if (deadline - Date.now() > 0) return arm();
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
          Math.min(Math.max(0, left), MAX_TIMER_MS),
        );
      };
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(abortReason(signal!));
      };
      arm();
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

function abortReason(signal: AbortSignal): Error {
  const error = new Error('operation aborted');
  error.name = 'AbortError';
  error.cause = signal.reason;
  return error;
}

/** Throws an AbortError when the signal has fired; a cheap check between steps. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}
