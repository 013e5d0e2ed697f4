// What the engine needs from the outside, as contracts: an issuer (ACME, built in acme/),
// DNS providers, sinks and the state store. The CLI wires concrete ones in.

import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { CertificateMaterial, KeyType } from '../core/types.js';
import type { Config } from '../config/load.js';
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
  dns: DnsProvider;
  signal?: AbortSignal;
  onProgress?: (event: { step: IssueStep; detail?: string }) => void;
}

export interface Issuer {
  readonly directoryUrl: string;
  issue(request: IssueRequest): Promise<{ material: CertificateMaterial }>;
}

export interface EngineDeps {
  config: Config;
  store: StateStore;
  clock: Clock;
  logger: Logger;
  /** Built on first use, so runs with nothing due never load the ACME client. */
  issuer(): Promise<Issuer>;
  dnsProvider(name: string): DnsProvider;
  sink(name: string): Sink;
  onEvent?(event: EngineEvent): void;
}
