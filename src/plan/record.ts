// A certificate's failure record after an attempt, as pure functions of (record, outcome, now):
// a failure counts, backs off (a CA's Retry-After wins when longer) and remembers the config it
// failed with, whose change lifts the backoff (attempt.ts); a success clears all of it.

import type { CertRecord } from '../core/types.js';
import { backoffDelayMs } from './backoff.js';

/** What failed: an order (`issue`, `renew`, `dry-run`) or a `deploy`. */
export interface FailedAttempt {
  action: string;
  /** The failure, as `status` and alerts show it (already redacted). */
  error: string;
  now: Date;
  /** The configured backoff steps (config `backoffMs`); the defaults when absent. */
  backoffMs?: readonly number[] | undefined;
  /** The CA's Retry-After, when it sent one. */
  retryAfterSeconds?: number | undefined;
  /** The certificate's config fingerprint now. */
  fingerprint: string | null;
}

/** The record after one more failure in a row. */
export function recordFailure(record: CertRecord, failure: FailedAttempt): CertRecord {
  const failures = record.consecutiveFailures + 1;
  const wait = backoffDelayMs(failures, failure.backoffMs, failure.retryAfterSeconds);
  const at = failure.now.toISOString();
  return {
    ...record,
    consecutiveFailures: failures,
    nextAttemptAt: new Date(failure.now.getTime() + wait).toISOString(),
    configFingerprint: failure.fingerprint,
    lastAttemptAt: at,
    lastResult: { at, action: failure.action, result: 'failure', error: failure.error },
  };
}

/**
 * The record after a success: no failures, no backoff. An order's success (`issue`, `renew`)
 * is also the last success; a deploy of a certificate issued earlier is not an order.
 */
export function recordSuccess(record: CertRecord, success: { action: string; now: Date }): CertRecord {
  const at = success.now.toISOString();
  return {
    ...record,
    consecutiveFailures: 0,
    nextAttemptAt: null,
    ...(success.action === 'deploy' ? {} : { lastSuccessAt: at }),
    lastAttemptAt: at,
    lastResult: { at, action: success.action, result: 'success', error: null },
  };
}
