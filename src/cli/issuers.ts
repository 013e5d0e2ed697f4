// The CAs, built from config: one ACME issuer per `issuers:` entry (on first use), the engine's
// fallback chain over them for real orders, and ARI lookups against the CA that issued a
// certificate. acmeIssuerFrom is the one place issuer settings become an ACME issuer (dry runs too).

import type { Clock } from '../core/clock.js';
import { CertkeeperError, isCertkeeperError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { StoredCertificate } from '../core/types.js';
import type { AcmeSettings, Config } from '../config/load.js';
import type { IssuerSettings } from '../config/issuers.js';
import type { ChallengeLookups } from '../dns/contract.js';
import type { IssuerChain } from '../engine/issuer-chain.js';
import type { Issuer, RenewalInfoAnswer } from '../issuers/contract.js';
import type { RenewalInfoResult } from '../observe/metrics.js';
import type { StateStore } from '../state/contract.js';
import { rateLimitsIn } from '../state/issuer-state.js';

export interface IssuerWiringOptions {
  store: StateStore;
  clock: Clock;
  logger: Logger;
  onRequest?: ((status: number | undefined) => void) | undefined;
  /** Every ARI lookup's result, for metrics. */
  onRenewalInfo?: ((result: RenewalInfoResult) => void) | undefined;
}

export interface IssuerWiring {
  /** The issuers of `config.issuers` in fallback order (engine/issuer-chain.ts). */
  chain(): Promise<IssuerChain>;
  /** ARI for a stored certificate, asked of the configured issuer with its directory; unsupported when none is configured. */
  renewalInfo(cert: StoredCertificate, signal?: AbortSignal): Promise<RenewalInfoAnswer>;
}

/**
 * The ACME issuer of one CA from its settings, ordering from `directoryUrl` (the settings' own, or
 * a dry run's rehearsal directory): account, trust, chain and deadlines. The issuer's profile and
 * lifetime are a request's defaults, filled in by engine/issuer-chain.ts withIssuerDefaults.
 */
export async function acmeIssuerFrom(
  settings: AcmeSettings & { name?: string },
  directoryUrl: string,
  context: Pick<IssuerWiringOptions, 'store' | 'clock' | 'logger' | 'onRequest'> & { config: Pick<Config, 'resolvers'> },
): Promise<Issuer> {
  const [{ createAcmeIssuer }, lookups] = await Promise.all([import('../acme/issuer.js'), challengeLookups()]);
  return createAcmeIssuer({
    directoryUrl,
    email: settings.email ?? undefined,
    ...(settings.eab ? { eab: settings.eab } : {}),
    ...(settings.caBundlePem ? { caBundlePem: settings.caBundlePem } : {}),
    ...(settings.preferredChain ? { preferredChain: settings.preferredChain } : {}),
    ...(settings.requestTimeoutMs !== undefined ? { requestTimeoutMs: settings.requestTimeoutMs } : {}),
    ...(settings.orderTimeoutMs !== undefined ? { orderTimeoutMs: settings.orderTimeoutMs } : {}),
    store: context.store,
    clock: context.clock,
    logger: context.logger.child({ component: 'acme', ...(settings.name !== undefined ? { issuer: settings.name } : {}) }),
    resolvers: context.config.resolvers ?? [],
    lookups,
    onRequest: context.onRequest,
  });
}

/** The challenge loop's DNS look-ups, loaded with the ACME client (only when something is ordered). */
async function challengeLookups(): Promise<ChallengeLookups> {
  const [propagation, resolver] = await Promise.all([import('../dns/propagation.js'), import('../dns/resolver.js')]);
  const { resolveChallengeTarget, waitForTxtPropagation } = propagation;
  const { systemResolvers } = resolver;
  return { resolveChallengeTarget, waitForTxtPropagation, systemResolvers };
}

export function createIssuerWiring(config: Config, options: IssuerWiringOptions): IssuerWiring {
  const { store, clock, logger } = options;
  const rateLimits = rateLimitsIn(store);
  const built = new Map<string, Promise<Issuer>>();
  let chain: Promise<IssuerChain> | undefined;

  const issuerFor = (settings: IssuerSettings): Promise<Issuer> => {
    let issuer = built.get(settings.name);
    if (!issuer) {
      issuer = acmeIssuerFrom(settings, settings.directoryUrl, { config, store, clock, logger, onRequest: options.onRequest });
      built.set(settings.name, issuer);
    }
    return issuer;
  };

  return {
    chain() {
      chain ??= (async () => {
        const { createIssuerChain } = await import('../engine/issuer-chain.js');
        return createIssuerChain({ issuers: config.issuers, issuerFor, rateLimits, clock, logger: logger.child({ component: 'issuers' }) });
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
    const limited = await rateLimits.beforeAsking(settings, clock.now(), logger);
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
