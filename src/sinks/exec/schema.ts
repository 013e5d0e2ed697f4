import { z } from 'zod';
import { execFields, resolveExecPaths } from '../../core/exec-fields.js';
import { sinkScopeField } from '../../core/fields.js';
import { sinkKind } from '../contract.js';

export const execSinkSchema = z
  .object({
    type: z.literal('exec'),
    /** Among agents sharing a store: `local` deploys on every agent, `shared` once (see sinks/scope.ts). */
    scope: sinkScopeField,
    /** The command (argv, no shell) and how it runs; data arrives in CERTKEEPER_* env (core/exec-fields.ts). */
    ...execFields({ timeoutMs: 60_000 }),
  })
  .strict();

export type ExecSinkConfig = z.infer<typeof execSinkSchema>;

/** Runs a command on this host (deployed by every agent listing it); it writes no files of its own. */
export const execSinkKind = sinkKind({
  schema: execSinkSchema,
  capabilities: { writesFiles: false, reloads: true, scope: 'local' },
  resolvePaths: resolveExecPaths,
});
