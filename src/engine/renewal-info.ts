// ARI in planning: the CA's renewal window for each stored certificate, asked at most once per
// Retry-After (default 6 h) and kept in the state store beside the certificate (sink-like state
// "acme.ari", a name no sink can have), with the moment chosen inside the window. The decision
// itself stays pure (plan/renewal.ts takes the stored window as input).

import { createHash } from 'node:crypto';
import { z } from 'zod';
import { describeError, isCertkeeperError } from '../core/errors.js';
import type { CertificateSpec, StoredCertificate } from '../core/types.js';
import type { IssuanceStatus } from '../core/status.js';
import { configuredIssuers, issuersFor } from '../config/issuers.js';
import type { RenewalWindow } from '../plan/renewal.js';
import { certificateDataKey, readCertificateData, storedTime } from '../state/codec.js';
import type { CertificateSummary, StateStore } from '../state/contract.js';
import type { Logger } from '../core/logger.js';
import { mapLimit } from '../core/concurrency.js';
import type { RateLimits } from '../issuers/contract.js';
import type { EngineDeps } from './contracts.js';
import { READ_AHEAD_BATCH, readAhead } from './read-ahead.js';

export const ARI_STATE_KEY = 'acme.ari';
/** After a failed lookup, ask again no sooner than this (planning must not hammer a sick CA). */
const ERROR_RECHECK_MS = 3_600_000;
/** Re-check at least twice a day whatever Retry-After says. */
const MAX_RECHECK_MS = 12 * 3_600_000;

/**
 * What is stored per certificate, and the codec it is read back through: a window whose times do
 * not parse would put Invalid Dates into the renewal decision (or, with `nextCheckAt`, never
 * ask the CA again).
 */
const ariRecordCodec = z.object({
  serial: z.string(),
  directoryUrl: z.string(),
  supported: z.boolean(),
  certId: z.string().optional(),
  start: storedTime.optional(),
  end: storedTime.optional(),
  selectedAt: storedTime.optional(),
  explanationUrl: z.string().nullable().optional(),
  checkedAt: storedTime,
  nextCheckAt: storedTime,
  error: z.string().optional(),
});

export type AriRecord = z.infer<typeof ariRecordCodec>;

/**
 * The stored ARI record of this very certificate (its serial, from its CA). One that cannot be
 * read (not JSON, or not an ARI record) counts as none, with a warning naming its key: planning
 * falls back to the expiry thresholds, and the CA is asked again, which replaces it.
 */
export async function readAriRecord(store: Pick<StateStore, 'getSinkState'>, cert: CertificateSummary, logger?: Logger): Promise<AriRecord | undefined> {
  let data: AriRecord | undefined;
  try {
    data = await readCertificateData(store, cert.name, ARI_STATE_KEY, ariRecordCodec);
  } catch (error) {
    logger?.warn(
      { cert: cert.name, key: certificateDataKey(cert.name, ARI_STATE_KEY), err: describeError(error) },
      'the stored ARI window cannot be read; planning uses the expiry thresholds until the CA is asked again',
    );
    return undefined;
  }
  return data && data.serial === cert.info.serial && data.directoryUrl === cert.directoryUrl ? data : undefined;
}

/** The stored window of this very certificate, as the renewal decision takes it. */
export function windowOf(record: AriRecord | undefined): RenewalWindow | undefined {
  if (!record?.supported || !record.start || !record.end || !record.selectedAt) return undefined;
  return { start: new Date(record.start), end: new Date(record.end), selectedAt: new Date(record.selectedAt), explanationUrl: record.explanationUrl ?? null };
}

/**
 * A stable "random" moment in the window: the same certificate and window always give the same
 * time (no churn across runs and replicas), different certificates spread out.
 */
export function selectInWindow(start: Date, end: Date, seed: string): Date {
  const fraction = createHash('sha256').update(seed).digest().readUInt32BE(0) / 2 ** 32;
  return new Date(start.getTime() + Math.floor(fraction * (end.getTime() - start.getTime())));
}

/** The ARI record for `cert`, refreshed from the CA when the stored one is due for a re-check. */
export async function refreshRenewalInfo(
  cert: StoredCertificate,
  deps: Pick<EngineDeps, 'store' | 'clock' | 'logger' | 'renewalInfo'>,
  signal?: AbortSignal,
): Promise<AriRecord | undefined> {
  const previous = await readAriRecord(deps.store, cert, deps.logger);
  if (!deps.renewalInfo) return previous;
  const now = deps.clock.now();
  if (!recheckDue(previous, now)) return previous;
  const base = { serial: cert.info.serial, directoryUrl: cert.directoryUrl, checkedAt: now.toISOString() };
  let record: AriRecord;
  try {
    const answer = await deps.renewalInfo(cert, signal);
    if (!answer.supported) {
      record = { ...base, supported: false, nextCheckAt: new Date(now.getTime() + MAX_RECHECK_MS).toISOString() };
    } else {
      const { start, end, explanationUrl, retryAfterSeconds } = answer.info;
      const same = previous?.start === start.toISOString() && previous.end === end.toISOString() && previous.selectedAt !== undefined;
      const selectedAt = same ? previous.selectedAt! : selectInWindow(start, end, `${cert.name}/${cert.info.serial}/${start.toISOString()}`).toISOString();
      const wait = Math.min(retryAfterSeconds * 1000, MAX_RECHECK_MS);
      record = {
        ...base,
        supported: true,
        certId: answer.certId,
        start: start.toISOString(),
        end: end.toISOString(),
        selectedAt,
        explanationUrl,
        nextCheckAt: new Date(now.getTime() + wait).toISOString(),
      };
      if (!same) {
        deps.logger.info(
          { cert: cert.name, windowStart: record.start, windowEnd: record.end, selectedAt, ...(explanationUrl ? { explanationUrl } : {}) },
          explanationUrl
            ? `ARI: the CA suggests renewing between ${record.start} and ${record.end}; see ${explanationUrl}`
            : `ARI: the CA suggests renewing between ${record.start} and ${record.end}`,
        );
      }
    }
  } catch (error) {
    if (signal?.aborted) return previous;
    // A rate-limited CA (its 429, or our own record of one) is not asked again before its Retry-After.
    const limitedFor = isCertkeeperError(error) && error.code === 'ACME_RATE_LIMITED' ? error.retryAfterSeconds : undefined;
    if (limitedFor !== undefined) deps.logger.info({ cert: cert.name, err: describeError(error) }, 'ARI lookup deferred: the CA is rate-limiting this account');
    else deps.logger.warn({ cert: cert.name, err: describeError(error) }, 'ARI lookup failed; keeping what is known');
    const wait = limitedFor !== undefined ? limitedFor * 1000 : ERROR_RECHECK_MS;
    record = {
      ...(previous ?? { ...base, supported: false }),
      checkedAt: now.toISOString(),
      nextCheckAt: new Date(now.getTime() + wait).toISOString(),
      error: describeError(error),
    };
  }
  await deps.store.putSinkState(cert.name, ARI_STATE_KEY, record);
  return record;
}

/**
 * Planning's view: the stored ARI record of a certificate known only by its details, refreshed
 * from the CA when due. Most stored windows are still fresh, so most certificates cost one small
 * read; only one due for a re-check has its PEM read (the ARI identifier comes from it).
 */
export async function renewalInfoFor(
  cert: CertificateSummary,
  deps: Pick<EngineDeps, 'config' | 'store' | 'clock' | 'logger' | 'renewalInfo'>,
  signal?: AbortSignal,
): Promise<AriRecord | undefined> {
  const previous = await readAriRecord(deps.store, cert, deps.logger);
  if (!deps.renewalInfo || !recheckDue(previous, deps.clock.now())) return previous;
  // Issued by a CA no longer configured (after a switch of CA): nobody to ask, so no PEM to read
  // and nothing new to record; a window it gave earlier still counts.
  if (!configuredIssuers(deps.config).some((issuer) => issuer.directoryUrl === cert.directoryUrl)) return previous;
  const stored = await deps.store.getCertificate(cert.name).catch((error: unknown) => {
    deps.logger.warn({ cert: cert.name, err: describeError(error) }, 'ARI lookup skipped: the stored certificate is unreadable');
    return undefined;
  });
  return stored ? refreshRenewalInfo(stored, deps, signal) : previous;
}

function recheckDue(record: AriRecord | undefined, now: Date): boolean {
  return !record || Date.parse(record.nextCheckAt) <= now.getTime();
}

/** For the daemon's planning: every configured certificate with a stored one, a few at a time. */
export async function refreshAllRenewalInfo(deps: EngineDeps, signal?: AbortSignal): Promise<void> {
  if (!deps.renewalInfo) return;
  // The details and stored windows a batch at a time, each batch in a few reads (read-ahead.ts):
  // most windows are fresh, so most certificates cost nothing more and the CA is asked for the rest.
  const specs = deps.config.certificates;
  for (let i = 0; i < specs.length; i += READ_AHEAD_BATCH) {
    const batch = specs.slice(i, i + READ_AHEAD_BATCH);
    let reading: EngineDeps;
    try {
      reading = {
        ...deps,
        store: await readAhead(
          deps.store,
          batch.map((spec) => spec.name),
          { records: false, sinkStates: [ARI_STATE_KEY] },
        ),
      };
    } catch (error) {
      deps.logger.warn({ err: describeError(error) }, 'ARI refresh skipped: the state store cannot be read');
      return;
    }
    await mapLimit(batch, deps.config.maxConcurrent, async (spec) => {
      try {
        const peeked = await reading.store.peekCertificate(spec.name);
        if (peeked) await renewalInfoFor(peeked, reading, signal);
      } catch (error) {
        deps.logger.warn({ cert: spec.name, err: describeError(error) }, 'ARI refresh failed');
      }
    });
  }
}

export async function issuanceStatus(
  spec: CertificateSpec,
  stored: CertificateSummary | undefined,
  deps: Pick<EngineDeps, 'config'> & { rateLimits?: Pick<RateLimits, 'active'> | undefined; store: Pick<StateStore, 'getSinkState'>; logger?: Logger },
  now: Date,
): Promise<{ window: RenewalWindow | undefined; extras: IssuanceStatus }> {
  const record = stored ? await readAriRecord(deps.store, stored, deps.logger) : undefined;
  const window = windowOf(record);
  const rateLimited: IssuanceStatus['rateLimited'] = [];
  for (const issuer of issuersFor(deps.config.issuers ?? [], spec.issuers)) {
    const limited = await deps.rateLimits?.active(issuer, now).catch(() => undefined);
    if (limited) rateLimited.push({ issuer: issuer.name, until: limited.rateLimitedUntil });
  }
  return {
    window,
    extras: {
      ari:
        window && record
          ? {
              windowStart: record.start!,
              windowEnd: record.end!,
              selectedAt: record.selectedAt!,
              explanationUrl: record.explanationUrl ?? null,
              nextCheckAt: record.nextCheckAt,
            }
          : null,
      rateLimited,
    },
  };
}
