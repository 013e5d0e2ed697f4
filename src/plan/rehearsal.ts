// Rehearsal decisions, as pure functions: which ACME directory a dry run goes to (a CA's staging
// twin, so rehearsals never spend production rate limits), when a certificate's next rehearsal
// is due (a fixed period plus a stable per-certificate offset, so rehearsals spread out), and how
// loud a failed rehearsal is (a warning; critical once the real renewal is near).

import { createHash } from 'node:crypto';
import type { CertificateInfo, RenewBefore } from '../core/types.js';
import { renewalTime } from './renewal.js';

/** Production directories with a known staging twin. */
export const STAGING_TWINS: Readonly<Record<string, string>> = {
  'https://acme-v02.api.letsencrypt.org/directory': 'https://acme-staging-v02.api.letsencrypt.org/directory',
  'https://dv.acme-v02.api.pki.goog/directory': 'https://dv.acme-v02.test-api.pki.goog/directory',
};

export interface RehearsalDirectory {
  /** Where the dry run goes. */
  url: string;
  /** Why: the configured staging directory, a known twin, or none known (the production directory). */
  source: 'configured' | 'known-twin' | 'same';
}

/**
 * The directory a dry run uses: the configured `stagingDirectory` first, then a known twin (Let's
 * Encrypt → its staging), else the directory itself (a CA without a staging twin, e.g. Pebble).
 */
export function rehearsalDirectory(directoryUrl: string, stagingDirectory?: string | null): RehearsalDirectory {
  if (stagingDirectory) return { url: stagingDirectory, source: 'configured' };
  const twin = STAGING_TWINS[directoryUrl];
  if (twin !== undefined && twin !== directoryUrl) return { url: twin, source: 'known-twin' };
  return { url: directoryUrl, source: 'same' };
}

/** A stable offset in [0, everyMs) for one certificate, so rehearsals of many certificates spread over the period. */
export function rehearsalOffsetMs(everyMs: number, seed: string): number {
  const digest = createHash('sha256').update(`rehearse/${seed}`).digest();
  return Math.floor((digest.readUInt32BE(0) / 0x1_0000_0000) * everyMs);
}

/**
 * When the next rehearsal of a certificate is due. The first one falls at `startedAt + offset`
 * (spread over one period after the daemon starts); after a rehearsal at `lastAt`, one period
 * later. A last rehearsal in the future (clock moved back) counts as now.
 */
export function nextRehearsalAt(input: { everyMs: number; seed: string; startedAt: Date; lastAt: Date | null; now: Date }): Date {
  const { everyMs, lastAt, now } = input;
  if (lastAt === null) return new Date(input.startedAt.getTime() + rehearsalOffsetMs(everyMs, input.seed));
  const last = Math.min(lastAt.getTime(), now.getTime());
  return new Date(last + everyMs);
}

export interface RehearsalSeverity {
  severity: 'warning' | 'critical';
  reason: 'renewal-far' | 'renewal-near' | 'no-certificate';
  message: string;
}

/**
 * How loud a failed rehearsal is. It is a warning — nothing in service is at risk yet — unless the
 * real renewal is near: once the certificate is inside its renewal window (the renewal time has
 * passed) or there is no certificate at all, the same fault would break the real renewal, so it
 * is critical.
 */
export function rehearsalSeverity(stored: Pick<CertificateInfo, 'notBefore' | 'notAfter'> | undefined, renewBefore: RenewBefore, now: Date): RehearsalSeverity {
  if (!stored) return { severity: 'critical', reason: 'no-certificate', message: 'no certificate is stored yet: the real issuance would fail the same way' };
  const renewAt = renewalTime(stored.notBefore, stored.notAfter, renewBefore);
  if (now.getTime() >= renewAt.getTime()) {
    return { severity: 'critical', reason: 'renewal-near', message: `the real renewal is due (since ${renewAt.toISOString()}) and would fail the same way` };
  }
  return { severity: 'warning', reason: 'renewal-far', message: `the real renewal is due at ${renewAt.toISOString()}: time to fix it` };
}
