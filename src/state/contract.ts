// The StateStore contract: the source of truth for what certkeeper has issued and deployed.

import type { CertkeeperError } from '../core/errors.js';
import type { CertificateMaterial, CertRecord, HistoryEntry, StoredCertificate } from '../core/types.js';
import type { AccountRecord } from '../issuers/contract.js';

/** A stored certificate's details without its PEM material, key or paths: what planning and `status` need. */
export type CertificateSummary = Omit<StoredCertificate, 'material' | 'paths'>;

/** The newest dry run of a certificate, as `status` and the rehearsal schedule use it. */
export type DryRunSummary = Pick<HistoryEntry, 'at' | 'result' | 'error'>;

/** Defined in core (planning reads it without depending on the store). */
export type { CertRecord };

/** Defined with the issuer contract, whose AccountStore this store implements. */
export type { AccountRecord };

export interface HistoryQuery {
  cert?: string;
  limit?: number;
}

/** What one agent keeps for itself in the store, by name (JSON values). */
export interface AgentData {
  get(name: string): Promise<unknown>;
  put(name: string, value: unknown): Promise<void>;
}

export interface StateLock {
  release(): Promise<void>;
}

/** One certificate's lock: held while it is ordered, stored and deployed to shared sinks. */
export interface CertificateLock extends StateLock {
  /** Taken over from a holder whose lease ran out (a killed agent): its DNS records may be left. */
  readonly tookOver: boolean;
  /** Aborted when the lease can no longer be renewed: stop, another agent may take over. */
  readonly lost: AbortSignal;
}

export interface CertificateLockOptions {
  /** A rehearsal (dry run) has a lock of its own: it never blocks a real order. */
  purpose: 'order' | 'rehearsal';
  /** How long to wait for another agent's hold; 0 tries once (LOCK_TIMEOUT when held). */
  waitMs: number;
  signal?: AbortSignal;
  onWait?: (holder: string) => void;
}

export interface StateStore {
  readonly dir: string;
  /** Takes the exclusive state lock, waiting up to `timeoutMs` (stale locks of dead processes are taken over). */
  lock(options?: { timeoutMs?: number; signal?: AbortSignal; onWait?: (holder: string) => void }): Promise<StateLock>;
  /**
   * Takes one certificate's lock. Whoever holds it is the only agent ordering or deploying that
   * certificate to shared sinks; after taking it, re-read what is stored: another agent may have
   * renewed it meanwhile.
   */
  lockCertificate(name: string, options: CertificateLockOptions): Promise<CertificateLock>;
  /**
   * Calls `listener` with a certificate's name soon after any agent stores a new one for it, or
   * with undefined when changes may have been missed (a reconnect): then everything is re-read.
   * Best effort, as the backend allows (PostgreSQL LISTEN/NOTIFY, a file watch). Absent: no watch.
   */
  watchCertificates?(listener: (name: string | undefined) => void): () => void;
  /**
   * Takes the lock of one ACME account (directory and email) while it is created, so agents
   * sharing a store never register two. Re-read the account after taking it. Absent: no lock.
   */
  lockAccount?(directoryUrl: string, email: string | null, options: { waitMs: number; signal?: AbortSignal }): Promise<StateLock>;
  /**
   * Removes everything stored for a certificate no longer configured (`certkeeper forget`):
   * current and archived versions, revoked keys, record and per-certificate data, and the hooks'
   * copy. Deployed files in sinks are not touched. Returns how many stored values went.
   */
  forgetCertificate?(name: string): Promise<number>;
  /** What this agent keeps for itself (notification outbox, watch results); absent: files beside the state. */
  readonly agentData?: AgentData;
  /**
   * Records that this agent runs (a write at most hourly). Entries of local sinks' deploys kept
   * for agents unseen for 30 days are dropped when a record is next written (agent-seen.ts).
   * Absent: nothing recorded, nothing dropped.
   */
  markAgentSeen?(): Promise<void>;
  /** Resolves when the store answers; rejects (STATE_UNREACHABLE, STATE_IO) when it does not. */
  ping?(signal?: AbortSignal): Promise<void>;

  /** The current certificate with its key, checked (the key belongs to it, its recorded details agree); STATE_CORRUPT when not. */
  getCertificate(name: string): Promise<StoredCertificate | undefined>;
  /**
   * The current certificate's details without reading its key: cheap enough to call for every
   * certificate of a large fleet. Trusts the details recorded when it was stored (checked then);
   * getCertificate checks them again before anything is ordered or deployed from them.
   */
  peekCertificate(name: string): Promise<CertificateSummary | undefined>;
  /**
   * peekCertificate for many at once, in a few reads instead of one each (planning and `status`
   * of a fleet). A name with nothing stored is absent; one whose details cannot be read maps to
   * the error peekCertificate would throw for it. A store that cannot be read throws.
   */
  peekCertificates(names: readonly string[]): Promise<Map<string, CertificateSummary | CertkeeperError>>;
  /** Atomically replaces the current certificate, archiving the previous one. */
  putCertificate(name: string, material: CertificateMaterial, meta: { directoryUrl: string; issuedAt: Date }): Promise<StoredCertificate>;
  listCertificateNames(): Promise<string[]>;
  /**
   * Takes the current certificate out of the live path (a revoked or compromised key), keeping it
   * aside for the record; afterwards there is no current certificate. Returns where it went, or
   * undefined when there was none.
   */
  quarantineCertificate(name: string): Promise<string | undefined>;

  getRecord(name: string): Promise<CertRecord>;
  /** getRecord for many at once: every name maps to its record (empty when none); throws as getRecord does. */
  getRecords(names: readonly string[]): Promise<Map<string, CertRecord>>;
  putRecord(name: string, record: CertRecord): Promise<void>;

  getAccount(directoryUrl: string, email: string | null): Promise<AccountRecord | undefined>;
  putAccount(account: AccountRecord): Promise<void>;

  /** Small per-sink data for one certificate (e.g. the ACM ARN it imported into); undefined when none. */
  getSinkState(certName: string, sinkName: string): Promise<Record<string, unknown> | undefined>;
  /** One sink's data for many certificates at once: absent when none; a damaged one maps to the error getSinkState would throw. */
  getSinkStates(certNames: readonly string[], sinkName: string): Promise<Map<string, Record<string, unknown> | CertkeeperError>>;
  putSinkState(certName: string, sinkName: string, data: Record<string, unknown>): Promise<void>;

  /** Small data about one CA and account (rate-limit backoff), keyed by any string; undefined when none. */
  getIssuerState(key: string): Promise<Record<string, unknown> | undefined>;
  putIssuerState(key: string, data: Record<string, unknown>): Promise<void>;

  appendHistory(entry: HistoryEntry): Promise<void>;
  /** Newest first. */
  readHistory(query?: HistoryQuery): Promise<HistoryEntry[]>;
  /** The newest `dry-run` entry of each certificate that has one, read in bounded time however long the history grows. */
  lastDryRuns(): Promise<Map<string, DryRunSummary>>;
}

export function emptyRecord(): CertRecord {
  return { deployed: {}, consecutiveFailures: 0, lastAttemptAt: null, lastSuccessAt: null, lastResult: null, nextAttemptAt: null, configFingerprint: null };
}
