import { z } from 'zod';
import { durationMs } from '../../../core/fields.js';
import { notifierKind } from '../contract.js';
import { CHAT_MIN_INTERVAL_MS, deliveryFields, minIntervalField, webhookUrl } from '../delivery-schema.js';

export const slackNotifySchema = z
  .object({
    type: z.literal('slack'),
    /** The incoming-webhook URL, https://hooks.slack.com/services/… (a secret: ${ENV} or urlFile). */
    url: webhookUrl,
    /** Send Block Kit blocks besides the plain `text` (set false for receivers that only read `text`). */
    blocks: z.boolean().default(true),
    timeout: durationMs.default(10_000),
    /** Least time between two requests (pacing; a 429's Retry-After pauses the target too). */
    minInterval: minIntervalField(CHAT_MIN_INTERVAL_MS),
    ...deliveryFields,
  })
  .strict();

export type SlackNotifyConfig = z.infer<typeof slackNotifySchema>;

export const slackNotifyKind = notifierKind({ schema: slackNotifySchema });
