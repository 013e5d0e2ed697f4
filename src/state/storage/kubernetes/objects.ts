// The contents of one certkeeper object (a Secret or a ConfigMap): the keys it holds, each with
// its bytes, its version and when it was written, and the bounded logs of a record object. Pure:
// decoding what the API returned and encoding what goes back, with the API server's 1 MiB data
// limit checked before anything is sent.

import { z } from 'zod';
import { CertkeeperError } from '../../../core/errors.js';
import type { LogEntry, StoredValue } from '../contract.js';
import type { ObjectKind } from './names.js';

/** Labels on every object of one store: how a list or watch finds them. */
export const MANAGED_BY = 'app.kubernetes.io/managed-by';
export const STORE_LABEL = 'certkeeper.io/store';
/** What the object holds, for people. */
export const HOLDS_ANNOTATION = 'certkeeper.io/holds';
/** Which Storage instance wrote last: its own watch skips its own writes. */
export const WRITER_ANNOTATION = 'certkeeper.io/writer';

const ENTRIES = 'entries.json';
const LOG_FIELD = /^log\.([A-Za-z0-9_-][A-Za-z0-9._-]*)\.json$/;

/** The API server refuses a Secret's or ConfigMap's data over 1 MiB; we stop a little before. */
export const DATA_LIMIT = 1024 * 1024 - 8 * 1024;

/** One row of a bounded log field (log.<name>.json); a row that is not one is skipped, as a torn line of a log file is. */
const logRowCodec = z.object({ at: z.string(), subject: z.string(), kind: z.string(), body: z.string() });

export type LogRow = z.infer<typeof logRowCodec>;

export interface ObjectState {
  entries: Map<string, StoredValue>;
  logs: Map<string, LogRow[]>;
  /** A certificate Secret's tls.crt / tls.key as found (derived fields: see tls-projection.ts). */
  tls: { crt?: string; key?: string };
}

/** The parts of a Secret or ConfigMap this module reads and writes. */
export interface KubeObject {
  metadata?: { name?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  type?: string;
  data?: Record<string, string>;
}

/** entries.json: each key with its version, when it was written and its bytes (base64). */
const entriesCodec = z.record(z.string(), z.object({ v: z.string(), at: z.string(), b: z.string() }));

type EntryJson = z.infer<typeof entriesCodec>[string];

export function emptyState(): ObjectState {
  return { entries: new Map(), logs: new Map(), tls: {} };
}

/** The keys and logs of an object as the API returned it; STATE_CORRUPT when its fields do not parse. */
export function decodeObject(kind: ObjectKind, object: KubeObject, where: string): ObjectState {
  const state = emptyState();
  for (const [field, raw] of Object.entries(object.data ?? {})) {
    const text = kind === 'secrets' ? Buffer.from(raw, 'base64').toString('utf8') : raw;
    if (field === ENTRIES) {
      const parsed = entriesCodec.safeParse(parseJson(text, `${where}: ${field}`));
      if (!parsed.success) {
        const key = parsed.error.issues[0]?.path[0];
        throw corrupt(key === undefined ? `${where}: ${field} does not map keys to entries` : `${where}: ${field}: the entry ${String(key)} is not {v, at, b}`);
      }
      for (const [key, entry] of Object.entries(parsed.data)) {
        const bytes = Buffer.from(entry.b, 'base64');
        state.entries.set(key, { value: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), version: entry.v, modifiedAt: new Date(entry.at) });
      }
      continue;
    }
    const log = LOG_FIELD.exec(field)?.[1];
    if (log) {
      const rows = parseJson(text, `${where}: ${field}`);
      if (!Array.isArray(rows)) throw corrupt(`${where}: ${field} is not a list`);
      state.logs.set(
        log,
        rows.flatMap((row) => {
          const parsed = logRowCodec.safeParse(row);
          return parsed.success ? [parsed.data] : [];
        }),
      );
    }
    if (field === 'tls.crt') state.tls.crt = text;
    if (field === 'tls.key') state.tls.key = text;
  }
  return state;
}

/** The `data` of an object holding `state`; STATE_IO when it would pass the API server's limit. */
export function encodeData(kind: ObjectKind, state: ObjectState, where: string, derived: Record<string, string> = {}): Record<string, string> {
  const fields: Record<string, string> = { ...derived };
  const entries: Record<string, EntryJson> = {};
  for (const key of [...state.entries.keys()].sort()) {
    const stored = state.entries.get(key)!;
    entries[key] = { v: stored.version, at: stored.modifiedAt.toISOString(), b: Buffer.from(stored.value).toString('base64') };
  }
  fields[ENTRIES] = JSON.stringify(entries);
  for (const [log, rows] of state.logs) fields[`log.${log}.json`] = JSON.stringify(rows);
  let size = 0;
  for (const [field, text] of Object.entries(fields)) size += field.length + Buffer.byteLength(text);
  if (size > DATA_LIMIT) {
    throw new CertkeeperError('STATE_IO', `not written: ${where} would hold ${size} bytes, past the Kubernetes API's 1 MiB limit for one object`, {
      retryable: false,
      details: { bytes: size },
    });
  }
  if (kind === 'configmaps') return fields;
  return Object.fromEntries(Object.entries(fields).map(([field, text]) => [field, Buffer.from(text).toString('base64')]));
}

/** A log row as the contract's entry. */
export function toLogEntry(row: LogRow): LogEntry {
  return { at: new Date(row.at), subject: row.subject, kind: row.kind, body: row.body };
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Not the parser's error as the cause: V8 quotes the text around the fault (a Secret's key).
    throw corrupt(`${where} is not JSON`);
  }
}

function corrupt(message: string, cause?: unknown): CertkeeperError {
  return new CertkeeperError('STATE_CORRUPT', message, { retryable: false, ...(cause ? { cause } : {}) });
}
