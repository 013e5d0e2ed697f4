// The human rendering of an alert, shared by the chat notifiers: one headline and a list of
// facts. Chat payloads (Slack blocks, Teams cards) only differ in how they lay these out.

import type { AgentEvent, AgentEventType, Severity } from '../events.js';
import { compactList, type Alert } from './alert.js';

const WHAT: Record<AgentEventType, string> = {
  obtaining: 'ordering a certificate',
  obtained: 'certificate obtained',
  failed: 'renewal failed',
  deployed: 'certificate deployed',
  deploy_failed: 'deploy failed',
  expiring: 'certificate expiring, not renewed',
  expired: 'certificate EXPIRED, not renewed',
  recovered: 'recovered',
  verified: 'endpoints serve the new certificate',
  verify_failed: 'endpoint check failed',
  rehearsal_failed: 'rehearsal (dry run) failed',
  rehearsal_recovered: 'rehearsal passes again',
};

const SEVERITY_TAG: Record<Severity, string> = { info: 'INFO', warning: 'WARNING', critical: 'CRITICAL' };

/** "[CRITICAL] www: renewal failed", "[INFO] www: recovered", "[WARNING] www: deploy failed (sink nginx)". */
export function headline(event: AgentEvent): string {
  const tag = event.type === 'recovered' || event.type === 'rehearsal_recovered' ? 'RESOLVED' : SEVERITY_TAG[event.severity];
  const sink = event.sink ? ` (sink ${event.sink})` : '';
  return `[${tag}] ${event.cert}: ${WHAT[event.type]}${sink}`;
}

export interface Fact {
  title: string;
  value: string;
}

/** The event's details worth a glance, in reading order; absent ones are left out. */
export function facts(event: AgentEvent): Fact[] {
  const out: Fact[] = [
    { title: 'Certificate', value: event.cert },
    { title: 'Domains', value: event.domains.join(', ') || '-' },
    { title: 'Event', value: event.type },
    { title: 'Severity', value: event.severity },
  ];
  if (event.sink) out.push({ title: 'Sink', value: event.sink });
  if (event.endpoint) out.push({ title: 'Endpoint', value: event.endpoint });
  if (event.serving) out.push({ title: 'Serving', value: event.serving });
  if (event.notAfter) out.push({ title: 'Not after', value: event.notAfter });
  if (event.daysLeft !== undefined && event.daysLeft !== null) out.push({ title: 'Days left', value: String(event.daysLeft) });
  if (event.serial) out.push({ title: 'Serial', value: event.serial });
  if (event.consecutiveFailures) out.push({ title: 'Failures in a row', value: String(event.consecutiveFailures) });
  if (event.code) out.push({ title: 'Error code', value: event.code });
  out.push({ title: 'At', value: event.at });
  return out;
}

/** "[WARNING] 37 certificates: renewal failed (DNS provider "corp" (DNS_UPDATE_FAILED))"; "[TEST] certkeeper: test alert". */
export function alertHeadline(alert: Alert): string {
  if (alert.type === 'test') return `[TEST] certkeeper: test alert to "${alert.target ?? ''}"`;
  if (alert.events.length === 1 && alert.coalesced === 0) return headline(alert.events[0]!);
  const tag = alert.type === 'recovered' || alert.type === 'rehearsal_recovered' ? 'RESOLVED' : SEVERITY_TAG[alert.severity];
  const cause = alert.cause?.label ? ` (${alert.cause.label})` : '';
  return `[${tag}] ${alert.certs.length} certificates: ${WHAT[alert.type]}${cause}`;
}

/** The facts of a single certificate's alert, or of a group: how many, the cause, the names. */
export function alertFacts(alert: Alert, listLimit: number): Fact[] {
  if (alert.type === 'test')
    return [
      { title: 'Target', value: alert.target ?? '' },
      { title: 'At', value: alert.at },
    ];
  if (alert.events.length === 1 && alert.coalesced === 0) return facts(alert.events[0]!);
  const out: Fact[] = [
    { title: 'Certificates', value: `${alert.certs.length}: ${compactList(alert.certs, listLimit)}` },
    { title: 'Event', value: alert.type },
    { title: 'Severity', value: alert.severity },
  ];
  if (alert.cause?.provider) out.push({ title: 'DNS provider', value: alert.cause.provider });
  if (alert.cause?.issuer) out.push({ title: 'CA', value: alert.cause.issuer });
  if (alert.cause?.sink) out.push({ title: 'Sink', value: alert.cause.sink });
  if (alert.cause?.code) out.push({ title: 'Error code', value: alert.cause.code });
  if (alert.coalesced > 0) out.push({ title: 'Coalesced', value: `${alert.coalesced} event(s) merged while the queue was full` });
  out.push({ title: 'At', value: alert.at });
  return out;
}

/** The first error among the alert's events (a group's share one cause). */
export function alertError(alert: Alert): string | undefined {
  return alert.events.find((event) => event.error)?.error;
}

export function truncate(text: string, limit: number): string {
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}
