// Building the pino logger: JSON lines by default, human-readable on a TTY; every line passes
// through the Redactor (the shared secret registry, core/redaction.ts) before it is written.

import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { pino, type DestinationStream, type Level } from 'pino';
import type PinoPretty from 'pino-pretty';
import type { Logger } from '../core/logger.js';
import { censorSecretFields, Redactor } from './redact.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  level?: LogLevel;
  /** Human-readable lines instead of JSON (default: when the destination is a TTY). */
  pretty?: boolean;
  /** Where lines go (default: stderr, so stdout stays for command output). */
  destination?: { write(line: string): unknown };
  redactor?: Redactor;
  /** false turns colour off even on a terminal (NO_COLOR). */
  color?: boolean;
}

export interface BuiltLogger {
  logger: Logger;
  redactor: Redactor;
  /** The underlying pino instance (for flush and level changes). */
  pino: pino.Logger;
}

export function createLogger(options: LoggerOptions = {}): BuiltLogger {
  const redactor = options.redactor ?? new Redactor();
  const destination = options.destination ?? process.stderr;
  const isTty = destination === process.stderr && process.stderr.isTTY === true;
  const human = options.pretty ?? isTty;
  const colorize = options.color !== false && (isTty || (destination !== process.stderr && process.stderr.isTTY === true));
  const stream: DestinationStream = human
    ? loadPretty()({ destination: asWritable(destination), sync: true, colorize, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', singleLine: true })
    : { write: (line: string) => void destination.write(line) };
  const instance = pino(
    {
      level: (options.level ?? 'info') as Level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      // Secret fields by name in every object and child binding; then every written line by value.
      hooks: { streamWrite: (line: string) => redactor.scrub(line) },
      formatters: {
        level: (label: string) => ({ level: label }),
        log: (object: Record<string, unknown>) => censorSecretFields(object),
      },
    },
    stream,
  );
  // pino applies no formatter to child bindings; every child (and its children, which inherit
  // this method) gets its bindings censored here.
  type ChildFn = (this: unknown, bindings: pino.Bindings, options?: pino.ChildLoggerOptions) => pino.Logger;
  const pinoChild = instance.child as unknown as ChildFn;
  (instance as unknown as { child: ChildFn }).child = function (this: unknown, bindings, options) {
    return pinoChild.call(this, censorSecretFields(bindings), options);
  };
  return { logger: instance as unknown as Logger, redactor, pino: instance };
}

// pino-pretty (and its dependencies) only when lines are for humans: JSON runs, such as a cron'd
// `renew`, start faster without it. It is CommonJS, so a synchronous require keeps this sync.
function loadPretty(): typeof PinoPretty {
  return createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
}

/** pino-pretty needs a real stream; wrap plain `{ write }` sinks (e.g. the progress view). */
function asWritable(destination: { write(line: string): unknown }): NodeJS.WritableStream {
  if (destination instanceof Writable) return destination;
  return new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      destination.write(chunk.toString());
      callback();
    },
  });
}
