// The fields every hook entry shares: the exec DNS provider, the exec sink and the exec notifier
// each run an operator command (argv, no shell) with a timeout, a working directory, extra
// environment and the variables it inherits. One definition, spread into each schema; each kind
// keeps its own default timeout.

import path from 'node:path';
import { z } from 'zod';
import { argvCommand, durationMs, inheritEnvField } from './fields.js';

export function execFields(defaults: { timeoutMs: number }) {
  return {
    /** argv of the command, e.g. ["systemctl", "reload", "nginx"]; data arrives in CERTKEEPER_* env. */
    command: argvCommand,
    timeout: durationMs.default(defaults.timeoutMs),
    /** Working directory of the command; default: the config file's folder, so "./hook.sh" works. */
    cwd: z.string().min(1).optional(),
    /** Extra environment (values may use ${ENV}); cannot override CERTKEEPER_*; each value is treated as a secret and redacted. */
    env: z.record(z.string(), z.string()).default({}),
    /** More of certkeeper's environment than PATH, HOME, LANG, TZ: true, or a list of names. */
    inheritEnv: inheritEnvField,
  };
}

/** A hook runs beside the config file unless its entry says where (`cwd:`, relative to that folder). */
export function resolveExecPaths<Config extends { cwd?: string | undefined }>(config: Config, baseDir: string): Config {
  return { ...config, cwd: path.resolve(baseDir, config.cwd ?? '.') };
}
