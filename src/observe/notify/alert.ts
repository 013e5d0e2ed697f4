// What a notifier delivers: an Alert, naming one certificate or a group of them that share a
// cause, and the pure rules the dispatcher reads off events: which cause a failure has (so one
// outage is one alert), which alert "family" it belongs to and how far it has escalated (so one
// escalation step is one alert and `expired` is never a repeat of `expiring`).

import type { AgentEvent, AgentEventType, Severity } from '../events.js';

/** `test`: `certkeeper notify test`, never an agent event. */
export type AlertType = AgentEventType | 'test';

export interface AlertCause {
  /** dns: provider + code; ca: issuer + code; sink: deploy target; code: only the code is known; none. */
  kind: 'dns' | 'ca' | 'sink' | 'code' | 'none';
  /** Stable identity, e.g. `dns:corp:DNS_UPDATE_FAILED`: equal keys group. */
  key: string;
  /** For people, e.g. `DNS provider "corp" (DNS_UPDATE_FAILED)`. */
  label: string;
  provider?: string;
  issuer?: string;
  sink?: string;
  code?: string;
}

export interface Alert {
  type: AlertType;
  /** The highest severity among its events. */
  severity: Severity;
  /** When the newest of its events happened. */
  at: string;
  /** One human line (the event's own message for a single certificate). */
  message: string;
  /** Every certificate this alert names, in the order they arrived. */
  certs: string[];
  /** One event per certificate (the latest), same order as `certs`. */
  events: AgentEvent[];
  /** What the certificates share; absent for a single certificate's alert. */
  cause?: AlertCause;
  /** Events folded in because the target's queue was full (each also counted as `coalesced`). */
  coalesced: number;
  /** The target's name, on a test alert. */
  target?: string;
}

/** Events that open an alert; `recovered` (or `rehearsal_recovered`) closes it. */
export const ALERT_TYPES: ReadonlySet<AgentEventType> = new Set<AgentEventType>([
  'failed',
  'deploy_failed',
  'expiring',
  'expired',
  'verify_failed',
  'rehearsal_failed',
]);

export const RECOVERY_TYPES: ReadonlySet<AgentEventType> = new Set<AgentEventType>(['recovered', 'rehearsal_recovered']);

const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

export function severityRank(severity: Severity): number {
  return SEVERITY_RANK[severity];
}

/**
 * The problem an alert is about, per certificate. A failed renewal, the expiry warning and the
 * expiry itself are one problem seen at different stages, so they escalate together: a critical
 * `failed` after a critical `expiring` is not news. Each sink's deploy, each verification and the
 * rehearsal are problems of their own.
 */
export function alertFamily(event: AgentEvent): string {
  switch (event.type) {
    case 'deploy_failed':
      return `deploy:${event.sink ?? ''}`;
    case 'verify_failed':
      return `verify:${event.endpoint ?? ''}`;
    case 'rehearsal_failed':
      return 'rehearsal';
    default:
      return 'renewal';
  }
}

/** How far a problem has gone: warning 1, critical 2, expired 3. A higher stage is an escalation. */
export function alertStage(event: AgentEvent): number {
  return event.type === 'expired' ? 3 : SEVERITY_RANK[event.severity];
}

/** Codes where the CA is the one that failed or refused. */
const CA_CODES: ReadonlySet<string> = new Set(['ACME_ERROR', 'ACME_RATE_LIMITED', 'ACME_UNREACHABLE', 'RATE_BUDGET', 'VALIDATION_FAILED']);

/**
 * What a failure shares with others: the same DNS provider and code, the same CA and code, or the
 * same sink. Otherwise the code alone, or nothing (`none` still groups alerts of one type).
 */
export function causeOf(event: AgentEvent): AlertCause {
  const code = event.code;
  if (event.type === 'deploy_failed' && event.sink)
    return { kind: 'sink', key: `sink:${event.sink}`, label: `sink "${event.sink}"`, sink: event.sink, ...(code ? { code } : {}) };
  if (code?.startsWith('DNS_') && event.provider) {
    return { kind: 'dns', key: `dns:${event.provider}:${code}`, label: `DNS provider "${event.provider}" (${code})`, provider: event.provider, code };
  }
  if (code && CA_CODES.has(code) && event.issuer) {
    return { kind: 'ca', key: `ca:${event.issuer}:${code}`, label: `CA "${event.issuer}" (${code})`, issuer: event.issuer, code };
  }
  if (code) return { kind: 'code', key: `code:${code}`, label: code, code };
  return { kind: 'none', key: 'none', label: '' };
}

/** The alert of one event, as notifiers have always sent it. */
export function singleAlert(event: AgentEvent): Alert {
  return { type: event.type, severity: event.severity, at: event.at, message: event.message, certs: [event.cert], events: [event], coalesced: 0 };
}

const GROUP_WHAT: Partial<Record<AgentEventType, string>> = {
  failed: 'renewal failed',
  deploy_failed: 'deploy failed',
  expiring: 'expiring, not renewed',
  expired: 'expired, not renewed',
  recovered: 'recovered',
  verify_failed: 'new certificate not served',
  rehearsal_failed: 'rehearsal failed',
  rehearsal_recovered: 'rehearsal passes again',
  obtained: 'obtained',
  deployed: 'deployed',
  obtaining: 'ordering',
  verified: 'served',
};

/** An alert naming every certificate of `events` (one event each); a single event is a single alert. */
export function groupAlert(type: AgentEventType, events: AgentEvent[], cause: AlertCause | undefined, coalesced = 0): Alert {
  if (events.length === 1 && coalesced === 0) return singleAlert(events[0]!);
  let severity: Severity = 'info';
  let at = events[0]!.at;
  for (const event of events) {
    if (SEVERITY_RANK[event.severity] > SEVERITY_RANK[severity]) severity = event.severity;
    if (event.at > at) at = event.at;
  }
  const count = events.length;
  const why = cause && cause.label ? `: ${cause.label}` : '';
  const first = events.find((event) => event.error)?.error;
  const message = `${GROUP_WHAT[type] ?? type} for ${count} certificate${count === 1 ? '' : 's'}${why}${first ? `: ${first}` : ''}`;
  return { type, severity, at, message, certs: events.map((event) => event.cert), events, ...(cause && cause.label ? { cause } : {}), coalesced };
}

/** `certkeeper notify test`: clearly a test, at info, naming no certificate. */
export function testAlert(target: string, at: Date): Alert {
  return {
    type: 'test',
    severity: 'info',
    at: at.toISOString(),
    message: `certkeeper test alert for notify target "${target}": alerts reach you. Nothing is wrong.`,
    certs: [],
    events: [],
    coalesced: 0,
    target,
  };
}

/**
 * The alert as one JSON document (the webhook body, exec's CERTKEEPER_EVENT_JSON): a single
 * certificate's alert is its event plus `certs`; a group has `group: true`, `certs`, `count`,
 * `cause` and the per-certificate events. `maxEvents` caps that list (`eventsOmitted` says how many
 * were left out; `certs` stays whole).
 */
export function alertDocument(alert: Alert, maxEvents = Infinity): Record<string, unknown> {
  if (alert.type === 'test')
    return { type: 'test', test: true, at: alert.at, severity: alert.severity, message: alert.message, target: alert.target, certs: [] };
  if (alert.events.length === 1 && alert.coalesced === 0) return { ...alert.events[0]!, certs: [...alert.certs] };
  const listed = alert.events.slice(0, maxEvents);
  return {
    type: alert.type,
    group: true,
    at: alert.at,
    severity: alert.severity,
    message: alert.message,
    certs: [...alert.certs],
    count: alert.certs.length,
    ...(alert.cause ? { cause: alert.cause } : {}),
    ...(alert.cause?.code ? { code: alert.cause.code } : {}),
    ...(alert.cause?.sink ? { sink: alert.cause.sink } : {}),
    ...(alert.coalesced > 0 ? { coalesced: alert.coalesced } : {}),
    events: listed,
    ...(listed.length < alert.events.length ? { eventsOmitted: alert.events.length - listed.length } : {}),
  };
}

/** "a, b, c … and 12 more": as many names as fit in `limit` characters with the count of the rest. */
export function compactList(names: readonly string[], limit: number): string {
  let best = names.length > 0 ? `… and ${names.length} more` : '';
  let out = '';
  for (let i = 0; i < names.length; i++) {
    out = i === 0 ? names[0]! : `${out}, ${names[i]!}`;
    if (out.length > limit) break;
    const rest = names.length - i - 1;
    const candidate = rest > 0 ? `${out} … and ${rest} more` : out;
    if (candidate.length <= limit) best = candidate;
  }
  return best;
}
