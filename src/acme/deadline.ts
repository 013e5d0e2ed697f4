// Overall deadlines for talking to a CA: one per HTTP request (the transport's idle timeout
// restarts with every byte, so a server trickling a byte every few seconds would hold a request
// forever), one per order (account, order, DNS challenge, finalize, download), and one for
// removing the challenge records afterwards. The timers here are real timers, not the injected
// Clock: they bound I/O, and a fast test clock must not expire them (as in dns/wire/transport.ts).

import { formatDuration, MAX_TIMER_MS } from '../core/duration.js';
import { CertkeeperError, isAbortError, isCertkeeperError } from '../core/errors.js';

/** One ACME HTTP request, from connecting to the last byte of the answer (`acme.requestTimeout`). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** One order, from the account look-up to the downloaded certificate (`acme.orderTimeout`). */
export const DEFAULT_ORDER_TIMEOUT_MS = 10 * 60_000;
/** The order deadline is at least this much longer than the DNS provider's propagation timeout. */
export const ORDER_MARGIN_OVER_PROPAGATION_MS = 5 * 60_000;
/** Removing one challenge record after the order, whatever became of the order. */
export const DEFAULT_CLEANUP_TIMEOUT_MS = 2 * 60_000;

/** `ms` as a timer can take it: at least 1, at most MAX_TIMER_MS (config refuses more; callers may not be config). */
export function timerMs(ms: number): number {
  return Math.min(MAX_TIMER_MS, Math.max(1, Math.floor(ms)));
}

/** The order deadline when none is configured: 10 minutes, longer when DNS may take longer to propagate. */
export function defaultOrderTimeoutMs(propagationTimeoutMs: number | undefined): number {
  return Math.max(DEFAULT_ORDER_TIMEOUT_MS, (propagationTimeoutMs ?? 0) + ORDER_MARGIN_OVER_PROPAGATION_MS);
}

export interface OrderDeadline {
  /** Aborts when the parent does or when the deadline passes. */
  readonly signal: AbortSignal;
  /** Whether the deadline (not the parent) ended the order. */
  readonly expired: boolean;
  /** Stops the timer; call when the order is over. */
  clear(): void;
}

/** A signal that follows `parent` and also aborts `ms` after now. */
export function orderDeadline(parent: AbortSignal | undefined, ms: number): OrderDeadline {
  const controller = new AbortController();
  let expired = false;
  const forward = (): void => controller.abort(parent?.reason);
  if (parent?.aborted) forward();
  else parent?.addEventListener('abort', forward, { once: true });
  const timer = setTimeout(() => {
    if (controller.signal.aborted) return;
    expired = true;
    controller.abort(new CertkeeperError('DEADLINE_EXCEEDED', `order deadline of ${formatDuration(ms)} passed`));
  }, timerMs(ms));
  return {
    signal: controller.signal,
    get expired() {
      return expired;
    },
    clear() {
      clearTimeout(timer);
      parent?.removeEventListener('abort', forward);
    },
  };
}

/**
 * Whether `error` is (or was caused by) an abort: what a deadline turns every pending step into.
 * A request's own DEADLINE_EXCEEDED is not: it names the request, which says more.
 */
export function causedByAbort(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 8; depth++) {
    if (isAbortError(current) || isCertkeeperError(current, 'CANCELLED')) return true;
    current = current.cause;
  }
  return false;
}

/** Resolves as `promise` does, or rejects with an AbortError as soon as `signal` aborts (the promise runs on). */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Runs `task` with a signal that aborts after `ms`, and gives up on it then even if it ignores
 * the signal: DEADLINE_EXCEEDED naming `what`.
 */
export async function withDeadline<T>(ms: number, what: string, task: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const error = new CertkeeperError('DEADLINE_EXCEEDED', `${what} did not finish within ${formatDuration(ms)}`, { details: { deadlineMs: ms } });
      reject(error);
      controller.abort(error);
    }, timerMs(ms));
  });
  const running = Promise.resolve().then(() => task(controller.signal));
  try {
    return await Promise.race([running, expired]);
  } finally {
    clearTimeout(timer);
    // The loser of the race may still settle later; nobody is listening.
    running.catch(() => {});
    expired.catch(() => {});
  }
}

function abortError(signal: AbortSignal): Error {
  const error = new Error('operation aborted');
  error.name = 'AbortError';
  error.cause = signal.reason;
  return error;
}
