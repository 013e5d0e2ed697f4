// Per-CA data of a 0.1 state directory (the rate-limit backoff): issuers/<hash of key>.json,
// each holding its key beside the data.

import path from 'node:path';
import { CertkeeperError, toCertkeeperError } from '../../core/errors.js';
import { jsonFileNames, readJsonObject } from './files.js';
import type { LegacyLayout } from './layout.js';

export class LegacyIssuers {
  constructor(private readonly layout: LegacyLayout) {}

  /** The data stored for `key` (without the key itself, as the issuer repository gives it). */
  async get(key: string): Promise<Record<string, unknown> | undefined> {
    const stored = await readJsonObject(this.layout.issuerState(key));
    if (!stored) return undefined;
    const { key: _key, ...data } = stored;
    return data;
  }

  /** Every issuer file with its key and data, or the error reading it gave. */
  async list(): Promise<{ file: string; state: { key: string; data: Record<string, unknown> } | CertkeeperError }[]> {
    const found: { file: string; state: { key: string; data: Record<string, unknown> } | CertkeeperError }[] = [];
    for (const file of await jsonFileNames(this.layout.issuers)) {
      try {
        const stored = await readJsonObject(path.join(this.layout.issuers, file));
        if (!stored) continue;
        const { key, ...data } = stored;
        if (typeof key !== 'string') throw new CertkeeperError('STATE_CORRUPT', `${path.join(this.layout.issuers, file)} names no key`, { retryable: false });
        found.push({ file, state: { key, data } });
      } catch (error) {
        found.push({ file, state: toCertkeeperError(error) });
      }
    }
    return found;
  }
}
