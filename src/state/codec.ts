// Stored values in and out: JSON through a zod codec. Whatever a backend hands back is parsed
// before any code sees it, so a hand-edited, truncated or foreign value is STATE_CORRUPT with
// the key that holds it, never an `as` cast that fails three calls later.

import { z } from 'zod';
import { CertkeeperError } from '../core/errors.js';
import { storedTime } from '../core/fields.js';
import type { StateStore } from './contract.js';

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
  } catch {
    // Not the parser's error as the cause: V8 quotes the text around the fault, which may be a key.
    throw new CertkeeperError('STATE_CORRUPT', `stored ${key} is not valid JSON`, { retryable: false });
  }
  return parseStored(schema, value, key);
}

/**
 * Parses a value already read from `key` (a getSinkState or getIssuerState answer, agent data)
 * with the codec of whoever wrote it; STATE_CORRUPT naming the key and the first bad field when
 * it is not what the codec says. The message never quotes the value (it may hold a secret).
 */
export function parseStored<S extends z.ZodType>(schema: S, value: unknown, key: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first && first.path.length > 0 ? ` at ${first.path.join('.')}` : '';
    throw new CertkeeperError('STATE_CORRUPT', `stored ${key} is not valid${where}: ${first?.message ?? 'unknown problem'}`, { retryable: false });
  }
  return parsed.data;
}

/** The storage key of a certificate's named data (StateStore.getSinkState), as messages name it. */
export function certificateDataKey(certName: string, entry: string): string {
  return `certs/${certName}/data/${entry}`;
}

/** Defined in core (the verify report's codec, below state, reads it too). */
export { storedTime };

/**
 * A certificate's named data (an ACM ARN, the ARI window, the last verification, the challenge
 * ledger) parsed with the codec of the code that writes it: undefined when none is stored,
 * STATE_CORRUPT naming its key when it is not what the codec says. The caller decides what a
 * damaged value means for it.
 */
export async function readCertificateData<S extends z.ZodType>(
  store: Pick<StateStore, 'getSinkState'>,
  certName: string,
  entry: string,
  codec: S,
): Promise<z.output<S> | undefined> {
  const value = await store.getSinkState(certName, entry);
  return value === undefined ? undefined : parseStored(codec, value, certificateDataKey(certName, entry));
}
