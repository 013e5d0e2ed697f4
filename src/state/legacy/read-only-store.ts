// The StateStore of a 0.1 state directory not copied into the storage layout yet, for `doctor`,
// which reads what is there and must change nothing (state/open.ts openStateStoreForReading).
// Every read answers from the 0.1 files; a write or lock is a bug in the caller: INTERNAL.

import path from 'node:path';
import { CertkeeperError, isCertkeeperError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { CertificateMaterial, HistoryEntry, StoredCertificate } from '../../core/types.js';
import type { AccountRecord, CertificateLock, CertificateSummary, CertRecord, DryRunSummary, HistoryQuery, StateLock, StateStore } from '../contract.js';
import { VERSION_FILES } from './layout.js';
import { LegacyState } from './index.js';

export class LegacyReadOnlyStore implements StateStore {
  readonly dir: string;
  private readonly state: LegacyState;

  constructor(dir: string, logger?: Logger) {
    this.state = new LegacyState(dir, logger);
    this.dir = this.state.layout.dir;
  }

  async getCertificate(name: string): Promise<StoredCertificate | undefined> {
    const found = await this.state.certificates.get(name);
    if (!found) return undefined;
    const live = this.state.layout.live(name);
    return {
      name,
      info: found.info,
      material: found.material,
      paths: {
        cert: path.join(live, VERSION_FILES.cert),
        chain: path.join(live, VERSION_FILES.chain),
        fullchain: path.join(live, VERSION_FILES.fullchain),
        key: path.join(live, VERSION_FILES.key),
      },
      issuedAt: found.issuedAt,
      directoryUrl: found.directoryUrl,
    };
  }

  peekCertificate(name: string): Promise<CertificateSummary | undefined> {
    return this.state.certificates.peek(name);
  }

  async peekCertificates(names: readonly string[]): Promise<Map<string, CertificateSummary | CertkeeperError>> {
    const found = new Map<string, CertificateSummary | CertkeeperError>();
    for (const name of names) {
      const summary = await this.peekCertificate(name).catch(damagedOnly);
      if (summary) found.set(name, summary);
    }
    return found;
  }

  listCertificateNames(): Promise<string[]> {
    return this.state.certificates.names();
  }

  getRecord(name: string): Promise<CertRecord> {
    return this.state.records.get(name);
  }

  async getRecords(names: readonly string[]): Promise<Map<string, CertRecord>> {
    const records = new Map<string, CertRecord>();
    for (const name of names) records.set(name, await this.getRecord(name));
    return records;
  }

  getSinkState(certName: string, sinkName: string): Promise<Record<string, unknown> | undefined> {
    return this.state.records.getSinkState(certName, sinkName);
  }

  async getSinkStates(certNames: readonly string[], sinkName: string): Promise<Map<string, Record<string, unknown> | CertkeeperError>> {
    const found = new Map<string, Record<string, unknown> | CertkeeperError>();
    for (const name of certNames) {
      const data = await this.getSinkState(name, sinkName).catch(damagedOnly);
      if (data) found.set(name, data);
    }
    return found;
  }

  getAccount(directoryUrl: string, email: string | null): Promise<AccountRecord | undefined> {
    return this.state.accounts.get(directoryUrl, email);
  }

  getIssuerState(key: string): Promise<Record<string, unknown> | undefined> {
    return this.state.issuers.get(key);
  }

  readHistory(query?: HistoryQuery): Promise<HistoryEntry[]> {
    return this.state.history.read(query);
  }

  lastDryRuns(): Promise<Map<string, DryRunSummary>> {
    return this.state.history.lastDryRuns();
  }

  // ---- nothing below is for a reader ----

  lock(): Promise<StateLock> {
    return this.refuse('take the state lock');
  }

  lockCertificate(name: string): Promise<CertificateLock> {
    return this.refuse(`lock certificate "${name}"`);
  }

  putCertificate(name: string, _material: CertificateMaterial, _meta: { directoryUrl: string; issuedAt: Date }): Promise<StoredCertificate> {
    return this.refuse(`store certificate "${name}"`);
  }

  quarantineCertificate(name: string): Promise<string | undefined> {
    return this.refuse(`quarantine certificate "${name}"`);
  }

  putRecord(name: string, _record: CertRecord): Promise<void> {
    return this.refuse(`write the record of "${name}"`);
  }

  putAccount(_account: AccountRecord): Promise<void> {
    return this.refuse('store an ACME account');
  }

  putSinkState(certName: string, sinkName: string, _data: Record<string, unknown>): Promise<void> {
    return this.refuse(`write sink data ${sinkName} of "${certName}"`);
  }

  putIssuerState(_key: string, _data: Record<string, unknown>): Promise<void> {
    return this.refuse('write issuer state');
  }

  appendHistory(_entry: HistoryEntry): Promise<void> {
    return this.refuse('append to the history');
  }

  private async refuse(what: string): Promise<never> {
    throw new CertkeeperError(
      'INTERNAL',
      `cannot ${what}: ${this.dir} is opened read-only in its 0.1 layout (it is copied into the storage layout when an agent or renew opens it)`,
      {
        retryable: false,
      },
    );
  }
}

/** A damaged entry is that entry's answer in a batch read; any other failure fails the batch. */
function damagedOnly(error: unknown): CertkeeperError {
  if (isCertkeeperError(error, 'STATE_CORRUPT')) return error;
  throw error;
}
