// Renewal decisions, as pure functions of (stored certificate, spec, now): what is due and why,
// when it becomes due, and which sinks still need the current certificate.

import type { CertificateInfo, CertificateSpec, CertRecord, CertState, RenewBefore } from '../core/types.js';

export type RenewalReason =
  | 'missing' // nothing stored yet: issue
  | 'domains-changed' // the configured names differ from the stored certificate's
  | 'key-type-changed' // the configured key type differs
  | 'expired' // past notAfter
  | 'ari' // the CA's renewal window (ARI, RFC 9773) has reached the chosen time
  | 'emergency' // 1/20 of the lifetime left, whatever ARI says
  | 'threshold' // less than renewBefore remains
  | 'forced' // the operator asked (--force or --cert)
  | 'loop-guard' // due by threshold, but the certificate is too young to be replaced again
  | 'not-due';

/** Which rule set renewAt: the CA's window, the configured threshold, the emergency floor or the loop guard. */
export type RenewalRule = 'ari' | 'threshold' | 'emergency' | 'loop-guard';

export interface RenewalDecision {
  due: boolean;
  reason: RenewalReason;
  /** When the stored certificate becomes due (null when nothing is stored). */
  renewAt: Date | null;
  /** The rule behind renewAt (null when nothing is stored). */
  rule: RenewalRule | null;
  /** One line for status and logs. */
  message: string;
}

/** The CA's suggested window (ARI) for the stored certificate, with the time chosen inside it. */
export interface RenewalWindow {
  start: Date;
  end: Date;
  /** A random moment in [start, end], chosen once per window. */
  selectedAt: Date;
  explanationUrl?: string | null;
}

export interface RenewalOptions {
  force?: boolean;
  /** The stored ARI window for this very certificate; absent when the CA has none. */
  ari?: RenewalWindow | undefined;
}

/** A duration longer than the lifetime would renew on every run; fall back to a third. */
const FALLBACK_FRACTION = 1 / 3;
/** Let's Encrypt's guide: certificates shorter than this renew at half their lifetime (default policy). */
const SHORT_LIFETIME_MS = 10 * 86_400_000;
/** Renew whatever ARI says once only this share of the lifetime remains (as certmagic does). */
export const EMERGENCY_FRACTION = 1 / 20;
/**
 * The renewal-loop guard: a certificate younger than this share of its lifetime is not replaced
 * by the threshold rule (only by ARI, a config change, expiry or the operator). A misconfigured
 * renewBefore on short-lived certificates would otherwise order on every run.
 */
export const LOOP_GUARD_FRACTION = 1 / 5;

/** The moment a certificate with this validity becomes due under `policy`. */
export function renewalTime(notBefore: Date, notAfter: Date, policy: RenewBefore): Date {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  let before: number;
  if (policy.kind === 'fraction') {
    const short = policy.shortLifetimeFraction !== undefined && lifetime < SHORT_LIFETIME_MS;
    before = lifetime * (short ? (policy.shortLifetimeFraction ?? policy.fraction) : policy.fraction);
  } else before = policy.ms < lifetime ? policy.ms : lifetime * FALLBACK_FRACTION;
  return new Date(notAfter.getTime() - before);
}

/** The emergency floor: 1/20 of the lifetime before notAfter. */
export function emergencyTime(notBefore: Date, notAfter: Date): Date {
  return new Date(notAfter.getTime() - (notAfter.getTime() - notBefore.getTime()) * EMERGENCY_FRACTION);
}

/** renewAt and the rule that set it: ARI's chosen time when known (never past the emergency floor), else the threshold. */
export function scheduledRenewal(stored: CertificateInfo, policy: RenewBefore, ari: RenewalWindow | undefined): { at: Date; rule: RenewalRule; why: string } {
  if (ari) {
    const emergency = emergencyTime(stored.notBefore, stored.notAfter);
    if (emergency.getTime() < ari.selectedAt.getTime())
      return { at: emergency, rule: 'emergency', why: 'emergency: 1/20 of the lifetime left; the ARI window is later' };
    const explanation = ari.explanationUrl ? `; see ${ari.explanationUrl}` : '';
    return { at: ari.selectedAt, rule: 'ari', why: `ARI window ${ari.start.toISOString()} – ${ari.end.toISOString()}${explanation}` };
  }
  return { at: renewalTime(stored.notBefore, stored.notAfter, policy), rule: 'threshold', why: `${describePolicy(policy, stored)} before expiry` };
}

function sameNames(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a.map((d) => d.toLowerCase()));
  return b.every((d) => set.has(d.toLowerCase()));
}

export function renewalDecision(stored: CertificateInfo | undefined, spec: CertificateSpec, now: Date, options: RenewalOptions = {}): RenewalDecision {
  if (!stored) return { due: true, reason: 'missing', renewAt: null, rule: null, message: 'no certificate yet' };
  const scheduled = scheduledRenewal(stored, spec.renewBefore, options.ari);
  const renewAt = scheduled.at;
  const rule = scheduled.rule;
  if (options.force) return { due: true, reason: 'forced', renewAt, rule, message: 'renewal requested by the operator' };
  if (!sameNames(stored.domains, spec.domains)) {
    return { due: true, reason: 'domains-changed', renewAt, rule, message: `names changed: have ${stored.domains.join(' ')}, want ${spec.domains.join(' ')}` };
  }
  if (stored.keyType !== spec.keyType) {
    return { due: true, reason: 'key-type-changed', renewAt, rule, message: `key type changed: have ${stored.keyType}, want ${spec.keyType}` };
  }
  if (now.getTime() >= stored.notAfter.getTime()) {
    return { due: true, reason: 'expired', renewAt, rule, message: `expired at ${stored.notAfter.toISOString()}` };
  }
  if (rule === 'threshold') {
    const lifetime = stored.notAfter.getTime() - stored.notBefore.getTime();
    const oldEnough = new Date(stored.notBefore.getTime() + lifetime * LOOP_GUARD_FRACTION);
    if (renewAt.getTime() < oldEnough.getTime()) {
      const message = `renewBefore (${describePolicy(spec.renewBefore, stored)}) would replace the certificate when it is only ${percent(1 - (stored.notAfter.getTime() - renewAt.getTime()) / lifetime)} old; loop guard: not before ${oldEnough.toISOString()} (${percent(LOOP_GUARD_FRACTION)} of its lifetime)`;
      if (now.getTime() >= oldEnough.getTime())
        return { due: true, reason: 'threshold', renewAt: oldEnough, rule: 'loop-guard', message: `due since ${oldEnough.toISOString()}; ${message}` };
      return { due: false, reason: now.getTime() >= renewAt.getTime() ? 'loop-guard' : 'not-due', renewAt: oldEnough, rule: 'loop-guard', message };
    }
  }
  if (now.getTime() >= renewAt.getTime()) {
    const reason: RenewalReason = rule === 'threshold' ? 'threshold' : rule === 'ari' ? 'ari' : 'emergency';
    return { due: true, reason, renewAt, rule, message: `due since ${renewAt.toISOString()} (${scheduled.why})` };
  }
  return { due: false, reason: 'not-due', renewAt, rule, message: `due at ${renewAt.toISOString()} (${scheduled.why})` };
}

function percent(fraction: number): string {
  return `${Math.round(fraction * 1000) / 10}%`;
}

export function describePolicy(policy: RenewBefore, stored?: CertificateInfo): string {
  if (policy.kind === 'fraction') {
    const short =
      stored !== undefined && policy.shortLifetimeFraction !== undefined && stored.notAfter.getTime() - stored.notBefore.getTime() < SHORT_LIFETIME_MS;
    return short ? `${percent(policy.shortLifetimeFraction ?? policy.fraction)} of a lifetime under 10 days` : `${percent(policy.fraction)} of lifetime`;
  }
  const hours = policy.ms / 3_600_000;
  return hours >= 48 && hours % 24 === 0 ? `${hours / 24}d` : `${Math.round(hours * 100) / 100}h`;
}

/** Sinks of `spec` that have not received the certificate with `serial`, in listed order. */
/** The certificate's sinks that do not have `serial` yet; `keyOf` names a sink's entry in `deployed` (sinks/scope.ts). */
export function pendingSinks(spec: CertificateSpec, serial: string, record: CertRecord, keyOf: (sink: string) => string = (sink) => sink): string[] {
  return spec.sinks.filter((sink) => record.deployed[keyOf(sink)] !== serial);
}

/** The state shown by `status`: the most urgent fact wins. */
export function certState(stored: CertificateInfo | undefined, decision: RenewalDecision, record: CertRecord, now: Date): CertState {
  if (!stored) return record.lastResult?.result === 'failure' ? 'failing' : 'missing';
  if (now.getTime() >= stored.notAfter.getTime()) return 'expired';
  if (record.consecutiveFailures > 0 && record.lastResult?.result === 'failure') return 'failing';
  if (decision.due) return 'due';
  return 'valid';
}
