// The one redaction list: secret field names (config/secrets.ts) at any depth, PEM private
// keys wherever they appear, and every secret value the config holds, by value.

import { SECRET_FIELDS } from '../config/secrets.js';

export const REDACTED = '[REDACTED]';

const PRIVATE_KEY_PEM = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g;

const SECRET_KEYS: ReadonlySet<string> = new Set(SECRET_FIELDS);
/** Deeper than any log object certkeeper writes; past it, the by-value scrub still applies. */
const MAX_DEPTH = 8;

/**
 * `value` with every secret field (SECRET_FIELDS, at any depth) replaced by REDACTED. Objects are
 * copied only where they hold one, and the caller's objects are never changed. Used as pino's
 * `formatters.log` / `bindings`: one walk per line, where pino's own `redact` (48 wildcard paths)
 * cost a cold `renew` tens of milliseconds and megabytes for a hundred lines.
 */
export function censorSecretFields<T>(value: T, depth = 0): T {
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item: unknown, index) => {
      const censored = censorSecretFields(item, depth + 1);
      if (censored !== item) (copy ??= [...value])[index] = censored;
    });
    return (copy ?? value) as T;
  }
  const prototype = Object.getPrototypeOf(value) as object | null;
  const isError = value instanceof Error;
  if (prototype !== Object.prototype && prototype !== null && !isError) return value; // Dates, Buffers, class instances
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value)) {
    const censored = SECRET_KEYS.has(key) ? REDACTED : censorSecretFields(item, depth + 1);
    if (censored === item) continue;
    // An error keeps its class, message and stack (own, not enumerable) for pino's err serializer.
    copy ??= isError
      ? (Object.assign(Object.create(prototype) as object, value, { message: value.message, stack: value.stack }) as Record<string, unknown>)
      : { ...(value as Record<string, unknown>) };
    copy[key] = censored;
  }
  return (copy ?? value) as T;
}

/** Scrubs a serialised log line of private keys and of every known secret value. */
export class Redactor {
  private values: string[] = [];

  /** Registers secret values (TSIG secrets, EAB keys, ...) to scrub by value. */
  add(values: Iterable<string>): void {
    for (const value of values) {
      if (value.length < 4 || this.values.includes(value)) continue;
      this.values.push(value);
      const escaped = JSON.stringify(value).slice(1, -1);
      if (escaped !== value) this.values.push(escaped);
    }
    // Longest first, so a secret containing another is scrubbed whole.
    this.values.sort((a, b) => b.length - a.length);
  }

  scrub(line: string): string {
    let out = line.replace(PRIVATE_KEY_PEM, REDACTED);
    for (const value of this.values) {
      if (out.includes(value)) out = out.split(value).join(REDACTED);
    }
    return out;
  }
}
