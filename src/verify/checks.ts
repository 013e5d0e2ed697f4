// Pure judgements of what an endpoint serves: is it healthy, how close to expiry against the alert
// thresholds, is it the certificate a deploy just produced, and which managed certificate it
// belongs to (drift). Each returns a reason and a message, with a unit test per reason.

import type { Drift, EndpointAssessment, EndpointProblem, ExpiryAlert, ProbeResult, Serving } from '../core/endpoint-results.js';

const DAY_MS = 86_400_000;

/** Whether a probed endpoint passes every check, at `now`. */
export function assessEndpoint(result: ProbeResult, now: Date): EndpointAssessment {
  if (!result.reachable || !result.leaf) {
    return { ok: false, problems: ['unreachable'], messages: [`unreachable: ${result.error ?? result.failure ?? 'no certificate'}`], daysLeft: null };
  }
  const problems: EndpointProblem[] = [];
  const messages: string[] = [];
  const notAfter = Date.parse(result.leaf.notAfter);
  const notBefore = Date.parse(result.leaf.notBefore);
  const daysLeft = Math.floor(((notAfter - now.getTime()) / DAY_MS) * 10) / 10;
  if (now.getTime() >= notAfter) {
    problems.push('expired');
    messages.push(`expired at ${result.leaf.notAfter}`);
  } else if (now.getTime() < notBefore) {
    problems.push('not-yet-valid');
    messages.push(`not valid before ${result.leaf.notBefore}`);
  }
  if (result.trusted === false) {
    // An expired leaf also fails chain validation; say it once.
    if (!problems.includes('expired')) {
      problems.push('untrusted');
      messages.push(`chain does not validate: ${result.trustError ?? 'untrusted'}`);
    }
  }
  if (result.nameMatch === false) {
    problems.push('name-mismatch');
    messages.push(`name mismatch: ${result.nameError ?? `${result.sni ?? result.address} is not covered`}`);
  }
  return { ok: problems.length === 0, problems, messages, daysLeft };
}

/**
 * Whether a watched certificate is close enough to expiry to alert. Thresholds are days (default
 * 21, 7, 1): inside the widest one it is a warning, inside any narrower one critical, and expired
 * is critical. With a single threshold, crossing it is critical.
 */
export function expiryAlert(notAfter: Date | null, now: Date, thresholds: readonly number[]): ExpiryAlert {
  if (notAfter === null) return { alert: false, reason: 'no-certificate', thresholdDays: null, severity: 'info', message: 'no certificate served' };
  const leftMs = notAfter.getTime() - now.getTime();
  if (leftMs <= 0) return { alert: true, reason: 'expired', thresholdDays: null, severity: 'critical', message: `expired at ${notAfter.toISOString()}` };
  const sorted = [...thresholds].sort((a, b) => a - b); // narrowest first
  const crossed = sorted.find((days) => leftMs <= days * DAY_MS);
  const days = Math.floor((leftMs / DAY_MS) * 10) / 10;
  if (crossed === undefined) return { alert: false, reason: 'not-yet', thresholdDays: null, severity: 'info', message: `${days} days left` };
  const widest = sorted[sorted.length - 1]!;
  const severity = crossed === widest && sorted.length > 1 ? 'warning' : 'critical';
  return {
    alert: true,
    reason: 'threshold',
    thresholdDays: crossed,
    severity,
    message: `expires at ${notAfter.toISOString()} (${days} days left, under ${crossed} days)`,
  };
}

/** What one endpoint serves relative to the certificate just deployed. */
export function servingOf(result: ProbeResult, expectedSerial: string): Serving {
  if (!result.reachable || !result.leaf) return 'unreachable';
  return result.leaf.serial === expectedSerial ? 'new' : 'old';
}

/** The certificate's verdict over all its endpoints: unreachable wins, then old; new only when all are. */
export function overallServing(servings: readonly Serving[]): Serving {
  if (servings.includes('unreachable')) return 'unreachable';
  if (servings.includes('old')) return 'old';
  return 'new';
}

/** True when `pattern` (a DNS name, possibly "*.example.com") covers `name`. */
export function nameCovers(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase();
  const n = name.toLowerCase();
  if (p === n) return true;
  if (p.startsWith('*.')) {
    const suffix = p.slice(1); // ".example.com"
    const rest = n.endsWith(suffix) ? n.slice(0, -suffix.length) : '';
    return rest.length > 0 && !rest.includes('.');
  }
  return false;
}

export interface ManagedCertificate {
  name: string;
  domains: string[];
  /** The stored (current) certificate's serial; null when none is stored yet. */
  serial: string | null;
}

/**
 * Drift detection: the managed certificate that covers every DNS name the endpoint's leaf carries
 * (the first in config order), and whether the endpoint serves its current version. Undefined
 * when no managed certificate covers those names.
 */
export function driftOf(result: ProbeResult, managed: readonly ManagedCertificate[]): Drift | undefined {
  const leaf = result.leaf;
  if (!leaf) return undefined;
  const names = leaf.names.filter((n) => !n.startsWith('IP:'));
  if (names.length === 0) return undefined;
  const owner = managed.find((cert) => names.every((name) => cert.domains.some((domain) => domain === name || nameCovers(domain, name))));
  if (!owner) return undefined;
  if (owner.serial === null) return { cert: owner.name, current: false, message: `names managed by ${owner.name}, which has no certificate yet` };
  if (owner.serial === leaf.serial) return { cert: owner.name, current: true, message: `serves ${owner.name}'s current certificate` };
  return {
    cert: owner.name,
    current: false,
    message: `serves ${leaf.serial}, not ${owner.name}'s current ${owner.serial}: a stale copy (reload or deploy missing)`,
  };
}
