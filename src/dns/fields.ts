// Fields the DNS provider schemas share: the propagation check settings every provider takes
// (`propagation:`), and the batch window of the providers that send records in batches. One
// definition each, spread or used in place in providers/<name>/schema.ts.

import type { z } from 'zod';
import { durationMs, propagationSchema } from '../core/fields.js';
import type { DnsProvider } from './contract.js';

export const propagationFields = {
  /** Where the propagation check asks (nameservers), how long it waits and how often it looks; the challenge loop's defaults when absent. */
  propagation: propagationSchema.optional(),
};

/** How long challenge records are collected before they go out as one change, one UPDATE or one hook run. */
export const batchWindowField = durationMs.refine((ms) => ms <= 10_000, 'must be at most 10s').default(250);

export type PropagationSettings = Pick<DnsProvider, 'propagationNameservers' | 'propagationTimeoutMs' | 'propagationIntervalMs'>;

/** A provider entry's `propagation:`, as the DnsProvider contract exposes it. */
export function propagationSettings(config: { propagation?: z.output<typeof propagationSchema> | undefined }): PropagationSettings {
  return {
    propagationNameservers: config.propagation?.nameservers,
    propagationTimeoutMs: config.propagation?.timeout,
    propagationIntervalMs: config.propagation?.interval,
  };
}
