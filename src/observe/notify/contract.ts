// The Notifier contract: one configured `notify.<name>` target that can deliver one agent event.
// Filtering, repeat suppression, retries and deadlines belong to the Dispatcher, not here.

import type { Logger } from '../../core/logger.js';
import type { AgentEvent } from '../events.js';

export interface Notifier {
  /** The target's config name, e.g. "ops-slack". */
  readonly name: string;
  /** Its kind: webhook, slack, teams, exec. */
  readonly type: string;
  /**
   * Delivers one event. Rejects with a CertkeeperError whose `retryable` says whether another
   * attempt could help (and `retryAfterSeconds` when the receiver asked to wait). `signal`
   * aborts at the attempt's deadline or at shutdown. Messages never contain the target URL.
   */
  send(event: AgentEvent, signal: AbortSignal): Promise<void>;
}

export interface NotifierContext {
  name: string;
  logger: Logger;
}
