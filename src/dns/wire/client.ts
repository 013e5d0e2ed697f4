// The DNS client the rest of certkeeper uses: one query or one TSIG-signed UPDATE against one
// server, returning the decoded response. Interpreting RCODEs is left to the caller, which
// knows whether NXDOMAIN is an answer or a failure.

import type { RecordType } from 'dns-packet';
import { CertkeeperError } from '../../core/errors.js';
import { decodeMessage, encodeQuery, type DnsResponse } from './message.js';
import { signMessage, verifyResponse, type TsigCheck, type TsigKey } from './tsig.js';
import { exchange } from './transport.js';

export const DEFAULT_QUERY_TIMEOUT_MS = 5000;

export interface QueryOptions {
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Set for recursive resolvers; leave off to ask an authoritative server about its own data. */
  recursionDesired?: boolean | undefined;
}

export async function query(server: string, name: string, type: RecordType, options: QueryOptions = {}): Promise<DnsResponse> {
  const request = encodeQuery(name, type, { recursionDesired: options.recursionDesired ?? false });
  const bytes = await exchange(server, request.bytes, { timeoutMs: options.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS, signal: options.signal });
  return decode(server, bytes);
}

function decode(server: string, bytes: Buffer): DnsResponse {
  try {
    return decodeMessage(bytes);
  } catch (error) {
    throw new CertkeeperError('DNS_QUERY_FAILED', `${server} sent a malformed response: ${(error as Error).message}`, { cause: error });
  }
}

export interface SignedExchangeOptions {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Time for the TSIG time stamp and the check of the server's one (the injected Clock). */
  now: () => Date;
}

export interface SignedResponse {
  response: DnsResponse;
  tsig: TsigCheck;
}

/**
 * Signs `message` with `key`, sends it and checks the response's signature. The TSIG outcome is
 * returned rather than thrown: an unsigned NOTAUTH carrying BADKEY is the server's way of
 * saying "wrong key", and the caller words that for the operator.
 */
export async function exchangeSigned(server: string, message: Buffer, key: TsigKey, options: SignedExchangeOptions): Promise<SignedResponse> {
  const signed = signMessage(message, key, options.now());
  const bytes = await exchange(server, signed.bytes, { timeoutMs: options.timeoutMs, signal: options.signal });
  const response = decode(server, bytes);
  return { response, tsig: verifyResponse(bytes, key, signed, options.now()) };
}
