// Stored values in and out: JSON through a zod codec. Whatever a backend hands back is parsed
// before any code sees it, so a hand-edited, truncated or foreign value is STATE_CORRUPT with
// the key that holds it, never an `as` cast that fails three calls later.

import type { z } from 'zod';
import { CertkeeperError } from '../core/errors.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(`${JSON.stringify(value)}\n`);
}

/** Parses bytes read at `key` with `schema`; STATE_CORRUPT when they are not what it says. */
export function decodeJson<S extends z.ZodType>(schema: S, bytes: Uint8Array, key: string): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch (error) {
    throw new CertkeeperError('STATE_CORRUPT', `stored ${key} is not valid JSON`, { cause: error, retryable: false });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first && first.path.length > 0 ? ` at ${first.path.join('.')}` : '';
    throw new CertkeeperError('STATE_CORRUPT', `stored ${key} is not valid${where}: ${first?.message ?? 'unknown problem'}`, { retryable: false });
  }
  return parsed.data;
}
