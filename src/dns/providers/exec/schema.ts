import { z } from 'zod';
import { execFields } from '../../../core/exec-fields.js';
import { batchWindowField, propagationFields } from '../../fields.js';
import type { DnsProviderCapabilities } from '../../contract.js';

export const execDnsSchema = z
  .object({
    type: z.literal('exec'),
    /** The hook (argv, no shell) and how it runs; it gets CERTKEEPER_ACTION, _DOMAIN, _FQDN, _VALUE in its environment. */
    ...execFields({ timeoutMs: 60_000 }),
    /** Set false when the script cannot keep two TXT values on one name (apex + wildcard). */
    wildcard: z.boolean().default(true),
    ...propagationFields,
    /**
     * The hook takes many records in one run (CERTKEEPER_RECORDS, one JSON object a line, and
     * CERTKEEPER_RECORD_COUNT): the records presented (or cleaned up) within batchWindow go out
     * as one run instead of one run per record.
     */
    batch: z.boolean().default(false),
    batchWindow: batchWindowField,
  })
  .strict();

export type ExecDnsConfig = z.infer<typeof execDnsSchema>;

/** Wildcards need two values on one name; the operator says whether the script can do that. */
export function execDnsCapabilities(config: ExecDnsConfig): DnsProviderCapabilities {
  return { wildcard: config.wildcard };
}
