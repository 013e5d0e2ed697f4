import { z } from 'zod';
import { argvCommand, durationMs, inheritEnvField, sinkScopeField } from '../../core/fields.js';
import { sinkKind } from '../contract.js';

export const execSinkSchema = z
  .object({
    type: z.literal('exec'),
    /** Among agents sharing a store: `local` deploys on every agent, `shared` once (see sinks/scope.ts). */
    scope: sinkScopeField,
    /** argv of the command, e.g. ["systemctl", "reload", "nginx"]; data arrives in CERTKEEPER_* env. */
    command: argvCommand,
    timeout: durationMs.default(60_000),
    /** Working directory of the command; default: the config file's folder, so "./hook.sh" works. */
    cwd: z.string().min(1).optional(),
    /** Extra environment (values may use ${ENV}); each value is treated as a secret and redacted. */
    env: z.record(z.string(), z.string()).default({}),
    /** More of certkeeper's environment than PATH, HOME, LANG, TZ: true, or a list of names. */
    inheritEnv: inheritEnvField,
  })
  .strict();

export type ExecSinkConfig = z.infer<typeof execSinkSchema>;

/** Runs a command on this host (deployed by every agent listing it); it writes no files of its own. */
export const execSinkKind = sinkKind({ schema: execSinkSchema, capabilities: { writesFiles: false, scope: 'local' } });
