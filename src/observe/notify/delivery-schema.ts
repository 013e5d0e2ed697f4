// Options every notify target shares: which events it wants, how loud they must be, how often a
// repeat may be sent, how failures sharing a cause are grouped, how fast the target may be sent
// to, and how often a failed delivery is retried. Spread into each kind's schema.

import { z } from 'zod';
import { durationMs, longDurationMs } from '../../core/fields.js';
import { AGENT_EVENT_TYPES, SEVERITIES, type AgentEventType } from '../events.js';

/** What operators want by default: problems, and the all-clear after them. */
export const DEFAULT_NOTIFY_EVENTS: readonly AgentEventType[] = [
  'failed',
  'deploy_failed',
  'expiring',
  'expired',
  'recovered',
  'verify_failed',
  'rehearsal_failed',
  'rehearsal_recovered',
];
export const DEFAULT_REPEAT_AFTER_MS = 6 * 3_600_000;
export const DEFAULT_NOTIFY_RETRIES = 3;
export const DEFAULT_GROUP_WINDOW_MS = 30_000;
/** Alerts waiting per target before events are coalesced into waiting ones (`maxQueue`). */
export const DEFAULT_MAX_QUEUE = 100;
/** Below this, coalescing would merge unrelated outages into one "various causes" alert too soon. */
export const MIN_MAX_QUEUE = 16;
/** Above this, the saved outbox (one document, rewritten about every second) grows past reason. */
export const MAX_MAX_QUEUE = 1_000;
/** Slack takes about one message per second per webhook (429 beyond); Teams webhooks alike. */
export const CHAT_MIN_INTERVAL_MS = 1_000;

export const deliveryFields = {
  /** Event types this target gets. */
  events: z
    .array(z.enum(AGENT_EVENT_TYPES))
    .min(1, 'list at least one event type')
    .default([...DEFAULT_NOTIFY_EVENTS]),
  /**
   * Lowest severity delivered. `recovered` (severity info) ignores it: it goes to every target
   * that got the alert it ends, so nobody is left believing something is still broken.
   */
  minSeverity: z.enum(SEVERITIES).default('warning'),
  /** The same (certificate, event, severity) again within this time is suppressed; escalation and recovery always pass. */
  repeatAfter: longDurationMs.default(DEFAULT_REPEAT_AFTER_MS),
  /** Extra attempts after a failed delivery (with backoff). */
  retries: z.number().int().min(0).max(10).default(DEFAULT_NOTIFY_RETRIES),
  /**
   * Failures sharing a cause (DNS provider and code, CA and code, sink) within this window after
   * the first become one alert naming every certificate; the first goes out at once. 0: no grouping.
   */
  groupWindow: durationMs.refine((ms) => ms <= 3_600_000, 'at most 1h').default(DEFAULT_GROUP_WINDOW_MS),
  /**
   * Alerts that may wait for delivery (the outbox's bound). Beyond it nothing is dropped: events
   * are coalesced into waiting alerts of their type, and counted.
   */
  maxQueue: z.number().int().min(MIN_MAX_QUEUE).max(MAX_MAX_QUEUE).default(DEFAULT_MAX_QUEUE),
};

/** `minInterval`: the least time between two requests to the target (0: unpaced); per kind default. */
export function minIntervalField(defaultMs: number) {
  return durationMs.refine((ms) => ms <= 3_600_000, 'at most 1h').default(defaultMs);
}

/** An http(s) URL. The message never repeats the value: webhook URLs carry their credential. */
export const webhookUrl = z.string().refine((text) => {
  try {
    const url = new URL(text);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}, 'must be an http(s) URL (keep it secret: use ${ENV} or urlFile)');
