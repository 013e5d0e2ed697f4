// Log redaction: secret field names (core/secret-fields.ts) at any depth, then, by value, PEM
// private keys and every secret in the one registry (core/redaction.ts), the same list errors
// are scrubbed with where they enter certkeeper.

import { SECRET_FIELDS } from '../core/secret-fields.js';
import { REDACTED, redactText, registerSecrets } from '../core/redaction.js';

export { REDACTED };

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

/**
 * Scrubs a serialised log line of private keys and of every known secret value. A view of the
 * shared registry, not a list of its own: what one logger learns, errors and every other logger
 * know too.
 */
export class Redactor {
  /** Registers secret values (TSIG secrets, EAB keys, ...) to scrub by value, everywhere. */
  add(values: Iterable<string>): void {
    registerSecrets(values);
  }

  scrub(line: string): string {
    return redactText(line);
  }
}
