// What the engine needs from the outside, as contracts: an issuer (ACME, built in acme/),
// DNS providers, sinks and the state store. The CLI wires concrete ones in.

import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { CertificateMaterial, KeyType, StoredCertificate } from '../core/types.js';
import type { Config } from '../config/load.js';
import type { IssuerSettings } from '../config/issuers.js';
import type { OrderAdmission } from '../plan/budget.js';
import type { DnsProvider } from '../dns/contract.js';
import type { Sink } from '../sinks/contract.js';
import type { StateStore } from '../state/contract.js';
import type { EngineEvent, IssueStep } from './events.js';

export interface IssueRequest {
  certName: string;
  domains: string[];
  keyType: KeyType;
  /** Reuse this private key instead of generating one (reuseKey: true). */
  keyPem?: string;
  /** The certificate this order renews (ARI `replaces`; sent only to the CA that issued it). */
  replaces?: { id: string; directoryUrl: string };
  /** The certificate's issuer names, in order (issuer fallback); all when absent. */
  issuers?: string[];
  /** ACME profile (the certificate's; else the issuer's). */
  profile?: string;
  /** Requested lifetime in ms (ACME `notAfter`; the certificate's, else the issuer's). */
  lifetimeMs?: number;
  /** Whether an order may go to this issuer now (the local rate-limit budgets); absent: always. */
  admit?: (issuer: IssuerSettings, replaces: boolean) => Promise<OrderAdmission>;
  /** Every order placed and every authorization the CA found invalid, with the issuer (the budgets count them). */
  onOrder?: (event: OrderNotice) => void;
  dns: DnsProvider;
  signal?: AbortSignal;
  onProgress?: (event: { step: IssueStep; detail?: string }) => void;
  /** Runs a CPU-bound step (key generation, CSR, parsing) within the engine's bound on them. */
  cpu?: <T>(work: () => Promise<T>) => Promise<T>;
}

/** What an issuer tells about an order it placed. */
export type OrderNotice = ({ type: 'created'; replaced: boolean } | { type: 'authorization-failed'; names: string[] }) & {
  issuer?: { name: string; directoryUrl: string; email: string | null };
};

export interface Issuer {
  readonly directoryUrl: string;
  /** `directoryUrl`: which CA issued (fallback may move on); `replaced`: the order carried `replaces`. */
  issue(request: IssueRequest): Promise<{ material: CertificateMaterial; directoryUrl?: string; replaced?: boolean }>;
}

/** The CA's renewal window for a certificate (ARI), or that the CA has none. */
export type RenewalInfoAnswer =
  | { supported: true; certId: string; info: { start: Date; end: Date; explanationUrl: string | null; retryAfterSeconds: number } }
  | { supported: false };

export interface EngineDeps {
  config: Config;
  store: StateStore;
  clock: Clock;
  logger: Logger;
  /** Built on first use, so runs with nothing due never load the ACME client. With `dryRun`, the
   *  issuer of the rehearsal directory (a staging twin when one is known or configured). */
  issuer(options?: { dryRun?: boolean; cert?: string }): Promise<Issuer>;
  dnsProvider(name: string): DnsProvider;
  sink(name: string): Sink;
  onEvent?(event: EngineEvent): void;
  /** Asks the CA that issued `cert` for its ARI window (acme/ari.ts); absent: no ARI. */
  renewalInfo?(cert: StoredCertificate, signal?: AbortSignal): Promise<RenewalInfoAnswer>;
  /** False while this replica is not the HA leader (src/ha/): it then neither orders nor deploys. Absent: always true. */
  canDeploy?(): boolean;
}
