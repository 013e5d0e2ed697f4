import { z } from 'zod';
import { durationMs } from '../../../core/fields.js';
import { notifierKind } from '../contract.js';
import { CHAT_MIN_INTERVAL_MS, deliveryFields, minIntervalField, webhookUrl } from '../delivery-schema.js';

export const teamsNotifySchema = z
  .object({
    type: z.literal('teams'),
    /** The Workflows ("When a Teams webhook request is received") or incoming-webhook URL (a secret: ${ENV} or urlFile). */
    url: webhookUrl,
    timeout: durationMs.default(10_000),
    /** Least time between two requests (pacing; a 429's Retry-After pauses the target too). */
    minInterval: minIntervalField(CHAT_MIN_INTERVAL_MS),
    ...deliveryFields,
  })
  .strict();

export type TeamsNotifyConfig = z.infer<typeof teamsNotifySchema>;

export const teamsNotifyKind = notifierKind({ schema: teamsNotifySchema });
