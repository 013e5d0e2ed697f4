import { z } from 'zod';
import { execFields, resolveExecPaths } from '../../../core/exec-fields.js';
import { notifierKind } from '../contract.js';
import { deliveryFields, minIntervalField } from '../delivery-schema.js';

export const execNotifySchema = z
  .object({
    type: z.literal('exec'),
    /** The command (argv, no shell) and how it runs; the event arrives in CERTKEEPER_* env (core/exec-fields.ts). */
    ...execFields({ timeoutMs: 30_000 }),
    /** Least time between two requests (pacing; a 429's Retry-After pauses the target too). */
    minInterval: minIntervalField(0),
    ...deliveryFields,
  })
  .strict();

export type ExecNotifyConfig = z.infer<typeof execNotifySchema>;

export const execNotifyKind = notifierKind({ schema: execNotifySchema, resolvePaths: resolveExecPaths });
