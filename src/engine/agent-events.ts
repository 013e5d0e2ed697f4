// The alerts the agent itself adds to the event stream (observe/stream.ts), as pure functions: a
// batch's outcomes (with the status rows before and after) and a plan's expiry findings. The
// engine emits its own as they happen (obtaining, deployed) and verify its verdicts; the agent
// publishes all of them through the one subscriber list.

import type { Config } from '../config/load.js';
import type { AgentEvent } from '../observe/events.js';
import type { CertOutcome } from '../observe/stream.js';
import { expiringDecision, failureSeverity } from '../plan/alerts.js';
import type { StatusRow } from './status.js';

/** A plan's finding for one certificate: `expiring` inside its alert window, `expired` past notAfter. */
export function expiryEvents(row: StatusRow, now: Date, config: Config | undefined): AgentEvent[] {
  const expiring = expiringDecision({ ...validity(row), now, alertBefore: config?.daemon.alertBefore });
  if (!expiring.expiring) return [];
  return [
    {
      // Past notAfter it says so: `expired` is its own escalation, never a repeat of `expiring`.
      type: expiring.reason === 'expired' ? 'expired' : 'expiring',
      at: now.toISOString(),
      cert: row.name,
      domains: row.domains,
      severity: expiring.severity,
      message: `${row.name} ${expiring.message}`,
      serial: row.serial,
      notAfter: row.notAfter,
      daysLeft: row.daysLeft,
      consecutiveFailures: row.consecutiveFailures,
    },
  ];
}

/** After a batch: obtained / failed / expired / deploy_failed / recovered, with severities from the fresh status. */
export function outcomeEvents(
  outcome: CertOutcome,
  before: StatusRow | undefined,
  after: StatusRow | undefined,
  now: Date,
  config: Config | undefined,
): AgentEvent[] {
  // Skipped: nothing happened. Cancelled: abandoned at shutdown, not a failure to alert on.
  if (outcome.result === 'skipped' || outcome.code === 'CANCELLED') return [];
  const base = {
    at: now.toISOString(),
    cert: outcome.cert,
    domains: after?.domains ?? before?.domains ?? [],
    serial: outcome.serial,
    notAfter: outcome.notAfter,
    daysLeft: after?.daysLeft ?? null,
    action: outcome.action,
  };
  if (outcome.result === 'success') {
    const events: AgentEvent[] = [];
    if (outcome.action === 'issue' || outcome.action === 'renew') {
      events.push({
        ...base,
        type: 'obtained',
        severity: 'info',
        message: `${outcome.cert}: ${outcome.action === 'issue' ? 'issued' : 'renewed'} ${outcome.serial}, valid until ${outcome.notAfter}`,
      });
    }
    if (before && before.consecutiveFailures > 0) {
      events.push({
        ...base,
        type: 'recovered',
        severity: 'info',
        message: `${outcome.cert} recovered after ${before.consecutiveFailures} failure(s)`,
        consecutiveFailures: 0,
      });
    }
    return events;
  }
  const verdict = after
    ? failureSeverity({ ...validity(after), now, consecutiveFailures: after.consecutiveFailures, alertBefore: config?.daemon.alertBefore })
    : undefined;
  const severity = verdict?.severity ?? 'warning';
  const failures = after?.consecutiveFailures ?? 1;
  if (outcome.failedSink) {
    return [
      {
        ...base,
        type: 'deploy_failed',
        severity,
        sink: outcome.failedSink,
        message: `${outcome.cert}: deploy to ${outcome.failedSink} failed (${failures}x): ${outcome.error ?? ''}`,
        error: outcome.error ?? '',
        ...(outcome.code ? { code: outcome.code } : {}),
        consecutiveFailures: failures,
      },
    ];
  }
  const expired = verdict?.reason === 'expired';
  return [
    {
      ...base,
      // Failing past notAfter: the news is that it expired (one alert, not failed + expiring).
      type: expired ? 'expired' : 'failed',
      severity,
      message: expired
        ? `${outcome.cert} expired at ${after?.notAfter ?? outcome.notAfter ?? '?'} and its ${outcome.action} failed (${failures}x): ${outcome.error ?? ''}`
        : `${outcome.cert}: ${outcome.action} failed (${failures}x): ${outcome.error ?? ''}`,
      ...causeFields(outcome.cert, config),
      error: outcome.error ?? '',
      ...(outcome.code ? { code: outcome.code } : {}),
      consecutiveFailures: failures,
    },
  ];
}

/** What a renewal failure can share with others (notifiers group by it): its DNS provider and CA. */
function causeFields(cert: string, config: Config | undefined): { provider?: string; issuer?: string } {
  const spec = config?.certificates.find((c) => c.name === cert);
  if (!spec) return {};
  const issuers = spec.issuers ?? config?.issuers.map((issuer) => issuer.name) ?? [];
  return { provider: spec.dns, ...(issuers.length > 0 ? { issuer: issuers.join(',') } : {}) };
}

function validity(row: StatusRow): { notBefore: Date | null; notAfter: Date | null } {
  return { notBefore: row.notBefore ? new Date(row.notBefore) : null, notAfter: row.notAfter ? new Date(row.notAfter) : null };
}
