// A certificate's status row: what `status`, the metrics, the status page and the HTTP endpoint
// show. engine/status.ts computes the rows and observe/ and verify/ read them, so the types sit
// below all three.

import type { CertState } from './types.js';

/** The latest dry run of a certificate (engine/rehearse.ts). */
export interface LastRehearsal {
  at: string;
  result: 'success' | 'failure';
  error: string | null;
}

/** What `status` adds for ARI and issuers: the stored window and the CAs that are rate-limiting this certificate's issuers. */
export interface IssuanceStatus {
  ari: { windowStart: string; windowEnd: string; selectedAt: string; explanationUrl: string | null; nextCheckAt: string } | null;
  rateLimited: { issuer: string; until: string }[];
}

export interface StatusRow {
  name: string;
  domains: string[];
  serial: string | null;
  notBefore: string | null;
  notAfter: string | null;
  daysLeft: number | null;
  renewAt: string | null;
  /** Why renewAt is what it is, or why the certificate is due now. */
  renewReason: string;
  renewMessage: string;
  /** The rule that set renewAt: "ari" (the CA's window), "threshold" (renewBefore), "emergency" (1/20 left), "loop-guard". */
  renewRule?: string | null;
  /** The CA's renewal window (ARI) for the stored certificate; null when the CA has none. */
  ari?: IssuanceStatus['ari'];
  /** This certificate's issuers that are backing off after a rate limit, until when. */
  rateLimited?: IssuanceStatus['rateLimited'];
  state: CertState;
  /** Sinks still waiting for the current certificate. */
  pendingSinks: string[];
  lastResult: { at: string; action: string; result: 'success' | 'failure'; error: string | null } | null;
  consecutiveFailures: number;
  /** While backing off after failures: the earliest next automatic attempt. */
  nextAttemptAt: string | null;
  /** The certificate's config changed since its last failure (which lifts the backoff). */
  configChanged: boolean;
  /** What the `verify:` endpoints served at the last verification, judged against the stored serial; null: not verified. */
  serving?: 'new' | 'old' | 'unreachable' | null;
  /** The latest dry run (a `rehearse:` rehearsal or `renew --dry-run`); null when none is recorded. */
  lastRehearsal?: LastRehearsal | null;
  /** The configured issuer that issued the stored certificate, else the one its next order goes to (config/issuers.ts reportedIssuer). */
  issuer?: string | null;
}
