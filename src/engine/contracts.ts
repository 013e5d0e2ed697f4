// What the engine needs from the outside, as contracts: an issuer (issuers/contract.ts; ACME,
// built in acme/, behind the engine's fallback chain), DNS providers, sinks and the state store.
// The CLI wires concrete ones in.

import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { StoredCertificate } from '../core/types.js';
import type { Config } from '../config/load.js';
import type { DnsProvider } from '../dns/contract.js';
import type { RateLimits, RenewalInfoAnswer } from '../issuers/contract.js';
import type { Sink } from '../sinks/contract.js';
import type { StateStore } from '../state/contract.js';
import type { StreamEvent } from '../observe/stream.js';
import type { IssuerChain } from './issuer-chain.js';

export interface EngineDeps {
  config: Config;
  store: StateStore;
  clock: Clock;
  logger: Logger;
  /** Built on first use, so runs with nothing due never load the ACME client. With `dryRun`, the
   *  issuer of the rehearsal directory (a staging twin when one is known or configured). */
  issuer(options?: { dryRun?: boolean; cert?: string }): Promise<IssuerChain>;
  dnsProvider(name: string): DnsProvider;
  sink(name: string): Sink;
  onEvent?: ((event: StreamEvent) => void) | undefined;
  /** Asks the CA that issued `cert` for its ARI window (acme/ari.ts); absent: no ARI. */
  renewalInfo?(cert: StoredCertificate, signal?: AbortSignal): Promise<RenewalInfoAnswer>;
  /** Each CA's rate-limit backoff (state/issuer-state.ts rateLimitsIn over the store), for `status`. Absent: none known. */
  rateLimits?: RateLimits;
  /** False while this replica is not the HA leader (src/ha/): it then neither orders nor deploys. Absent: always true. */
  canDeploy?(): boolean;
}
