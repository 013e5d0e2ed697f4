// Small data per CA and account (the rate-limit backoff), keyed by any string: issuers/<hash>.

import { createHash } from 'node:crypto';
import { z } from 'zod';
import { decodeJson, encodeJson } from '../codec.js';
import type { Storage } from '../storage/contract.js';

const issuerStateCodec = z.record(z.string(), z.unknown());

export class IssuerStateRepository {
  constructor(private readonly storage: Storage) {}

  async get(key: string): Promise<Record<string, unknown> | undefined> {
    const storageKey = issuerStorageKey(key);
    const stored = await this.storage.get(storageKey);
    if (!stored) return undefined;
    const { key: _key, ...data } = decodeJson(issuerStateCodec, stored.value, storageKey);
    return data;
  }

  async put(key: string, data: Record<string, unknown>): Promise<void> {
    await this.storage.put(issuerStorageKey(key), encodeJson({ key, ...data }));
  }
}

/** Where the data of issuer `key` is stored (messages about it name this). */
export function issuerStorageKey(key: string): string {
  return `issuers/${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}
