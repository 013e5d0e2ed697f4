// The agent's one event stream (certmagic's habit): the daemon turns what the engine reports
// into these events, and logs, metrics and notifiers all read them.

export const AGENT_EVENT_TYPES = ['obtaining', 'obtained', 'failed', 'deployed', 'deploy_failed', 'expiring', 'recovered', 'verified', 'verify_failed', 'rehearsal_failed', 'rehearsal_recovered'] as const;
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
  consecutiveFailures?: number;
  /** Days until the current certificate expires (null when there is none). */
  daysLeft?: number | null;
  /** The engine's action: issue, renew, deploy, dry-run. */
  action?: string;
  /** For verified / verify_failed and watched endpoints: what is served (new, old, unreachable) and where. */
  serving?: string;
  endpoint?: string;
}

export type AgentEventListener = (event: AgentEvent) => void;
