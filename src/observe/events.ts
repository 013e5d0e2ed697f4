// The alert vocabulary of the agent's one event stream (observe/stream.ts): what notifiers may
// deliver, metrics count and the log writes. The engine emits `obtaining` and `deployed`, verify
// its verdicts, the agent a batch's outcomes and a plan's expiry findings (engine/agent-events.ts),
// the Rehearser and the Watcher theirs. A leaf (it imports nothing): config's notify schema reads
// the event names from here.
//
// `expiring`: the certificate is inside its alert window and not renewed. `expired`: it is past
// notAfter and not renewed (from a plan, or from a renewal that failed after notAfter, then with
// the error): an escalation of its own, never a repeat of `expiring`.

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
