// What a deploy verification found, per endpoint and overall: the codecs the last verification
// is stored and read back through (verify/deploy.ts), and the report the event stream carries
// (observe/stream.ts). In core so that the stream need not import verify/, which emits on it.

import { z } from 'zod';
import { SERVINGS } from './endpoint-results.js';
import { storedTime } from './fields.js';

/**
 * What one endpoint served at a verification. The last verification is kept per certificate and
 * read back (by `status`) through these codecs, the types inferred from them: a stored value
 * that does not parse is no verification (serving unknown), never shown as what it claims.
 */
export const endpointVerdictCodec = z.object({
  endpoint: z.string(),
  address: z.string(),
  serving: z.enum(SERVINGS),
  /** The serial the endpoint served (null when unreachable). */
  servedSerial: z.string().nullable(),
  error: z.string().nullable(),
  trusted: z.boolean().nullable(),
  nameMatch: z.boolean().nullable(),
});

export type EndpointVerdict = z.infer<typeof endpointVerdictCodec>;

export const verifyReportCodec = z.object({
  cert: z.string(),
  /** The serial that should be served. */
  serial: z.string(),
  ok: z.boolean(),
  serving: z.enum(SERVINGS),
  endpoints: z.array(endpointVerdictCodec),
  /** Exec sinks run again because an endpoint still served something else. */
  redeployed: z.array(z.string()),
  /** Probe rounds, over both verification passes. */
  attempts: z.number().int().nonnegative(),
  at: storedTime,
  /** One line naming each endpoint that failed; null when ok. */
  error: z.string().nullable(),
});

export type VerifyReport = z.infer<typeof verifyReportCodec>;
