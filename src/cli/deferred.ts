// DNS providers and sinks whose code loads on first use, so a run with nothing to order or
// deploy never loads it (DNS wire format, cloud clients). The engine asks for them synchronously
// (EngineDeps.dnsProvider/sink); these stand-ins build the real one, through its registry, when
// it is first called.

import type { DnsProvider } from '../dns/contract.js';
import type { DnsProviderContext } from '../dns/contract.js';
import { propagationSettings } from '../dns/fields.js';
import type { DnsProviderConfig } from '../dns/schema.js';
import type { Sink, SinkContext } from '../sinks/contract.js';
import { locateSinkFiles, sinkCapabilities, type SinkConfig } from '../sinks/schema.js';

/** Runs `build` once it is first needed; a failed build is tried again on the next call. */
function onFirstUse<T>(build: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () =>
    (pending ??= build().catch((error: unknown) => {
      pending = undefined;
      throw error;
    }));
}

export function deferredDnsProvider(config: DnsProviderConfig, ctx: DnsProviderContext): DnsProvider {
  let built: DnsProvider | undefined;
  const configured = propagationSettings(config);
  const load = onFirstUse(async () => {
    const { createDnsProvider, withBatching } = await import('../dns/registry.js');
    built = withBatching(createDnsProvider(config, ctx), ctx);
    return built;
  });
  return {
    name: ctx.name,
    presentTxt: async (record, signal) => (await load()).presentTxt(record, signal),
    cleanupTxt: async (record, signal) => (await load()).cleanupTxt(record, signal),
    // Every provider takes these from its `propagation:` setting; once built, it answers itself.
    get propagationNameservers() {
      return built ? built.propagationNameservers : configured.propagationNameservers;
    },
    get propagationTimeoutMs() {
      return built ? built.propagationTimeoutMs : configured.propagationTimeoutMs;
    },
    get propagationIntervalMs() {
      return built ? built.propagationIntervalMs : configured.propagationIntervalMs;
    },
    // Asked after a present, so the built provider answers (a batching one checks propagation itself).
    get presentWaitsForPropagation() {
      return built?.presentWaitsForPropagation;
    },
    onPropagationChecked: (result, seconds) => built?.onPropagationChecked?.(result, seconds),
  };
}

export function deferredSink(config: SinkConfig, ctx: SinkContext): Sink {
  const { writesFiles, reloads } = sinkCapabilities(config);
  const load = onFirstUse(async () => {
    const { createSink } = await import('../sinks/registry.js');
    return createSink(config, ctx);
  });
  return {
    name: ctx.name,
    type: config.type,
    writesFiles,
    reloads,
    deploy: async (request, signal) => (await load()).deploy(request, signal),
    // `locate` must answer synchronously: a sink type that writes files says where from its entry
    // alone (its kind in sinks/schema.ts), so the sink need not be built for it.
    ...(writesFiles ? { locate: (certName: string) => locateSinkFiles(config, certName) } : {}),
  };
}
