// The human rendering of an agent event, shared by the chat notifiers: one headline and a list of
// facts. Chat payloads (Slack blocks, Teams cards) only differ in how they lay these out.

import type { AgentEvent, AgentEventType, Severity } from '../events.js';

const WHAT: Record<AgentEventType, string> = {
  obtaining: 'ordering a certificate',
  obtained: 'certificate obtained',
  failed: 'renewal failed',
  deployed: 'certificate deployed',
  deploy_failed: 'deploy failed',
  expiring: 'certificate expiring, not renewed',
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

export function truncate(text: string, limit: number): string {
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}
