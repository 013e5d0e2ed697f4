// The stream's events about what is served (observe/stream.ts), as pure builders: a deploy
// verification's verdict (verified, verify_failed, recovered), which verify/deploy.ts emits on the
// engine's stream, and a watched endpoint's checks (expiring, verify_failed, recovered), which the
// Watcher emits. Notifiers deliver verify_failed by default.

import type { AgentEvent } from '../observe/events.js';
import type { EndpointAssessment, ExpiryAlert, ProbeResult } from '../core/endpoint-results.js';
import type { VerifyReport } from '../core/verify-report.js';

/** After a deploy verification: `verified` or `verify_failed`, plus `recovered` when the one before failed. */
export function verifyEvents(report: VerifyReport, previousOk: boolean | null, domains: string[], at: string): AgentEvent[] {
  const base = { at, cert: report.cert, domains, serial: report.serial, serving: report.serving, endpoint: report.endpoints.map((e) => e.endpoint).join(', ') };
  if (report.ok) {
    const events: AgentEvent[] = [{ ...base, type: 'verified', severity: 'info', message: `${report.cert}: every endpoint serves ${report.serial}` }];
    if (previousOk === false)
      events.push({ ...base, type: 'recovered', severity: 'info', message: `${report.cert}: endpoints serve the current certificate again` });
    return events;
  }
  const again = report.redeployed.length > 0 ? ` (deploy hooks re-run: ${report.redeployed.join(', ')})` : '';
  return [
    {
      ...base,
      type: 'verify_failed',
      severity: 'warning',
      message: `${report.cert}: the new certificate ${report.serial} is not served${again}: ${report.error ?? ''}`,
      error: report.error ?? '',
      code: 'VERIFY_FAILED',
    },
  ];
}

/** The alerts of one watched endpoint this round: expiry, failed checks, or the all-clear. */
export function watchEvents(result: ProbeResult, assessment: EndpointAssessment, expiry: ExpiryAlert, wasAlerting: boolean, at: string): AgentEvent[] {
  const base = {
    at,
    cert: result.endpoint,
    domains: result.leaf?.names.filter((n) => !n.startsWith('IP:')) ?? [],
    serial: result.leaf?.serial ?? null,
    notAfter: result.leaf?.notAfter ?? null,
    daysLeft: assessment.daysLeft,
    endpoint: result.address,
  };
  const events: AgentEvent[] = [];
  if (expiry.alert) {
    events.push({
      ...base,
      type: 'expiring',
      severity: expiry.severity === 'info' ? 'warning' : expiry.severity,
      message: `${result.endpoint} serves a certificate that ${expiry.message}`,
    });
  }
  const checks = assessment.problems.filter((p) => p !== 'expired');
  if (checks.length > 0) {
    events.push({
      ...base,
      type: 'verify_failed',
      severity: checks.includes('unreachable') ? 'warning' : 'critical',
      message: `${result.endpoint}: ${assessment.messages.filter((m) => !m.startsWith('expired')).join('; ')}`,
      error: assessment.messages.join('; '),
      code: checks[0]!.toUpperCase().replace(/-/g, '_'),
    });
  }
  if (events.length === 0 && wasAlerting)
    events.push({ ...base, type: 'recovered', severity: 'info', message: `${result.endpoint}: healthy again (${assessment.daysLeft ?? '?'} days left)` });
  return events;
}
