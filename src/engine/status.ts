// `status`: one row per configured certificate — what is stored, when it becomes due and why,
// its state and the last outcome — computed with the same pure decisions the renewal uses.

import type { CertificateSpec } from '../core/types.js';
import type { LastRehearsal, StatusRow } from '../core/status.js';
import { configuredIssuers, reportedIssuer } from '../config/issuers.js';
import { configChanged, type AttemptFacts, type AttemptTrigger, type RenewalFacts } from '../plan/attempt.js';
import { certState, pendingSinks, renewalDecision } from '../plan/renewal.js';
import type { StateStore } from '../state/contract.js';
import { deploymentKeys } from '../sinks/scope.js';
import type { RateLimits, RateLimitState } from '../issuers/contract.js';
import type { EngineDeps } from './contracts.js';
import { mapLimit } from '../core/concurrency.js';
import { lastRehearsals } from './rehearse.js';
import { ARI_STATE_KEY, issuanceStatus } from './renewal-info.js';
import { READ_AHEAD_BATCH, readAhead } from './read-ahead.js';
import { readVerification, servingStatus, VERIFY_STATE_KEY } from '../verify/deploy.js';

export type { StatusRow };

/** Certificates whose status is read at once (each reads a few small files). */
export const STATUS_READ_CONCURRENCY = 32;

/** Every configured certificate's row, in config order; with `certs`, only those (the daemon's batches). */
export async function statusRows(
  deps: Pick<EngineDeps, 'config' | 'store' | 'clock' | 'logger' | 'rateLimits'>,
  options: { certs?: readonly string[] } = {},
): Promise<StatusRow[]> {
  const now = deps.clock.now();
  const wanted = options.certs && new Set(options.certs);
  const specs = wanted ? deps.config.certificates.filter((c) => wanted.has(c.name)) : deps.config.certificates;
  // One read for all rows (an index, not the whole history: see StateStore.lastDryRuns).
  const rehearsals = await lastRehearsals(
    deps.store,
    specs.map((c) => c.name),
  ).catch(() => new Map<string, LastRehearsal>());
  // A handful of issuers serve every row: each one's rate-limit state is read once per pass.
  const limits = new Map<string, Promise<RateLimitState | undefined>>();
  const { rateLimits: book } = deps;
  const rateLimits: Pick<RateLimits, 'active'> | undefined = book && {
    active(issuer, at) {
      const key = `${issuer.directoryUrl}\n${issuer.email ?? ''}`;
      let limit = limits.get(key);
      if (!limit) limits.set(key, (limit = book.active(issuer, at)));
      return limit;
    },
  };
  // Each batch of rows' details, records, ARI windows (and last verifications) in a few batched
  // reads, not a round trip each (10,000 rows were 30,000 statements on PostgreSQL), and one
  // batch at a time, so what was read is garbage before the next (the daemon's memory).
  const sinkStates = [ARI_STATE_KEY, ...(specs.some((spec) => spec.verify?.length) ? [VERIFY_STATE_KEY] : [])];
  const rows: StatusRow[] = [];
  for (let i = 0; i < specs.length; i += READ_AHEAD_BATCH) {
    const batch = specs.slice(i, i + READ_AHEAD_BATCH);
    const read = await readAhead(
      deps.store,
      batch.map((c) => c.name),
      { sinkStates },
    );
    const store: RowStore = {
      peekCertificate: (name) => read.peekCertificate(name),
      getRecord: (name) => read.getRecord(name),
      getSinkState: (cert, sink) => read.getSinkState(cert, sink),
    };
    // Bounded: a row may still read what was not read ahead; 10,000 reads at once ran out of file descriptors (EMFILE).
    rows.push(...(await mapLimit(batch, STATUS_READ_CONCURRENCY, (spec) => statusRow(spec, now, { ...deps, rateLimits, store }))));
  }
  for (const row of rows) row.lastRehearsal = rehearsals.get(row.name) ?? null;
  return rows;
}

/** What one row reads: the certificate's details (never its key), its record and small per-cert state. */
type RowStore = Pick<StateStore, 'peekCertificate' | 'getRecord' | 'getSinkState'>;

type RowDeps = Pick<EngineDeps, 'config' | 'logger'> & { rateLimits: Pick<RateLimits, 'active'> | undefined; store: RowStore };

async function statusRow(spec: CertificateSpec, now: Date, deps: RowDeps): Promise<StatusRow> {
  const { config } = deps;
  // The details only (meta.json): no PEM parse, no key check, for every row of a large fleet.
  const stored = await deps.store.peekCertificate(spec.name).catch((error: unknown) => {
    deps.logger.warn({ cert: spec.name, err: String(error) }, 'stored certificate unreadable');
    return undefined;
  });
  const record = await deps.store.getRecord(spec.name);
  const issuance = await issuanceStatus(spec, stored, deps, now);
  const decision = renewalDecision(stored?.info, spec, now, { ari: issuance.window });
  const info = stored?.info;
  return {
    name: spec.name,
    domains: spec.domains,
    serial: info?.serial ?? null,
    notBefore: info?.notBefore.toISOString() ?? null,
    notAfter: info?.notAfter.toISOString() ?? null,
    daysLeft: info ? Math.floor(((info.notAfter.getTime() - now.getTime()) / 86_400_000) * 10) / 10 : null,
    renewAt: decision.renewAt?.toISOString() ?? (info ? null : now.toISOString()),
    renewReason: decision.reason,
    renewMessage: decision.message,
    renewRule: decision.rule,
    ...issuance.extras,
    state: certState(info, decision, record, now),
    pendingSinks: info ? pendingSinks(spec, info.serial, record, deploymentKeys(config.sinks, config.agentId)) : [...spec.sinks],
    lastResult: record.lastResult,
    consecutiveFailures: record.consecutiveFailures,
    nextAttemptAt: record.nextAttemptAt,
    configChanged: configChanged(record, config.fingerprints[spec.name] ?? null),
    serving: spec.verify?.length ? servingStatus(await readVerification(deps.store, spec.name), info?.serial ?? null) : null,
    issuer: reportedIssuer(configuredIssuers(config), spec.issuers, stored?.directoryUrl) ?? null,
  };
}

/**
 * A row's facts for the attempt chain (plan/attempt.ts), as the daemon's timers ask it. A row
 * keeps the renewal decision's reason, not whether it is due: every reason but `not-due` and a
 * `loop-guard` hold (renewal.ts) is due.
 */
export function rowAttemptFacts(row: StatusRow, now: Date, trigger: AttemptTrigger): AttemptFacts & { renewal: RenewalFacts; request?: undefined } {
  return {
    now,
    trigger,
    stored: row.notBefore !== null && row.notAfter !== null ? { notBefore: new Date(row.notBefore), notAfter: new Date(row.notAfter) } : null,
    renewal: {
      due: row.renewReason !== 'not-due' && row.renewReason !== 'loop-guard',
      reason: row.renewReason,
      message: row.renewMessage,
      renewAt: row.renewAt === null ? null : new Date(row.renewAt),
    },
    backoff: { failures: row.consecutiveFailures, nextAttemptAt: row.nextAttemptAt, configChanged: row.configChanged },
    pendingSinks: row.pendingSinks,
  };
}
