// The one place that turns configuration into concrete parts: the file state store, DNS
// providers and sinks from their registries, and the ACME issuer (each loaded only when needed).

import type { Clock } from '../core/clock.js';
import { CertkeeperError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Config } from '../config/load.js';
import type { DnsProvider } from '../dns/contract.js';
import type { DnsCall } from '../dns/contract.js';
import type { EngineDeps } from '../engine/contracts.js';
import type { CaRequestInfo, Issuer } from '../issuers/contract.js';
import type { StreamEvent } from '../observe/stream.js';
import type { RenewalInfoResult } from '../observe/metrics.js';
import type { Sink } from '../sinks/contract.js';
import { withIssuerDefaults } from '../engine/issuer-chain.js';
import { dryRunTarget } from '../engine/rehearse.js';
import { stateStore } from './state.js';
import { describeError } from '../core/errors.js';
import type { RepositoryStore } from '../state/repository-store.js';
import type { StorageObserver } from '../state/storage/observed.js';
import { certificateDataKey } from '../state/codec.js';
import { rateLimitsIn } from '../state/issuer-state.js';
import { deferredDnsProvider, deferredSink } from './deferred.js';
import { acmeIssuerFrom, createIssuerWiring } from './issuers.js';

export interface WiringOptions {
  clock: Clock;
  logger: Logger;
  onEvent?: (event: StreamEvent) => void;
  /** Every ACME request's HTTP status (undefined: network failure), its resource and duration, for metrics. */
  onAcmeRequest?: (status: number | undefined, info?: CaRequestInfo) => void;
  /** Every DNS provider write and batch propagation check, by provider type, for metrics. */
  onDnsCall?: (providerType: string, call: DnsCall) => void;
  /** Every state store call, for metrics (used when this wiring opens the store). */
  storeObserver?: StorageObserver | undefined;
  /** Every ARI lookup's result, for metrics. */
  onRenewalInfo?: (result: RenewalInfoResult) => void;
}

/** The AWS SDK drops Node.js 20 in early 2027; say so where it matters, once per process. */
let awsNodeNoticeGiven = false;
function noticeAwsOnOldNode(config: Config, logger: Logger): void {
  const usesAws = Object.values(config.dns).some((d) => d.type === 'route53') || Object.values(config.sinks).some((s) => s.type === 'acm');
  const major = Number(process.versions.node.split('.')[0]);
  if (!usesAws || major >= 22 || awsNodeNoticeGiven) return;
  awsNodeNoticeGiven = true;
  logger.warn({ node: process.versions.node }, 'the AWS SDK ends support for Node.js 20 in early 2027: plan to run certkeeper on Node.js 22 or 24');
}

let swept = false;

/** Temp files of a killed writer go at the first wiring of a process (renew, run, revoke), not per reload. */
async function sweepOnce(store: RepositoryStore, logger: Logger): Promise<void> {
  if (swept) return;
  swept = true;
  try {
    await store.storage.sweep?.();
  } catch (error) {
    // Leftover temp files are harmless clutter; never fail a run over them.
    logger.warn({ err: describeError(error) }, 'cannot clean temp files in the state store');
  }
}

export async function wire(config: Config, options: WiringOptions): Promise<EngineDeps> {
  const { clock, logger } = options;
  noticeAwsOnOldNode(config, logger);
  const store = await stateStore(config, clock, logger, options.storeObserver);
  await sweepOnce(store, logger);
  const providers = new Map<string, DnsProvider>();
  const sinks = new Map<string, Sink>();
  const issuers = new Map<string, Promise<Issuer>>();
  // Real orders go through the issuer fallback chain (cli/issuers.ts); dry runs below.
  const acmeIssuers = createIssuerWiring(config, { store, clock, logger, onRequest: options.onAcmeRequest, onRenewalInfo: options.onRenewalInfo });

  return {
    config,
    store,
    clock,
    logger,
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    renewalInfo: (cert, signal) => acmeIssuers.renewalInfo(cert, signal),
    rateLimits: rateLimitsIn(store),
    issuer(request) {
      if (!request?.dryRun) return acmeIssuers.chain();
      // A dry run goes to the certificate's first issuer's rehearsal directory: staging when there is one.
      const { settings, directoryUrl } = dryRunTarget(config, request.cert);
      let issuer = issuers.get(directoryUrl);
      issuer ??= acmeIssuerFrom(settings, directoryUrl, { config, store, clock, logger, onRequest: options.onAcmeRequest }).then((acme) => ({
        directoryUrl: acme.directoryUrl,
        issue: (order) => acme.issue(withIssuerDefaults(order, settings)),
      }));
      issuers.set(directoryUrl, issuer);
      return issuer;
    },
    dnsProvider(name) {
      const existing = providers.get(name);
      if (existing) return existing;
      const providerConfig = config.dns[name];
      if (!providerConfig) throw new CertkeeperError('CONFIG_INVALID', `no DNS provider named "${name}"`, { retryable: false });
      const { onDnsCall } = options;
      const provider = deferredDnsProvider(providerConfig, {
        name,
        clock,
        logger: logger.child({ dns: name }),
        resolvers: config.resolvers,
        // Labelled by type, not config name: a bounded set whatever the configuration holds.
        ...(onDnsCall ? { onCall: (call: DnsCall) => onDnsCall(providerConfig.type, call) } : {}),
      });
      providers.set(name, provider);
      return provider;
    },
    sink(name) {
      const existing = sinks.get(name);
      if (existing) return existing;
      const sinkConfig = config.sinks[name];
      if (!sinkConfig) throw new CertkeeperError('CONFIG_INVALID', `no sink named "${name}"`, { retryable: false });
      const sink = deferredSink(sinkConfig, {
        name,
        clock,
        logger: logger.child({ sink: name }),
        state: {
          get: (cert) => store.getSinkState(cert, name),
          put: (cert, data) => store.putSinkState(cert, name, data),
          where: (cert) => certificateDataKey(cert, name),
        },
      });
      sinks.set(name, sink);
      return sink;
    },
  };
}
