// An in-memory StateStore for tests of code that only needs the contract (accounts above all).
// It records account writes so tests can assert "registered once".

import {
  emptyRecord,
  type AccountRecord,
  type CertificateLock,
  type CertificateLockOptions,
  type CertificateSummary,
  type CertRecord,
  type DryRunSummary,
  type HistoryQuery,
  type StateLock,
  type StateStore,
} from '../../src/state/contract.js';
import { toCertkeeperError, type CertkeeperError } from '../../src/core/errors.js';
import type { CertificateMaterial, HistoryEntry, StoredCertificate } from '../../src/core/types.js';
import { parseCertificate } from '../../src/core/x509.js';

export class MemoryStore implements StateStore {
  readonly dir = '/memory';
  readonly accounts = new Map<string, AccountRecord>();
  /** Every putAccount call, in order. */
  readonly accountWrites: AccountRecord[] = [];
  private readonly certificates = new Map<string, StoredCertificate>();
  private readonly records = new Map<string, CertRecord>();
  private readonly history: HistoryEntry[] = [];
  private readonly sinkStates = new Map<string, Record<string, unknown>>();
  private locked: Promise<void> = Promise.resolve();

  async lock(): Promise<StateLock> {
    let release!: () => void;
    const previous = this.locked;
    this.locked = new Promise<void>((resolve) => (release = resolve));
    await previous;
    return { release: async () => release() };
  }

  private readonly certLocks = new Map<string, Promise<void>>();

  /** One holder per certificate and purpose; waiters queue (no timeout: tests hold locks briefly). */
  async lockCertificate(name: string, options: CertificateLockOptions): Promise<CertificateLock> {
    const key = `${options.purpose}/${name}`;
    let release!: () => void;
    const previous = this.certLocks.get(key) ?? Promise.resolve();
    const mine = new Promise<void>((resolve) => (release = resolve));
    this.certLocks.set(
      key,
      previous.then(() => mine),
    );
    await previous;
    return { tookOver: false, lost: new AbortController().signal, release: async () => release() };
  }

  async getCertificate(name: string): Promise<StoredCertificate | undefined> {
    return this.certificates.get(name);
  }

  async peekCertificate(name: string): Promise<CertificateSummary | undefined> {
    const stored = this.certificates.get(name);
    return stored && { name, info: stored.info, issuedAt: stored.issuedAt, directoryUrl: stored.directoryUrl };
  }

  async peekCertificates(names: readonly string[]): Promise<Map<string, CertificateSummary | CertkeeperError>> {
    const found = new Map<string, CertificateSummary | CertkeeperError>();
    for (const name of names) {
      const summary = await this.peekCertificate(name).catch((error: unknown) => toCertkeeperError(error));
      if (summary) found.set(name, summary);
    }
    return found;
  }

  async putCertificate(name: string, material: CertificateMaterial, meta: { directoryUrl: string; issuedAt: Date }): Promise<StoredCertificate> {
    const stored: StoredCertificate = {
      name,
      info: parseCertificate(material.certPem),
      material,
      paths: {
        cert: `/memory/${name}/cert.pem`,
        chain: `/memory/${name}/chain.pem`,
        fullchain: `/memory/${name}/fullchain.pem`,
        key: `/memory/${name}/privkey.pem`,
      },
      issuedAt: meta.issuedAt,
      directoryUrl: meta.directoryUrl,
    };
    this.certificates.set(name, stored);
    return stored;
  }

  async quarantineCertificate(name: string): Promise<string | undefined> {
    const stored = this.certificates.get(name);
    if (!stored) return undefined;
    this.certificates.delete(name);
    return `/memory/${name}/revoked/${stored.info.serial}`;
  }

  async listCertificateNames(): Promise<string[]> {
    return [...this.certificates.keys()].sort();
  }

  async getRecord(name: string): Promise<CertRecord> {
    return this.records.get(name) ?? emptyRecord();
  }

  async getRecords(names: readonly string[]): Promise<Map<string, CertRecord>> {
    const records = new Map<string, CertRecord>();
    for (const name of names) records.set(name, await this.getRecord(name));
    return records;
  }

  async putRecord(name: string, record: CertRecord): Promise<void> {
    this.records.set(name, record);
  }

  async getAccount(directoryUrl: string, email: string | null): Promise<AccountRecord | undefined> {
    const found = this.accounts.get(accountKey(directoryUrl, email));
    return found ? { ...found } : undefined;
  }

  async putAccount(account: AccountRecord): Promise<void> {
    this.accountWrites.push({ ...account });
    this.accounts.set(accountKey(account.directoryUrl, account.email), { ...account });
  }

  async getSinkState(certName: string, sinkName: string): Promise<Record<string, unknown> | undefined> {
    return this.sinkStates.get(`${certName}/${sinkName}`);
  }

  /** As the single reads, one after another (a subclass overriding those sees every name). */
  async getSinkStates(certNames: readonly string[], sinkName: string): Promise<Map<string, Record<string, unknown> | CertkeeperError>> {
    const found = new Map<string, Record<string, unknown> | CertkeeperError>();
    for (const name of certNames) {
      const data = await this.getSinkState(name, sinkName).catch((error: unknown) => toCertkeeperError(error));
      if (data) found.set(name, data);
    }
    return found;
  }

  async putSinkState(certName: string, sinkName: string, data: Record<string, unknown>): Promise<void> {
    this.sinkStates.set(`${certName}/${sinkName}`, data);
  }

  private readonly issuerStates = new Map<string, Record<string, unknown>>();

  async getIssuerState(key: string): Promise<Record<string, unknown> | undefined> {
    return this.issuerStates.get(key);
  }

  async putIssuerState(key: string, data: Record<string, unknown>): Promise<void> {
    this.issuerStates.set(key, data);
  }

  async appendHistory(entry: HistoryEntry): Promise<void> {
    this.history.push(entry);
  }

  async readHistory(query: HistoryQuery = {}): Promise<HistoryEntry[]> {
    const matching = this.history.filter((entry) => query.cert === undefined || entry.cert === query.cert).reverse();
    return query.limit === undefined ? matching : matching.slice(0, query.limit);
  }

  async lastDryRuns(): Promise<Map<string, DryRunSummary>> {
    const found = new Map<string, DryRunSummary>();
    for (const entry of this.history) if (entry.action === 'dry-run') found.set(entry.cert, { at: entry.at, result: entry.result, error: entry.error });
    return found;
  }
}

function accountKey(directoryUrl: string, email: string | null): string {
  return `${directoryUrl}\n${email ?? ''}`;
}
