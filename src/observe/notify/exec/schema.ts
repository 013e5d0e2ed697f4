import { z } from 'zod';
import { argvCommand, durationMs, inheritEnvField } from '../../../core/fields.js';
import { deliveryFields, minIntervalField } from '../delivery-schema.js';

export const execNotifySchema = z
  .object({
    type: z.literal('exec'),
    /** argv of the command, e.g. ["/usr/local/bin/page-oncall"]; the event arrives in CERTKEEPER_* env. */
    command: argvCommand,
    timeout: durationMs.default(30_000),
    /** Working directory; resolve it against the config file's folder as for exec sinks. */
    cwd: z.string().min(1).optional(),
    /** Extra environment (values may use ${ENV}); cannot override CERTKEEPER_*; each value is treated as a secret and redacted. */
    env: z.record(z.string(), z.string()).default({}),
    /** More of certkeeper's environment than PATH, HOME, LANG, TZ: true, or a list of names. */
    inheritEnv: inheritEnvField,
    /** Least time between two requests (pacing; a 429's Retry-After pauses the target too). */
    minInterval: minIntervalField(0),
    ...deliveryFields,
  })
  .strict();

export type ExecNotifyConfig = z.infer<typeof execNotifySchema>;
