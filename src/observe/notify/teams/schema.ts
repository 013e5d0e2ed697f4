import { z } from 'zod';
import { durationMs } from '../../../core/fields.js';
import { deliveryFields, webhookUrl } from '../delivery-schema.js';

export const teamsNotifySchema = z
  .object({
    type: z.literal('teams'),
    /** The Workflows ("When a Teams webhook request is received") or incoming-webhook URL (a secret: ${ENV} or urlFile). */
    url: webhookUrl,
    timeout: durationMs.default(10_000),
    ...deliveryFields,
  })
  .strict();

export type TeamsNotifyConfig = z.infer<typeof teamsNotifySchema>;
