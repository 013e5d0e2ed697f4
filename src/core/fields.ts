// Reusable zod fields for config schemas: durations, host:port, argv commands, file modes.

import { z } from 'zod';
import { formatDuration, MAX_TIMER_MS, parseDuration } from './duration.js';

/** A duration such as "120s" or "30d", parsed to milliseconds, with no upper bound (see durationMs). */
export const longDurationMs = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined || !Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration (e.g. 90s, 15m, 12h, 30d)` });
    return z.NEVER;
  }
  return ms;
});

/**
 * A duration that may feed a timer (a timeout, an interval): at most 2^31-1 ms (~24.8 days), past
 * which setTimeout fires after 1 ms. Bounded by default, so a new timeout field cannot forget it;
 * only values that never reach a timer as such (lifetimes, backoff, rehearsal periods) are long.
 */
export const durationMs = longDurationMs.refine((ms) => ms <= MAX_TIMER_MS, {
  message: `too long: at most ${formatDuration(MAX_TIMER_MS)} (a timer cannot wait longer)`,
});

export interface HostPort {
  host: string;
  port: number;
}

export function parseHostPort(text: string, defaultPort = 53): HostPort | undefined {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const plain = /^([^:\s]+)(?::(\d+))?$/.exec(text);
  const match = bracketed ?? plain;
  if (!match) {
    // A bare IPv6 address without brackets and without port.
    if (/^[0-9a-fA-F:]+$/.test(text) && text.includes(':')) return { host: text, port: defaultPort };
    return undefined;
  }
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host: match[1]!, port };
}

/** "host" or "host:port" (default port 53), kept as text; parse with parseHostPort. */
export const hostPort = z.string().refine((text) => parseHostPort(text) !== undefined, {
  message: 'must be "host" or "host:port" (IPv6 as "[::1]:53")',
});

/** An argv array: the program and its arguments, never a shell string. */
export const argvCommand = z.array(z.string().min(1), { error: 'must be a list: [program, arg, ...] (no shell string)' }).min(1, 'must name a program');

/** A Unix file mode written as "0640" or 640 (YAML reads an unquoted 0640 as the number 640,
 *  so a number's decimal digits are read as octal digits). */
export const fileMode = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const text = String(value).trim();
  if (!/^0?[0-7]{3}$/.test(text)) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a file mode (e.g. "0640")` });
    return z.NEVER;
  }
  return parseInt(text, 8);
});

/** Propagation check settings shared by DNS providers. */
export const propagationSchema = z
  .object({
    nameservers: z.array(hostPort).min(1).optional(),
    timeout: durationMs.optional(),
    interval: durationMs.optional(),
  })
  .strict();

/**
 * A hook's `inheritEnv:`: hooks get a minimal environment (core/exec.ts); `true` passes all of
 * certkeeper's, a list passes those variables as well.
 */
export const inheritEnvField = z
  .union([z.boolean(), z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'))], {
    error: 'must be true, false or a list of environment variable names',
  })
  .default(false);

/**
 * A sink's `scope:` among agents sharing one store: `local` sinks (files, exec by default) are
 * deployed by every agent that lists them, on its own host; `shared` ones (ACM, a Kubernetes
 * Secret) once, by whichever agent holds the certificate's lock.
 */
export const sinkScopeField = z.enum(['local', 'shared'], { error: 'must be "local" or "shared"' }).optional();

/** An ISO 8601 time as certkeeper writes them (Date#toISOString); anything Date.parse cannot read is damage. */
export const storedTime = z.string().refine((text) => !Number.isNaN(Date.parse(text)), 'not a date and time');
