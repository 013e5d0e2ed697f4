// Timing of a DNS provider's calls, for metrics: the provider's own writes (present, cleanup),
// the batcher's writes (one per zone and action) and its propagation check. The registry wraps
// what it builds (registry.ts) when the context asks (DnsProviderContext.onCall); a provider
// never knows it is watched.

import { timedCall } from '../core/timed-call.js';
import type { DnsCall, DnsCallObserver, DnsOperation, DnsProvider, TxtBatchSupport } from './contract.js';

export type { DnsCall, DnsCallObserver, DnsOperation };

/** Runs `call`, telling `onCall` how it went and how long it took (unless it was aborted); `failed` judges an answer that is a failure. */
export function timedDnsCall<T>(
  onCall: DnsCallObserver,
  operation: DnsOperation,
  signal: AbortSignal | undefined,
  call: () => Promise<T>,
  failed: (value: T) => boolean = () => false,
): Promise<T> {
  return timedCall(
    call,
    (outcome, seconds) => onCall({ operation, result: outcome.ok && !failed(outcome.value) ? 'success' : 'error', seconds }),
    () => signal?.aborted === true,
  );
}

/** `provider` with its writes (single and batched) timed; everything else answered by `provider` itself. */
export function observedDnsProvider(provider: DnsProvider, onCall: DnsCallObserver): DnsProvider {
  const batch = provider.batch;
  const observedBatch: TxtBatchSupport | undefined = batch && {
    get limits() {
      return batch.limits;
    },
    get windowMs() {
      return batch.windowMs;
    },
    zoneOf: (record, signal) => batch.zoneOf(record, signal),
    write: (action, zone, records, signal) => timedDnsCall(onCall, `batch_${action}`, signal, () => batch.write(action, zone, records, signal)),
  };
  return {
    get name() {
      return provider.name;
    },
    presentTxt: (record, signal) => timedDnsCall(onCall, 'present', signal, () => provider.presentTxt(record, signal)),
    cleanupTxt: (record, signal) => timedDnsCall(onCall, 'cleanup', signal, () => provider.cleanupTxt(record, signal)),
    get propagationNameservers() {
      return provider.propagationNameservers;
    },
    get propagationTimeoutMs() {
      return provider.propagationTimeoutMs;
    },
    get propagationIntervalMs() {
      return provider.propagationIntervalMs;
    },
    get presentWaitsForPropagation() {
      return provider.presentWaitsForPropagation;
    },
    onPropagationChecked: (result, seconds) => onCall({ operation: 'propagation', result, seconds }),
    ...(observedBatch ? { batch: observedBatch } : {}),
  };
}
