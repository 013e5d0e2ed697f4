// Per-certificate bookkeeping besides the certificate itself: the record (deploys, failures,
// backoff, last outcome) and small named data (a sink's own state such as the ACM ARN, the ARI
// window, the last verification). Layout:
//
//   certs/<name>/record              CertRecord
//   certs/<name>/data/<entry>        one small JSON object per sink or per concern
//
// Writes of the record go through `update`: read, change, compare-and-set, retried on conflict,
// so two agents recording outcomes for one certificate never lose each other's change.

import { z } from 'zod';
import { CertkeeperError, isCertkeeperError, toCertkeeperError } from '../../core/errors.js';
import { certificateDataKey, decodeJson, encodeJson } from '../codec.js';
import { emptyRecord, type CertRecord } from '../contract.js';
import type { Storage } from '../storage/contract.js';

const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Conflicting writers in a row before giving up: far more than agents fighting over one record. */
const MAX_CAS_ROUNDS = 20;

const lastResultCodec = z.object({ at: z.string(), action: z.string(), result: z.enum(['success', 'failure']), error: z.string().nullable() });

/** Fields missing from a record written by an older version (or by 0.1, legacy/records.ts) take their defaults. */
export const recordCodec = z.object({
  deployed: z.record(z.string(), z.string()).default({}),
  consecutiveFailures: z.number().int().nonnegative().default(0),
  lastAttemptAt: z.string().nullable().default(null),
  lastSuccessAt: z.string().nullable().default(null),
  lastResult: lastResultCodec.nullable().default(null),
  nextAttemptAt: z.string().nullable().default(null),
  configFingerprint: z.string().nullable().default(null),
});

const dataCodec = z.record(z.string(), z.unknown());

export class RecordRepository {
  constructor(private readonly storage: Storage) {}

  async get(name: string): Promise<CertRecord> {
    return (await this.read(name)).record;
  }

  /** `get` for many names in one batched read: every name has its record; throws as `get` does. */
  async getMany(names: readonly string[]): Promise<Map<string, CertRecord>> {
    const keys = names.map((name) => recordKey(name));
    const stored = await this.storage.getMany(keys);
    return new Map(
      names.map((name, i) => {
        const value = stored.get(keys[i]!);
        return [name, value ? decodeJson(recordCodec, value.value, keys[i]!) : emptyRecord()];
      }),
    );
  }

  async put(name: string, record: CertRecord): Promise<void> {
    await this.storage.put(recordKey(name), encodeJson(record));
  }

  /** Applies `change` to the stored record and writes it only over what was read; re-reads and retries on a conflict. */
  async update(name: string, change: (record: CertRecord) => CertRecord): Promise<CertRecord> {
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const { record, version } = await this.read(name);
      const next = change(record);
      try {
        await this.storage.put(recordKey(name), encodeJson(next), { ifVersion: version });
        return next;
      } catch (error) {
        if (!isCertkeeperError(error, 'STATE_CONFLICT')) throw error;
      }
    }
    throw new CertkeeperError('STATE_CONFLICT', `the record of "${name}" kept changing under us (${MAX_CAS_ROUNDS} conflicting writes in a row)`);
  }

  async getData(name: string, entry: string): Promise<Record<string, unknown> | undefined> {
    const key = dataKey(name, entry);
    const stored = await this.storage.get(key);
    return stored && decodeJson(dataCodec, stored.value, key);
  }

  /**
   * One entry's data for many names in one batched read. Absent: none stored; a damaged one maps
   * to the error `getData` would throw, so it spoils no other.
   */
  async getDataMany(names: readonly string[], entry: string): Promise<Map<string, Record<string, unknown> | CertkeeperError>> {
    const keys = names.map((name) => dataKey(name, entry));
    const stored = await this.storage.getMany(keys);
    const result = new Map<string, Record<string, unknown> | CertkeeperError>();
    names.forEach((name, i) => {
      const value = stored.get(keys[i]!);
      if (!value) return;
      try {
        result.set(name, decodeJson(dataCodec, value.value, keys[i]!));
      } catch (error) {
        result.set(name, toCertkeeperError(error));
      }
    });
    return result;
  }

  async putData(name: string, entry: string, data: Record<string, unknown>): Promise<void> {
    await this.storage.put(dataKey(name, entry), encodeJson(data));
  }

  private async read(name: string): Promise<{ record: CertRecord; version: string | null }> {
    const key = recordKey(name);
    const stored = await this.storage.get(key);
    if (!stored) return { record: emptyRecord(), version: null };
    return { record: decodeJson(recordCodec, stored.value, key), version: stored.version };
  }
}

function segment(value: string, what: string): string {
  if (!SAFE_SEGMENT.test(value))
    throw new CertkeeperError('CONFIG_INVALID', `${what} "${value}" cannot be used as a storage key (letters, digits, ".", "_", "-")`, { retryable: false });
  return value;
}

function recordKey(name: string): string {
  return `certs/${segment(name, 'certificate name')}/record`;
}

function dataKey(name: string, entry: string): string {
  return certificateDataKey(segment(name, 'certificate name'), segment(entry, 'sink name'));
}
