import { z } from 'zod';
import { durationMs, hostPort } from '../../../core/fields.js';
import { batchWindowField, propagationFields } from '../../fields.js';
import { TSIG_ALGORITHMS } from '../../wire/tsig-algorithms.js';

export { TSIG_ALGORITHMS };

export const rfc2136Schema = z
  .object({
    type: z.literal('rfc2136'),
    /** Primary server that accepts UPDATE messages, "host:port" (port 53 by default). */
    server: hostPort,
    /** Zone to update; discovered with an SOA query to `server` when absent. */
    zone: z.string().min(1).optional(),
    tsigKeyName: z.string().min(1),
    tsigAlgorithm: z.enum(TSIG_ALGORITHMS).default('hmac-sha256'),
    /** Base64 TSIG secret (secret: give it through ${ENV} or tsigSecretFile). */
    tsigSecret: z
      .string()
      .min(1)
      .refine((s) => /^[A-Za-z0-9+/]+={0,2}$/.test(s.trim()), 'must be base64'),
    ttl: z.number().int().min(0).max(86400).default(60),
    /** Timeout of one DNS exchange. */
    timeout: durationMs.default(5000),
    /** How long challenge records are collected before they go out as one UPDATE per zone. */
    batchWindow: batchWindowField,
    ...propagationFields,
  })
  .strict();

export type Rfc2136Config = z.infer<typeof rfc2136Schema>;
