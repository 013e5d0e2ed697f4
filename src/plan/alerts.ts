// Alert decisions, as pure functions of (validity, now, policy): how wide a certificate's alert
// window is, how severe a failure is, and whether a certificate is expiring unrenewed. The daemon
// turns the answers into `failed` / `expiring` events; notifiers escalate on the severity.

import type { RenewBefore } from '../core/types.js';

/** `alertBefore`: a fraction of the lifetime ("10%") or a duration before notAfter ("7d"). */
export type AlertBefore = RenewBefore;

export const DEFAULT_ALERT_BEFORE_MS = 7 * 86_400_000;
export const DEFAULT_ALERT_FRACTION = 0.1;

/**
 * How long before notAfter the alert (critical) window opens. Without a policy: 7 days or 1/10 of
 * the lifetime, whichever is smaller, so a 90-day certificate alerts 7 days out and a 6-day one
 * 14.4 h out. A configured duration at least as long as the lifetime would alert from the first
 * second, so it falls back to the default fraction.
 */
export function alertWindowMs(lifetimeMs: number, alertBefore?: AlertBefore): number {
  const lifetime = Math.max(0, lifetimeMs);
  if (alertBefore?.kind === 'fraction') return lifetime * alertBefore.fraction;
  if (alertBefore?.kind === 'duration' && alertBefore.ms < lifetime) return alertBefore.ms;
  if (alertBefore?.kind === 'duration') return lifetime * DEFAULT_ALERT_FRACTION;
  return Math.min(DEFAULT_ALERT_BEFORE_MS, lifetime * DEFAULT_ALERT_FRACTION);
}

/** The moment the alert window of a certificate with this validity opens. */
export function alertTime(notBefore: Date, notAfter: Date, alertBefore?: AlertBefore): Date {
  return new Date(notAfter.getTime() - alertWindowMs(notAfter.getTime() - notBefore.getTime(), alertBefore));
}

export interface ValidityInput {
  /** The current stored certificate's validity; null when none was ever issued. */
  notBefore: Date | null;
  notAfter: Date | null;
  now: Date;
  alertBefore?: AlertBefore | undefined;
}

export type FailureSeverityReason =
  | 'no-certificate' // nothing issued yet: nothing in service can expire
  | 'outside-window' // the current certificate still has time: a warning
  | 'critical-window' // still failing inside the alert window: escalate
  | 'expired'; // still failing and the current certificate has expired

export interface FailureSeverity {
  severity: 'warning' | 'critical';
  reason: FailureSeverityReason;
  message: string;
}

/**
 * How loud a failed renewal or deploy is. A failure is a warning while the current certificate has
 * time left; once a certificate that keeps failing is inside its alert window or expired (a failed
 * renewal means no valid replacement exists) it is critical, so notifiers escalate past their
 * repeat suppression. `consecutiveFailures` counts the failure being reported (so at least 1).
 */
export function failureSeverity(input: ValidityInput & { consecutiveFailures: number }): FailureSeverity {
  const { notBefore, notAfter, now } = input;
  const failures = Math.max(1, input.consecutiveFailures);
  const times = failures === 1 ? 'once' : `${failures} times in a row`;
  if (notBefore === null || notAfter === null) {
    return { severity: 'warning', reason: 'no-certificate', message: `failed ${times}; no certificate was issued yet` };
  }
  if (now.getTime() >= notAfter.getTime()) {
    return { severity: 'critical', reason: 'expired', message: `failed ${times} and the certificate expired at ${notAfter.toISOString()}` };
  }
  const opensAt = alertTime(notBefore, notAfter, input.alertBefore);
  if (now.getTime() >= opensAt.getTime()) {
    return {
      severity: 'critical',
      reason: 'critical-window',
      message: `failed ${times} and the certificate expires at ${notAfter.toISOString()} (alert window since ${opensAt.toISOString()})`,
    };
  }
  return { severity: 'warning', reason: 'outside-window', message: `failed ${times}; the certificate is valid until ${notAfter.toISOString()}` };
}

export type ExpiringReason =
  | 'no-certificate' // nothing stored: nothing to expire
  | 'not-yet' // before the alert window
  | 'in-window' // inside the alert window and still not renewed
  | 'expired'; // past notAfter

export interface ExpiringDecision {
  /** True when the daemon should emit an `expiring` event now. */
  expiring: boolean;
  reason: ExpiringReason;
  severity: 'info' | 'critical';
  /** When the alert window opens (arm a timer for it); null when nothing is stored. */
  alertAt: Date | null;
  message: string;
}

/**
 * Whether the stored certificate is expiring unrenewed. A renewed certificate has a new notAfter
 * and falls outside the window again, so "not renewed" needs no separate input. Inside the window
 * renewal should long have happened (renewBefore is wider), so it is critical.
 */
export function expiringDecision(input: ValidityInput): ExpiringDecision {
  const { notBefore, notAfter, now } = input;
  if (notBefore === null || notAfter === null) {
    return { expiring: false, reason: 'no-certificate', severity: 'info', alertAt: null, message: 'no certificate yet' };
  }
  const alertAt = alertTime(notBefore, notAfter, input.alertBefore);
  if (now.getTime() >= notAfter.getTime()) {
    return { expiring: true, reason: 'expired', severity: 'critical', alertAt, message: `expired at ${notAfter.toISOString()} and was not renewed` };
  }
  if (now.getTime() >= alertAt.getTime()) {
    const hoursLeft = Math.round(((notAfter.getTime() - now.getTime()) / 3_600_000) * 10) / 10;
    return {
      expiring: true,
      reason: 'in-window',
      severity: 'critical',
      alertAt,
      message: `expires at ${notAfter.toISOString()} (in ${hoursLeft} h) and was not renewed`,
    };
  }
  return { expiring: false, reason: 'not-yet', severity: 'info', alertAt, message: `alert window opens at ${alertAt.toISOString()}` };
}
