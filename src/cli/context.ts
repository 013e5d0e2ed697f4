// What every command shares: global options, config loading, the logger, exit codes.

import { systemClock, type Clock } from '../core/clock.js';
import { CertkeeperError, describeError, isCertkeeperError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfigFile, type Config } from '../config/load.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../observe/logger.js';
import type { Redactor } from '../observe/redact.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export interface GlobalOptions {
  config?: string;
  logLevel?: string;
}

export interface CommandIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  clock: Clock;
}

export const defaultIo = (): CommandIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env, clock: systemClock });

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

export function loadConfig(options: GlobalOptions, io: CommandIo): Config {
  return loadConfigFile(configPath(options, io.env), { env: io.env });
}

export interface CommandLogger {
  logger: Logger;
  redactor: Redactor;
  flush(): void;
}

export function commandLogger(options: GlobalOptions, io: CommandIo, config: Config | undefined, destination?: { write(line: string): unknown }, pretty?: boolean): CommandLogger {
  const built = createLogger({
    level: logLevel(options, io.env),
    ...(destination ? { destination } : {}),
    ...(pretty !== undefined ? { pretty } : {}),
  });
  if (config) built.redactor.add(config.secrets);
  return { logger: built.logger, redactor: built.redactor, flush: () => built.pino.flush() };
}

/** Prints an error the way an operator needs it at 3 a.m.: what failed, and the exit code it means. */
export function reportError(error: unknown, io: CommandIo): number {
  if (error instanceof ConfigError) {
    io.stderr.write(`certkeeper: ${error.message}\n`);
    return EXIT_USAGE;
  }
  if (isCertkeeperError(error, 'USAGE') || isCertkeeperError(error, 'CONFIG_INVALID')) {
    io.stderr.write(`certkeeper: ${error.message}\n`);
    return EXIT_USAGE;
  }
  const code = isCertkeeperError(error) ? ` [${error.code}]` : '';
  io.stderr.write(`certkeeper: error${code}: ${describeError(error)}\n`);
  return EXIT_FAILED;
}
