// The one registry of secret values certkeeper knows (TSIG secrets, EAB keys, AWS keys, webhook
// URLs and tokens, hook `env:` values, ...) and the scrub that removes them, and PEM private keys,
// from text. Errors apply it where they enter certkeeper (the CertkeeperError constructor and
// describeError, core/errors.ts); the logger applies it to every line (observe/redact.ts).
//
// Module-level state on purpose (STYLE.md frowns on it): errors are constructed in hundreds of
// places, deep in providers, sinks and stores, and a redactor threaded to each of them is exactly
// what leaked (the logger had one; history, status and alerts did not). The registry only grows:
// a secret dropped by a config reload may still sit in an error made before it.

export const REDACTED = '[REDACTED]';

/** Shorter values would redact ordinary words and numbers everywhere; no real secret is this short. */
const MIN_LENGTH = 4;

const PRIVATE_KEY_PEM = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g;

/** Past this depth, details are left as they are (certkeeper's own details are flat). */
const MAX_DEPTH = 6;

/** Every form to scrub, longest first so a secret containing another is scrubbed whole. */
let forms: string[] = [];
const known = new Set<string>();

/** Registers secret values to scrub from now on; empty, short and repeated values are ignored. */
export function registerSecrets(values: Iterable<string | undefined | null>): void {
  let added = false;
  for (const value of values) {
    if (typeof value !== 'string' || value.length < MIN_LENGTH || known.has(value)) continue;
    known.add(value);
    added = true;
    forms.push(value);
    // As it appears inside a JSON string (a log line, an event body): quotes, backslashes, newlines escaped.
    const escaped = JSON.stringify(value).slice(1, -1);
    if (escaped !== value) forms.push(escaped);
    // A multi-line secret (a PEM, a file) is often quoted a line at a time.
    if (value.includes('\n')) for (const line of value.split(/\r?\n/)) if (line.trim().length >= 16) forms.push(line.trim());
  }
  if (added) forms = [...new Set(forms)].sort((a, b) => b.length - a.length);
}

/** `text` with PEM private keys and every registered secret replaced by REDACTED. */
export function redactText(text: string): string {
  let out = text.includes('PRIVATE KEY-----') ? text.replace(PRIVATE_KEY_PEM, REDACTED) : text;
  for (const form of forms) {
    if (out.includes(form)) out = out.split(form).join(REDACTED);
  }
  return out;
}

/**
 * `value` with redactText applied to every string in it, through plain objects and arrays.
 * Copies only what changes; the caller's objects are never modified.
 */
export function redactStrings<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return redactText(value) as T;
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item: unknown, index) => {
      const redacted = redactStrings(item, depth + 1);
      if (redacted !== item) (copy ??= [...value])[index] = redacted;
    });
    return (copy ?? value) as T;
  }
  const prototype = Object.getPrototypeOf(value) as object | null;
  if (prototype !== Object.prototype && prototype !== null) return value; // Errors, Dates, Buffers: not data we copy
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value)) {
    const redacted = redactStrings(item, depth + 1);
    if (redacted !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = redacted;
  }
  return (copy ?? value) as T;
}
