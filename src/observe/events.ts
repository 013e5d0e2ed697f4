// The agent's one event stream (certmagic's habit), defined once: the engine and verify emit these
// events, and every subscriber reads them through one fan-out list (observe/subscribers.ts): the
// log, metrics, notifiers, the served-certificate metrics, and `renew`'s progress view.
//
// Two families share the one `type` discriminant:
// - a run's progress (`RunEvent`): what the engine is doing to one certificate right now;
// - the alert vocabulary (`AgentEvent`, its types in AGENT_EVENT_TYPES): what notifiers may
//   deliver, metrics count and the log writes. The engine emits `obtaining` and `deployed`, verify
//   its verdicts, the agent a batch's outcomes and a plan's expiry findings (engine/agent-events.ts).
//
// `expiring`: the certificate is inside its alert window and not renewed. `expired`: it is past
// notAfter and not renewed (from a plan, or from a renewal that failed after notAfter, then with
// the error): an escalation of its own, never a repeat of `expiring`.

import type { IssueStep } from '../issuers/contract.js';
import type { VerifyReport } from '../verify/report.js';

export type PlannedAction = 'issue' | 'renew' | 'deploy' | 'dry-run' | 'skip';

/** What one run did to one certificate (renew's result, carried by `cert_done`). */
export interface CertOutcome {
  cert: string;
  action: PlannedAction;
  result: 'success' | 'failure' | 'skipped';
  reason: string;
  message: string;
  serial: string | null;
  notAfter: string | null;
  durationMs: number;
  /** Sinks deployed in this run. */
  deployed: string[];
  error?: string;
  code?: string;
  failedSink?: string;
  /** When the certificate has `verify:` endpoints and was deployed in this run: what they serve. */
  verify?: VerifyReport;
}

/** A run's progress: the engine's plan, steps and outcome for each certificate. */
export type RunEvent =
  | { type: 'lock_wait'; holder: string }
  | { type: 'cert_planned'; cert: string; action: PlannedAction; reason: string; message: string }
  | { type: 'cert_step'; cert: string; step: IssueStep | 'stored' | 'deploying' | 'verifying'; detail?: string }
  | { type: 'cert_done'; outcome: CertOutcome };

export const AGENT_EVENT_TYPES = [
  'obtaining',
  'obtained',
  'failed',
  'deployed',
  'deploy_failed',
  'expiring',
  'expired',
  'recovered',
  'verified',
  'verify_failed',
  'rehearsal_failed',
  'rehearsal_recovered',
] as const;
export type AgentEventType = (typeof AGENT_EVENT_TYPES)[number];

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface AgentEvent {
  type: AgentEventType;
  /** ISO 8601, from the injected clock. */
  at: string;
  cert: string;
  domains: string[];
  severity: Severity;
  /** One human line, e.g. "renewal of www failed: the CA saw no TXT record". */
  message: string;
  serial?: string | null;
  notAfter?: string | null;
  /** For deployed / deploy_failed. */
  sink?: string;
  /** For failures: the error text and its code. */
  error?: string;
  code?: string;
  /**
   * For renewal failures: the certificate's DNS provider (config name) and its CA (issuer names,
   * comma-separated when it has a fallback list). With `code` and `sink` they say what failures
   * share a cause, so notifiers send one alert per outage (notify/alert.ts).
   */
  provider?: string;
  issuer?: string;
  consecutiveFailures?: number;
  /** Days until the current certificate expires (null when there is none). */
  daysLeft?: number | null;
  /** The engine's action: issue, renew, deploy, dry-run. */
  action?: string;
  /** For verified / verify_failed and watched endpoints: what is served (new, old, unreachable) and where. */
  serving?: string;
  endpoint?: string;
}

/** Every event on the stream: a run's progress or an alert. */
export type StreamEvent = RunEvent | AgentEvent;

export type StreamListener = (event: StreamEvent) => void;

const ALERT_TYPES: ReadonlySet<string> = new Set(AGENT_EVENT_TYPES);

/** Whether an event is of the alert vocabulary (what metrics and notifiers hear), not a run's progress. */
export function isAgentEvent(event: StreamEvent): event is AgentEvent {
  return ALERT_TYPES.has(event.type);
}
