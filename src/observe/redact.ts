// The one redaction list: secret field names (config/secrets.ts) at any depth, PEM private
// keys wherever they appear, and every secret value the config holds, by value.

import { SECRET_FIELDS } from '../config/secrets.js';

export const REDACTED = '[REDACTED]';

const PRIVATE_KEY_PEM = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g;

/** pino `redact.paths`: each secret field at the top and up to three levels down. */
export function redactPaths(): string[] {
  const paths: string[] = [];
  for (const field of SECRET_FIELDS) {
    paths.push(field, `*.${field}`, `*.*.${field}`, `*.*.*.${field}`);
  }
  return paths;
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
