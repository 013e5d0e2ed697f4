// What every command shares: global options, config loading, the logger, exit codes.

import { CertkeeperError } from '../core/errors.js';
import { registerSecrets } from '../core/redaction.js';
import type { Logger } from '../core/logger.js';
import { DEFAULT_CONFIG_PATH, loadConfigFile, type Config } from '../config/load.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../observe/logger.js';
import type { Redactor } from '../observe/redact.js';
import type { CommandIo, GlobalOptions } from './io.js';

export { defaultIo, EXIT_FAILED, EXIT_OK, EXIT_USAGE, reportError, type CommandIo, type GlobalOptions } from './io.js';

export function configPath(options: GlobalOptions, env: NodeJS.ProcessEnv): string {
  return options.config ?? env.CERTKEEPER_CONFIG ?? DEFAULT_CONFIG_PATH;
}

export function logLevel(options: GlobalOptions, env: NodeJS.ProcessEnv): LogLevel {
  const level = options.logLevel ?? env.CERTKEEPER_LOG_LEVEL ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new CertkeeperError('USAGE', `--log-level must be one of ${LOG_LEVELS.join(', ')}`, { retryable: false });
  }
  return level as LogLevel;
}

/**
 * Loads (or reloads) the config and registers its secrets, before anything can fail with them:
 * from here on every error, history line, status, alert and log line is scrubbed of them.
 */
export function loadConfig(options: GlobalOptions, io: CommandIo): Config {
  const config = loadConfigFile(configPath(options, io.env), { env: io.env });
  registerSecrets(config.secrets);
  return config;
}

export const LOG_FORMATS = ['json', 'pretty'] as const;

/** The log format asked for (--log-format, else CERTKEEPER_LOG_FORMAT); undefined: the command's default. */
export function logFormat(options: GlobalOptions, env: NodeJS.ProcessEnv): (typeof LOG_FORMATS)[number] | undefined {
  const format = options.logFormat ?? (env.CERTKEEPER_LOG_FORMAT || undefined);
  if (format === undefined) return undefined;
  if (!(LOG_FORMATS as readonly string[]).includes(format)) {
    throw new CertkeeperError('USAGE', `--log-format must be one of ${LOG_FORMATS.join(', ')}`, { retryable: false });
  }
  return format as (typeof LOG_FORMATS)[number];
}

/** https://no-color.org: a set, non-empty NO_COLOR turns colour off wherever it would be on. */
export function colorAllowed(env: NodeJS.ProcessEnv): boolean {
  return !env.NO_COLOR;
}

export interface CommandLogger {
  logger: Logger;
  redactor: Redactor;
  flush(): void;
}

export function commandLogger(
  options: GlobalOptions,
  io: CommandIo,
  config: Config | undefined,
  destination?: { write(line: string): unknown },
  pretty?: boolean,
  /** false where the command reports the config's warnings itself (doctor). */
  logWarnings = true,
): CommandLogger {
  const format = logFormat(options, io.env);
  const human = format !== undefined ? format === 'pretty' : pretty;
  const built = createLogger({
    level: logLevel(options, io.env),
    ...(destination ? { destination } : {}),
    ...(human !== undefined ? { pretty: human } : {}),
    color: colorAllowed(io.env),
  });
  if (config) built.redactor.add(config.secrets); // already there when loadConfig read it; kept for configs built otherwise
  if (config && logWarnings) logConfigWarnings(built.logger, config);
  return { logger: built.logger, redactor: built.redactor, flush: () => built.pino.flush() };
}

/** The config's warnings (config/warnings.ts), one log line each: every command that loads a config shows them. */
export function logConfigWarnings(logger: Logger, config: Config): void {
  for (const warning of config.warnings ?? []) logger.warn({ path: warning.path }, `config warning: ${warning.message}`);
}
