// Read-ahead for planning and `status` over a fleet: every certificate's stored details, record
// and small per-certificate data (the ARI window) read in batches (StateStore.peekCertificates,
// getRecords, getSinkStates: one statement per batch on PostgreSQL, bounded file reads on disk)
// instead of three round trips per certificate. The result is a view of the store answering those
// reads for the names read ahead and passing everything else to the store itself.
//
// Only for planning without a lock: what runs under a certificate's lock reads the store afresh.

import { CertkeeperError } from '../core/errors.js';
import { mapLimit } from '../core/concurrency.js';
import type { CertificateSummary, CertRecord, StateStore } from '../state/contract.js';

/** Certificates per batch read: a few statements each, and results of a few hundred kilobytes. */
export const READ_AHEAD_BATCH = 500;
/** Batches in flight at once (PostgreSQL: statements on the pool's connections). */
const READ_AHEAD_CONCURRENCY = 2;

export interface ReadAheadOptions {
  /** Read the records too (default true). */
  records?: boolean;
  /** getSinkState entries to read for every name (e.g. ARI_STATE_KEY). */
  sinkStates?: readonly string[];
}

type SinkData = Record<string, unknown>;

/** Reads ahead for `names`; the returned store answers peekCertificate, getRecord and those getSinkState entries from it. */
export async function readAhead(store: StateStore, names: readonly string[], options: ReadAheadOptions = {}): Promise<StateStore> {
  const readRecords = options.records ?? true;
  const entries = options.sinkStates ?? [];
  const summaries = new Map<string, CertificateSummary | CertkeeperError>();
  const records = new Map<string, CertRecord>();
  const sinkStates = new Map(entries.map((entry) => [entry, new Map<string, SinkData | CertkeeperError>()]));
  const batches: string[][] = [];
  for (let i = 0; i < names.length; i += READ_AHEAD_BATCH) batches.push(names.slice(i, i + READ_AHEAD_BATCH));
  await mapLimit(batches, READ_AHEAD_CONCURRENCY, async (batch) => {
    const [peeked, recorded, ...data] = await Promise.all([
      store.peekCertificates(batch),
      readRecords ? store.getRecords(batch) : Promise.resolve(new Map<string, CertRecord>()),
      ...entries.map((entry) => store.getSinkStates(batch, entry)),
    ]);
    for (const [name, summary] of peeked) summaries.set(name, summary);
    for (const [name, record] of recorded) records.set(name, record);
    entries.forEach((entry, i) => {
      for (const [name, value] of data[i]!) sinkStates.get(entry)!.set(name, value);
    });
  });

  const known = new Set(names);
  const answer = <T>(value: T | CertkeeperError): T => {
    if (value instanceof CertkeeperError) throw value; // as the single read would have thrown
    return value;
  };
  const overrides: Partial<StateStore> = {
    peekCertificate: async (name) => (known.has(name) ? answer(summaries.get(name)) : store.peekCertificate(name)),
    ...(readRecords ? { getRecord: async (name: string) => (known.has(name) ? records.get(name)! : store.getRecord(name)) } : {}),
    getSinkState: async (cert, sink) => {
      const read = sinkStates.get(sink);
      return read && known.has(cert) ? answer(read.get(cert)) : store.getSinkState(cert, sink);
    },
  };
  // Everything else is the store's own, called on the store itself (its fields, its locks).
  return new Proxy(store, {
    get(target, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof StateStore];
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
