// The Notifier contract: one configured `notify.<name>` target that can deliver one alert (one
// certificate's event, or a group of certificates sharing a cause, or a test). Filtering, repeat
// suppression, grouping, pacing, retries and deadlines belong to the Dispatcher, not here.

import type { z } from 'zod';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { PluginEntry } from '../../core/registry.js';
import type { Alert } from './alert.js';

export interface Notifier {
  /** The target's config name, e.g. "ops-slack". */
  readonly name: string;
  /** Its kind: webhook, slack, teams, exec. */
  readonly type: string;
  /**
   * Delivers one alert. Resolves only once the receiver accepted it (2xx, exit 0). Rejects with a
   * CertkeeperError whose `retryable` says whether another attempt could help (and
   * `retryAfterSeconds` when the receiver asked to wait). `signal` aborts at the attempt's deadline
   * or at shutdown. Messages never contain the target URL.
   */
  send(alert: Alert, signal: AbortSignal): Promise<void>;
}

export interface NotifierContext {
  name: string;
  logger: Logger;
  /** Reads a receiver's Retry-After date when its answer has no `Date`; default: the system clock. */
  clock?: Clock;
}

/** A notifier kind without its code: what loading the config needs (observe/notify/schema.ts). */
export interface NotifierKind<Schema extends z.ZodType> extends PluginEntry<Schema> {
  /** Values of an entry to keep out of logs besides its secret fields (webhook header values: tokens). */
  secretValues?(config: z.output<Schema>): string[];
}

/** Ties an entry's functions to its schema's output type. */
export function notifierKind<Schema extends z.ZodType>(entry: NotifierKind<Schema>): NotifierKind<Schema> {
  return entry;
}

export type { Alert } from './alert.js';
