import path from 'node:path';
import { z } from 'zod';
import { fileMode, sinkScopeField } from '../../core/fields.js';
import { sinkKind } from '../contract.js';
import { filesSinkDir, filesSinkPaths } from './paths.js';

export const filesSinkSchema = z
  .object({
    type: z.literal('files'),
    /** Among agents sharing a store: `local` deploys on every agent, `shared` once (see sinks/scope.ts). */
    scope: sinkScopeField,
    /** Target folder; `{cert}` is replaced by the certificate name. Becomes a symlink to a version folder. */
    dir: z.string().min(1),
    /** Mode of cert.pem, chain.pem, fullchain.pem (default 0644). */
    mode: fileMode.default(0o644),
    /** Mode of privkey.pem (default 0600; 0640 lets a group such as ssl-cert read it). */
    keyMode: fileMode.default(0o600),
    /** Owner and group, as names or numeric ids (needs privileges). */
    owner: z.union([z.string().min(1), z.number().int()]).optional(),
    group: z.union([z.string().min(1), z.number().int()]).optional(),
    /** Previous versions kept beside the live folder for rollback. */
    keep: z.number().int().min(0).max(100).default(1),
  })
  .strict();

export type FilesSinkConfig = z.infer<typeof filesSinkSchema>;

/** Writes files on this host: deployed by every agent listing it, and it says where its files are. */
export const filesSinkKind = sinkKind({
  schema: filesSinkSchema,
  capabilities: { writesFiles: true, reloads: false, scope: 'local' },
  locate: (config, certName) => filesSinkPaths(filesSinkDir(config, certName)),
  resolvePaths: (config, baseDir) => ({ ...config, dir: path.resolve(baseDir, config.dir) }),
});
