// The agent's one event stream (certmagic's habit), defined once: the engine and verify emit these
// events, and every subscriber reads them through one fan-out list (observe/subscribers.ts): the
// log, metrics, notifiers, the served-certificate metrics, and `renew`'s progress view.
//
// Two families share the one `type` discriminant:
// - a run's progress (`RunEvent`): what the engine is doing to one certificate right now;
// - the alerts (`AgentEvent`, observe/events.ts): what notifiers may deliver and metrics count.

import type { IssueStep } from '../issuers/contract.js';
import type { VerifyReport } from '../core/verify-report.js';
import { AGENT_EVENT_TYPES, type AgentEvent } from './events.js';

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

/** Every event on the stream: a run's progress or an alert. */
export type StreamEvent = RunEvent | AgentEvent;

export type StreamListener = (event: StreamEvent) => void;

const ALERT_TYPES: ReadonlySet<string> = new Set(AGENT_EVENT_TYPES);

/** Whether an event is of the alert vocabulary (what metrics and notifiers hear), not a run's progress. */
export function isAgentEvent(event: StreamEvent): event is AgentEvent {
  return ALERT_TYPES.has(event.type);
}
