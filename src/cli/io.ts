// What the command line needs before a command is chosen: its streams and clock, the global
// options, exit codes, and printing an error. Kept free of config and logging code, so
// `--help` and `--version` load almost nothing (context.ts has the rest).

import { systemClock, type Clock } from '../core/clock.js';
import { describeError, isCertkeeperError } from '../core/errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export interface GlobalOptions {
  config?: string;
  logLevel?: string;
  /** json or pretty (env CERTKEEPER_LOG_FORMAT); default: pretty on a terminal, JSON otherwise. */
  logFormat?: string;
}

export interface CommandIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  clock: Clock;
}

export const defaultIo = (): CommandIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env, clock: systemClock });

/** Prints an error the way an operator needs it at 3 a.m.: what failed, and the exit code it means. */
export function reportError(error: unknown, io: CommandIo): number {
  // A bad config (ConfigError, code CONFIG_INVALID) lists its problems in its message.
  if (isCertkeeperError(error, 'USAGE') || isCertkeeperError(error, 'CONFIG_INVALID')) {
    io.stderr.write(`certkeeper: ${error.message}\n`);
    return EXIT_USAGE;
  }
  const code = isCertkeeperError(error) ? ` [${error.code}]` : '';
  io.stderr.write(`certkeeper: error${code}: ${describeError(error)}\n`);
  return EXIT_FAILED;
}
