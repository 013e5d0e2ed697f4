import { z } from 'zod';
import { durationMs } from '../../../core/fields.js';
import { notifierKind } from '../contract.js';
import { deliveryFields, minIntervalField, webhookUrl } from '../delivery-schema.js';

export const webhookNotifySchema = z
  .object({
    type: z.literal('webhook'),
    /** Receiver URL (a secret: write ${ENV} or use urlFile). */
    url: webhookUrl,
    /** Extra request headers, e.g. { Authorization: "Bearer ${TOKEN}" }; never logged. */
    headers: z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name'), z.string()).default({}),
    /** Deadline of one delivery attempt. */
    timeout: durationMs.default(10_000),
    /** Least time between two requests (pacing; a 429's Retry-After pauses the target too). */
    minInterval: minIntervalField(0),
    ...deliveryFields,
  })
  .strict();

export type WebhookNotifyConfig = z.infer<typeof webhookNotifySchema>;

export const webhookNotifyKind = notifierKind({ schema: webhookNotifySchema, secretValues: (config) => Object.values(config.headers) });
