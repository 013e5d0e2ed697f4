// Every DNS provider type, by the `type` an operator writes in the config: its schema and
// capabilities (schema.ts, which the config code uses without loading any provider) and its
// constructor. The CLI builds providers with `createDnsProvider`, on first use (cli/deferred.ts).
// Adding a provider: a folder under providers/ with schema.ts and index.ts, one entry in
// schema.ts and one here (a test checks that the folders and this map agree).

import type { z } from 'zod';
import { defineRegistry } from '../core/registry.js';
import { batchingProvider, supportsBatches } from './batcher.js';
import type { DnsProvider, DnsProviderContext } from './contract.js';
import { observedDnsProvider, timedDnsCall } from './observed.js';
import { waitForTxtPropagationBatch } from './propagation.js';
import { systemResolvers } from './resolver.js';
import { createExecDnsProvider } from './providers/exec/index.js';
import { createRfc2136Provider } from './providers/rfc2136/index.js';
import { createRoute53Provider } from './providers/route53/index.js';
import { dnsProviderKinds, type DnsProviderConfig, type DnsProviderKind } from './schema.js';

export type { DnsProviderContext } from './contract.js';
export { dnsProviderCapabilities, dnsProviderConfigSchema, isDnsProviderType, type DnsProviderConfig, type DnsProviderTypeName } from './schema.js';

/** A provider type: its kind (schema.ts: schema and capabilities) and its constructor. */
export interface DnsProviderType<Schema extends z.ZodType> extends DnsProviderKind<Schema> {
  create(config: z.output<Schema>, ctx: DnsProviderContext): DnsProvider;
}

/** Ties an entry's functions to its schema's output type. */
function providerType<Schema extends z.ZodType>(entry: DnsProviderType<Schema>): DnsProviderType<Schema> {
  return entry;
}

const kinds = dnsProviderKinds.entries;

export const dnsProviderRegistry = defineRegistry({
  rfc2136: providerType({ ...kinds.rfc2136, create: createRfc2136Provider }),
  exec: providerType({ ...kinds.exec, create: createExecDnsProvider }),
  route53: providerType({ ...kinds.route53, create: createRoute53Provider }),
});

export const dnsProviderTypes = dnsProviderRegistry.entries;

function entryFor(config: DnsProviderConfig): DnsProviderType<z.ZodType<DnsProviderConfig, unknown>> {
  return dnsProviderRegistry.entryFor(config);
}

/** The provider `config` names; with `ctx.onCall`, its writes are timed (dns/observed.ts). */
export function createDnsProvider(config: DnsProviderConfig, ctx: DnsProviderContext): DnsProvider {
  const provider = entryFor(config).create(config, ctx);
  return ctx.onCall ? observedDnsProvider(provider, ctx.onCall) : provider;
}

/**
 * `provider` as the engine uses it: one that can write batches (Route53, RFC 2136) goes behind a
 * batcher, so the records of many certificates go out as one change per zone and propagation is
 * checked once per batch (batcher.ts): its presentTxt then resolves once the record is visible.
 * Any other provider is returned as it is.
 */
export function withBatching(provider: DnsProvider, ctx: DnsProviderContext): DnsProvider {
  if (!supportsBatches(provider)) return provider;
  const resolvers = ctx.resolvers && ctx.resolvers.length > 0 ? ctx.resolvers : systemResolvers();
  return batchingProvider(provider, {
    clock: ctx.clock,
    logger: ctx.logger,
    confirm: (records, signal) => {
      const check = () =>
        waitForTxtPropagationBatch({
          records,
          nameservers: provider.propagationNameservers,
          resolvers,
          timeoutMs: provider.propagationTimeoutMs ?? DEFAULT_BATCH_PROPAGATION_TIMEOUT_MS,
          intervalMs: provider.propagationIntervalMs ?? DEFAULT_BATCH_PROPAGATION_INTERVAL_MS,
          clock: ctx.clock,
          signal,
          logger: ctx.logger,
        });
      // A record that never showed up makes the check an error, though the others may have passed.
      return ctx.onCall ? timedDnsCall(ctx.onCall, 'propagation', signal, check, (errors) => errors.some((error) => error !== undefined)) : check();
    },
  });
}

/** As the challenge loop's defaults (acme/challenge.ts), which dns/ cannot import. */
const DEFAULT_BATCH_PROPAGATION_TIMEOUT_MS = 120_000;
const DEFAULT_BATCH_PROPAGATION_INTERVAL_MS = 2_000;
