// Failure backoff and scheduling decisions, pure: when may a failing certificate be tried
// again, when does a certificate's timer fire, and when is it an emergency.

import { createHash } from 'node:crypto';
import { EMERGENCY_FRACTION } from './renewal.js';

/** Waits after the 1st, 2nd, ... failure; the last one repeats (Let's Encrypt's advice: 1 min, 10 min, 100 min, then daily). */
export const DEFAULT_BACKOFF_MS: readonly number[] = [60_000, 600_000, 6_000_000, 86_400_000];

/** The wait after `failures` consecutive failures (1-based); a CA's Retry-After wins when longer. */
export function backoffDelayMs(failures: number, steps: readonly number[] = DEFAULT_BACKOFF_MS, retryAfterSeconds?: number): number {
  const index = Math.min(Math.max(failures, 1), steps.length) - 1;
  const step = steps[index] ?? DEFAULT_BACKOFF_MS[DEFAULT_BACKOFF_MS.length - 1]!;
  const asked = retryAfterSeconds !== undefined && retryAfterSeconds > 0 ? retryAfterSeconds * 1000 : 0;
  return Math.max(step, asked);
}

/** Less than EMERGENCY_FRACTION (1/20) of the lifetime left (or expired): try at every tick, whatever the backoff. */
export function isEmergency(notBefore: Date, notAfter: Date, now: Date): boolean {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  return notAfter.getTime() - now.getTime() < lifetime * EMERGENCY_FRACTION;
}

/** Jitter cap: about 2% of the lifetime, at most an hour, so short certificates stay in their window. */
export function maxJitterMs(lifetimeMs: number): number {
  return Math.max(0, Math.min(lifetimeMs * 0.02, 3_600_000));
}

/**
 * A stable pseudo-random jitter for one certificate version on one host: the same after a
 * restart (no drift), different across a fleet (no thundering herd).
 */
export function jitterMs(lifetimeMs: number, seed: string): number {
  const digest = createHash('sha256').update(seed).digest();
  const fraction = digest.readUInt32BE(0) / 0x1_0000_0000;
  return Math.floor(fraction * maxJitterMs(lifetimeMs));
}

/** Whether a backoff (nextAttemptAt) still holds at `now`. */
export function inBackoff(nextAttemptAt: string | null, now: Date): boolean {
  return nextAttemptAt !== null && Date.parse(nextAttemptAt) > now.getTime();
}
