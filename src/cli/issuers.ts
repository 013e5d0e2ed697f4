// The CAs, built from config: one ACME issuer per `issuers:` entry (on first use), the fallback
// chain over them for real orders, and ARI lookups against the CA that issued a certificate.

import type { Clock } from '../core/clock.js';
import { CertkeeperError, isCertkeeperError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { StoredCertificate } from '../core/types.js';
import type { Config } from '../config/load.js';
import type { IssuerSettings } from '../config/issuers.js';
import type { Issuer, RenewalInfoAnswer } from '../engine/contracts.js';
import type { AcmeIssuer } from '../acme/issuer.js';
import type { RenewalInfoResult } from '../observe/metrics.js';
import type { StateStore } from '../state/contract.js';
import { rateLimitBeforeAsking } from '../state/issuer-state.js';

export interface IssuerWiringOptions {
  store: StateStore;
  clock: Clock;
  logger: Logger;
  onRequest?: ((status: number | undefined) => void) | undefined;
  /** Every ARI lookup's result, for metrics. */
  onRenewalInfo?: ((result: RenewalInfoResult) => void) | undefined;
}

export interface IssuerWiring {
  /** The issuers of `config.issuers` in fallback order (acme/issuer-chain.ts). */
  chain(): Promise<Issuer>;
  /** ARI for a stored certificate, asked of the configured issuer with its directory; unsupported when none is configured. */
  renewalInfo(cert: StoredCertificate, signal?: AbortSignal): Promise<RenewalInfoAnswer>;
}

export function createIssuerWiring(config: Config, options: IssuerWiringOptions): IssuerWiring {
  const { store, clock, logger } = options;
  const built = new Map<string, Promise<AcmeIssuer>>();
  let chain: Promise<Issuer> | undefined;

  const issuerFor = (settings: IssuerSettings): Promise<AcmeIssuer> => {
    let issuer = built.get(settings.name);
    if (!issuer) {
      issuer = (async () => {
        const { createAcmeIssuer } = await import('../acme/issuer.js');
        return createAcmeIssuer({
          directoryUrl: settings.directoryUrl,
          email: settings.email ?? undefined,
          ...(settings.eab ? { eab: settings.eab } : {}),
          ...(settings.caBundlePem ? { caBundlePem: settings.caBundlePem } : {}),
          ...(settings.preferredChain ? { preferredChain: settings.preferredChain } : {}),
          ...(settings.profile ? { profile: settings.profile } : {}),
          ...(settings.requestTimeoutMs !== undefined ? { requestTimeoutMs: settings.requestTimeoutMs } : {}),
          ...(settings.orderTimeoutMs !== undefined ? { orderTimeoutMs: settings.orderTimeoutMs } : {}),
          store,
          clock,
          logger: logger.child({ component: 'acme', issuer: settings.name }),
          resolvers: config.resolvers ?? [],
          onRequest: options.onRequest,
        });
      })();
      built.set(settings.name, issuer);
    }
    return issuer;
  };

  return {
    chain() {
      chain ??= (async () => {
        const { createIssuerChain } = await import('../acme/issuer-chain.js');
        return createIssuerChain({ issuers: config.issuers, issuerFor, store, clock, logger: logger.child({ component: 'issuers' }) });
      })();
      return chain;
    },
    async renewalInfo(cert, signal) {
      try {
        const answer = await renewalInfo(cert, signal);
        options.onRenewalInfo?.(answer.supported ? 'window' : 'unsupported');
        return answer;
      } catch (error) {
        const limited = isCertkeeperError(error, 'ACME_RATE_LIMITED');
        options.onRenewalInfo?.(limited ? (error.details?.deferred === true ? 'deferred' : 'rate_limited') : 'error');
        throw error;
      }
    },
  };

  async function renewalInfo(cert: StoredCertificate, signal: AbortSignal | undefined): Promise<RenewalInfoAnswer> {
    const settings = config.issuers.find((issuer) => issuer.directoryUrl === cert.directoryUrl);
    if (!settings) return { supported: false };
    // "No request to that CA until then" covers ARI too: planning asks again after the backoff.
    const limited = await rateLimitBeforeAsking(store, settings, clock.now(), logger);
    if (limited) {
      throw new CertkeeperError('ACME_RATE_LIMITED', `issuer ${settings.name} is rate-limited until ${limited.rateLimitedUntil}; ARI not asked`, {
        retryable: true,
        retryAfterSeconds: Math.max(1, Math.ceil((Date.parse(limited.rateLimitedUntil) - clock.now().getTime()) / 1000)),
        details: { issuer: settings.name, deferred: true },
      });
    }
    const { ariCertificateId, fetchRenewalInfo } = await import('../acme/ari.js');
    return fetchRenewalInfo(ariCertificateId(cert.material.certPem), {
      directoryUrl: settings.directoryUrl,
      caBundlePem: settings.caBundlePem,
      clock,
      logger: logger.child({ component: 'ari' }),
      signal,
      // ARI keeps its own shorter default; a configured request deadline applies to it too.
      ...(settings.requestTimeoutMs !== undefined ? { deadlineMs: settings.requestTimeoutMs } : {}),
      onRequest: options.onRequest,
    });
  }
}
