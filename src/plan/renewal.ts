// Renewal decisions, as pure functions of (stored certificate, spec, now): what is due and why,
// when it becomes due, and which sinks still need the current certificate.

import type { CertificateInfo, CertificateSpec, CertState, RenewBefore } from '../core/types.js';
import type { CertRecord } from '../state/contract.js';

export type RenewalReason =
  | 'missing' // nothing stored yet: issue
  | 'domains-changed' // the configured names differ from the stored certificate's
  | 'key-type-changed' // the configured key type differs
  | 'expired' // past notAfter
  | 'threshold' // less than renewBefore remains
  | 'forced' // the operator asked (--force or --cert)
  | 'not-due';

export interface RenewalDecision {
  due: boolean;
  reason: RenewalReason;
  /** When the stored certificate becomes due (null when nothing is stored). */
  renewAt: Date | null;
  /** One line for status and logs. */
  message: string;
}

/** A duration longer than the lifetime would renew on every run; fall back to a third. */
const FALLBACK_FRACTION = 1 / 3;

/** The moment a certificate with this validity becomes due under `policy`. */
export function renewalTime(notBefore: Date, notAfter: Date, policy: RenewBefore): Date {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  let before: number;
  if (policy.kind === 'fraction') before = lifetime * policy.fraction;
  else before = policy.ms < lifetime ? policy.ms : lifetime * FALLBACK_FRACTION;
  return new Date(notAfter.getTime() - before);
}

function sameNames(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a.map((d) => d.toLowerCase()));
  return b.every((d) => set.has(d.toLowerCase()));
}

export function renewalDecision(stored: CertificateInfo | undefined, spec: CertificateSpec, now: Date, options: { force?: boolean } = {}): RenewalDecision {
  if (!stored) return { due: true, reason: 'missing', renewAt: null, message: 'no certificate yet' };
  const renewAt = renewalTime(stored.notBefore, stored.notAfter, spec.renewBefore);
  if (options.force) return { due: true, reason: 'forced', renewAt, message: 'renewal requested by the operator' };
  if (!sameNames(stored.domains, spec.domains)) {
    return { due: true, reason: 'domains-changed', renewAt, message: `names changed: have ${stored.domains.join(' ')}, want ${spec.domains.join(' ')}` };
  }
  if (stored.keyType !== spec.keyType) {
    return { due: true, reason: 'key-type-changed', renewAt, message: `key type changed: have ${stored.keyType}, want ${spec.keyType}` };
  }
  if (now.getTime() >= stored.notAfter.getTime()) {
    return { due: true, reason: 'expired', renewAt, message: `expired at ${stored.notAfter.toISOString()}` };
  }
  if (now.getTime() >= renewAt.getTime()) {
    return { due: true, reason: 'threshold', renewAt, message: `due since ${renewAt.toISOString()} (${describePolicy(spec.renewBefore)} before expiry)` };
  }
  return { due: false, reason: 'not-due', renewAt, message: `due at ${renewAt.toISOString()} (${describePolicy(spec.renewBefore)} before expiry)` };
}

export function describePolicy(policy: RenewBefore): string {
  if (policy.kind === 'fraction') return `${Math.round(policy.fraction * 1000) / 10}% of lifetime`;
  const hours = policy.ms / 3_600_000;
  return hours >= 48 && hours % 24 === 0 ? `${hours / 24}d` : `${Math.round(hours * 100) / 100}h`;
}

/** Sinks of `spec` that have not received the certificate with `serial`, in listed order. */
export function pendingSinks(spec: CertificateSpec, serial: string, record: CertRecord): string[] {
  return spec.sinks.filter((sink) => record.deployed[sink] !== serial);
}

/** The state shown by `status`: the most urgent fact wins. */
export function certState(stored: CertificateInfo | undefined, decision: RenewalDecision, record: CertRecord, now: Date): CertState {
  if (!stored) return record.lastResult?.result === 'failure' ? 'failing' : 'missing';
  if (now.getTime() >= stored.notAfter.getTime()) return 'expired';
  if (record.consecutiveFailures > 0 && record.lastResult?.result === 'failure') return 'failing';
  if (decision.due) return 'due';
  return 'valid';
}
