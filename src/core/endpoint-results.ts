// What probing and judging a TLS endpoint finds: the served chain, the probe's failure, the
// problems and expiry alert it earns, drift against the managed certificates, and a deploy's
// serving verdict. The vocabulary verify/ produces and the status page and event stream show;
// below both, so neither imports the other for it. The judgements themselves are verify/checks.ts.

import type { EndpointSpec } from './types.js';

export interface ServedCertificate {
  subject: string;
  issuer: string;
  /** Upper-case hex, no separators (as the state store keeps it). */
  serial: string;
  notBefore: string;
  notAfter: string;
  /** subjectAltName DNS names (and IP addresses as "IP:…"). */
  names: string[];
  fingerprint256: string;
}

/** Why a probe got no certificate. */
export const PROBE_FAILURES = ['dns', 'refused', 'connect-timeout', 'timeout', 'closed', 'starttls', 'handshake', 'error'] as const;
export type ProbeFailure = (typeof PROBE_FAILURES)[number];

export interface ProbeResult {
  /** Label, or the address. */
  endpoint: string;
  address: string;
  /** Server name sent (null: none, e.g. an IP address). */
  sni: string | null;
  protocol: EndpointSpec['protocol'];
  /** A TLS handshake completed and a certificate was read. */
  reachable: boolean;
  failure: ProbeFailure | null;
  error: string | null;
  /** ISO 8601, from the caller's clock. */
  at: string;
  durationMs: number;
  leaf: ServedCertificate | null;
  /** As served and built by the handshake: leaf first. */
  chain: ServedCertificate[];
  /** The chain validates against the trust store (and caBundle); null when unreachable. */
  trusted: boolean | null;
  trustError: string | null;
  /** The leaf covers the server name (or the IP address); null when unreachable. */
  nameMatch: boolean | null;
  nameError: string | null;
}

export const ENDPOINT_PROBLEMS = ['unreachable', 'expired', 'not-yet-valid', 'untrusted', 'name-mismatch'] as const;
export type EndpointProblem = (typeof ENDPOINT_PROBLEMS)[number];

export interface EndpointAssessment {
  /** Reachable, trusted, name matches, inside its validity: nothing to fix. */
  ok: boolean;
  problems: EndpointProblem[];
  /** One line per problem, for tables and alerts. */
  messages: string[];
  /** Days until the leaf expires (one decimal; negative once expired); null when unreachable. */
  daysLeft: number | null;
}

export const EXPIRY_ALERT_REASONS = ['no-certificate', 'not-yet', 'threshold', 'expired'] as const;
export type ExpiryAlertReason = (typeof EXPIRY_ALERT_REASONS)[number];

export interface ExpiryAlert {
  alert: boolean;
  reason: ExpiryAlertReason;
  /** The threshold (days) crossed, for `threshold`. */
  thresholdDays: number | null;
  severity: 'info' | 'warning' | 'critical';
  message: string;
}

/**
 * The earliest notAfter among the certificates an endpoint serves: the leaf and its intermediates,
 * as blackbox_exporter's probe_ssl_earliest_cert_expiry, so an intermediate that expires first is
 * seen. A root (self-issued, at the end of a longer chain) is left out: clients check their own
 * copy, and the handshake cannot tell a served root from one the trust store added. Null: no chain.
 */
export function earliestServedExpiry(chain: readonly ServedCertificate[]): string | null {
  const last = chain.at(-1);
  const served = chain.length > 1 && last && last.subject === last.issuer ? chain.slice(0, -1) : chain;
  let earliest: string | null = null;
  for (const cert of served) if (earliest === null || Date.parse(cert.notAfter) < Date.parse(earliest)) earliest = cert.notAfter;
  return earliest;
}

export const SERVINGS = ['new', 'old', 'unreachable'] as const;
export type Serving = (typeof SERVINGS)[number];

export interface Drift {
  /** The managed certificate whose names cover what the endpoint serves. */
  cert: string;
  /** The endpoint serves that certificate's current serial. */
  current: boolean;
  message: string;
}

/** One watched endpoint after a probe: what is served and what that means. */
export interface WatchResult extends ProbeResult {
  ok: boolean;
  problems: EndpointAssessment['problems'];
  messages: string[];
  daysLeft: number | null;
  alert: Pick<ExpiryAlert, 'alert' | 'reason' | 'severity' | 'thresholdDays'>;
  /** The managed certificate covering the served names, and whether it is its current version. */
  drift: Drift | null;
}
