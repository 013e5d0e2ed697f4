// The Issuer contract: what ordering a certificate from one CA takes and gives, beside the DNS and
// sink contracts. The ACME issuer (acme/issuer.ts) implements it; the fallback over `issuers:`,
// with its rate-limit backoff and local budgets, is the engine's (engine/issuer-chain.ts), as
// certmagic keeps its issuer loop in Config.renewCert. Types only: this file runs no code.

import type { Logger } from '../core/logger.js';
import type { CertificateMaterial, KeyType } from '../core/types.js';
import type { DnsProvider } from '../dns/contract.js';

/** Where an order is, as the progress display and the event stream show it. */
export type IssueStep = 'ordering' | 'dns-present' | 'propagated' | 'validated' | 'finalizing' | 'issued';

/** What an issuer tells about an order it placed: accepted by the CA, or an authorization the CA found invalid. */
export type OrderEvent = { type: 'created'; replaced: boolean } | { type: 'authorization-failed'; names: string[] };

/** A CA and account, as order notices and the rate-limit backoff name it. */
export interface IssuerAccount {
  directoryUrl: string;
  email: string | null;
}

/** An OrderEvent with the configured issuer it went to (the fallback chain adds it; the local budgets count by it). */
export type OrderNotice = OrderEvent & { issuer?: IssuerAccount & { name: string } };

/**
 * Whether one more order may go to a CA account now (the local rate-limit budgets, plan/budget.ts).
 * A refusal is either spent (`exhausted`: wait until `until`) or the last unit of a forced order
 * (needs `--yes`).
 */
export type OrderAdmission =
  | { admit: true; warning?: string }
  | {
      admit: false;
      /** Spent: the CA would refuse; wait until `until`. Else the last unit of a forced order: needs `--yes`. */
      exhausted: boolean;
      until: Date;
      message: string;
    };

/** One order at one CA. */
export interface IssueRequest {
  certName: string;
  domains: string[];
  keyType: KeyType;
  /** Reuse this private key instead of generating a new one (reuseKey: true); it must be of `keyType`. */
  keyPem?: string | undefined;
  /**
   * The certificate being renewed (RFC 9773 `replaces`): its ARI id is sent only when this issuer's
   * directory issued it, and dropped once if the CA refuses it.
   */
  replaces?: { id: string; directoryUrl: string } | undefined;
  /** ACME profile (the certificate's, else its issuer's: engine/issuer-chain.ts); checked against the directory's `meta.profiles`. */
  profile?: string | undefined;
  /** Requested lifetime (ms; the certificate's, else its issuer's): the order asks for notAfter = now + this, and goes without it if the CA refuses. */
  lifetimeMs?: number | undefined;
  /** Told when the CA accepted the order and when it found an authorization invalid (the local budgets count both). */
  onOrder?: ((event: OrderEvent) => void) | undefined;
  dns: DnsProvider;
  signal?: AbortSignal | undefined;
  onProgress?: ((event: { step: IssueStep; detail?: string }) => void) | undefined;
  /** Runs a CPU-bound step (key generation, CSR, parsing) within the caller's bound on them. */
  cpu?: (<T>(work: () => Promise<T>) => Promise<T>) | undefined;
}

export interface IssueResult {
  material: CertificateMaterial;
  /** The CA that issued (a fallback may have moved on from the first). Absent: the issuer's own. */
  directoryUrl?: string | undefined;
  /** Whether the order carried `replaces` (a CA that exempts renewals from rate limits did not count it). */
  replaced?: boolean | undefined;
}

export interface Issuer {
  readonly directoryUrl: string;
  issue(request: IssueRequest): Promise<IssueResult>;
}

/** The CA's suggested renewal window for one certificate (ARI, RFC 9773). */
export interface RenewalInfo {
  start: Date;
  end: Date;
  explanationUrl: string | null;
  retryAfterSeconds: number;
}

/** What the CA said: a window, or that it offers no ARI (no `renewalInfo` in its directory). */
export type RenewalInfoAnswer = { supported: true; certId: string; info: RenewalInfo } | { supported: false };

/** A CA's rate-limit backoff for one account (HTTP 429 / `rateLimited`, with its Retry-After), as kept. */
export type RateLimitState = {
  /** No request goes to that CA and account before this (ISO time). */
  rateLimitedUntil: string;
  detail: string;
  at: string;
};

/**
 * The rate-limit backoff per CA and account, kept in the state store; state/issuer-state.ts
 * implements it (rateLimitsIn). The engine's fallback chain reads and writes it only through this.
 */
export interface RateLimits {
  /** The backoff still in force at `now`, if any (a hold when the stored one cannot be read). */
  active(issuer: IssuerAccount, now: Date): Promise<RateLimitState | undefined>;
  /** `active`, for whoever is about to ask the CA: a hold for a damaged state is recorded in its place. */
  beforeAsking(issuer: IssuerAccount, now: Date, logger: Logger): Promise<RateLimitState | undefined>;
  record(issuer: IssuerAccount, state: RateLimitState): Promise<void>;
}

/** A CA account: one per directory URL and email. */
export interface AccountRecord {
  directoryUrl: string;
  email: string | null;
  /** Null until the CA has registered the key. */
  accountUrl: string | null;
  keyPem: string; // secret
}

/** Where an issuer keeps its CA accounts; the state store implements it (state/contract.ts). */
export interface AccountStore {
  getAccount(directoryUrl: string, email: string | null): Promise<AccountRecord | undefined>;
  putAccount(account: AccountRecord): Promise<void>;
  /**
   * Takes the lock of one account while it is created, so agents sharing a store never register
   * two. Re-read the account after taking it. Absent: no lock.
   */
  lockAccount?(directoryUrl: string, email: string | null, options: { waitMs: number; signal?: AbortSignal }): Promise<{ release(): Promise<void> }>;
}

/** How one request to the CA went, for metrics: the resource it went to (a bounded name, never a URL) and how long it took. */
export interface CaRequestInfo {
  endpoint: string;
  seconds: number;
}
