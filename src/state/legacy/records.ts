// Per-certificate bookkeeping of a 0.1 state directory: record.json (deploys, failures, backoff)
// and sinks/<sink>.json (a sink's own data, such as the ACM ARN).

import { parseStored } from '../codec.js';
import { emptyRecord, type CertRecord } from '../contract.js';
import { recordCodec } from '../repos/records.js';
import { folderNames, jsonFileNames, readJsonFile, readJsonObject } from './files.js';
import { isSafeName, type LegacyLayout } from './layout.js';

export class LegacyRecords {
  constructor(private readonly layout: LegacyLayout) {}

  /** Names with a folder under certs/ (a record, sink data or a certificate), sorted. */
  async names(): Promise<string[]> {
    return (await folderNames(this.layout.certs)).filter(isSafeName).sort();
  }

  /**
   * The record, or an empty one when none was written; fields an older release did not write take
   * their defaults. One that is not a record is STATE_CORRUPT naming the file and the field: the
   * copy leaves it out rather than copy what every later read would fail on.
   */
  async get(name: string): Promise<CertRecord> {
    const file = this.layout.record(name);
    const stored = await readJsonFile(file);
    return stored === undefined ? emptyRecord() : parseStored(recordCodec, stored, file);
  }

  /** Names of the sinks that keep data for the certificate, sorted. */
  async sinkNames(name: string): Promise<string[]> {
    return (await jsonFileNames(this.layout.sinkFolder(name))).map((file) => file.slice(0, -'.json'.length)).filter(isSafeName);
  }

  async getSinkState(name: string, sink: string): Promise<Record<string, unknown> | undefined> {
    return readJsonObject(this.layout.sinkState(name, sink));
  }
}
