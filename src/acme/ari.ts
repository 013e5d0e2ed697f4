// ACME Renewal Information (RFC 9773): the certificate identifier (AKI keyIdentifier + serial,
// read straight from the DER), the directory's `renewalInfo` URL and the suggested window, asked
// with a plain GET through the same transport (CA bundle, Clock, abort) as every ACME request.

import { X509Certificate } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { CertkeeperError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { RenewalInfoAnswer } from '../issuers/contract.js';
import { parseRetryAfter } from './errors.js';
import type { AcmeRequestInfo } from './endpoints.js';
import { AcmeTransport } from './transport.js';

/** Used when the CA sends no usable Retry-After (RFC 9773 §4.3 suggests 6 hours). */
export const DEFAULT_ARI_RETRY_AFTER_SECONDS = 6 * 3600;
/** A renewalInfo look-up is small; planning waits for it, so it gets less than an order's requests. */
export const ARI_REQUEST_DEADLINE_MS = 30_000;

interface Tlv {
  tag: number;
  /** Offset of the contents and the end of the element. */
  start: number;
  end: number;
}

function readTlv(der: Uint8Array, offset: number): Tlv {
  const tag = der[offset];
  let length = der[offset + 1];
  if (tag === undefined || length === undefined) throw new Error('truncated DER');
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new Error('unsupported DER length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[start + i] ?? 0);
    start += count;
  }
  const end = start + length;
  if (end > der.length) throw new Error('truncated DER');
  return { tag, start, end };
}

function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let offset = parent.start; offset < parent.end;) {
    const child = readTlv(der, offset);
    out.push(child);
    offset = child.end;
  }
  return out;
}

const AKI_OID = Buffer.from([0x55, 0x1d, 0x23]); // 2.5.29.35

/**
 * The ARI certificate identifier: base64url(AKI keyIdentifier) "." base64url(serial), the serial
 * as its DER INTEGER contents (a leading zero byte kept). Throws when the certificate has no AKI.
 */
export function ariCertificateId(certPem: string): string {
  const der = new Uint8Array(new X509Certificate(certPem).raw);
  try {
    const certificate = readTlv(der, 0);
    const [tbs] = children(der, certificate);
    if (!tbs) throw new Error('no tbsCertificate');
    const fields = children(der, tbs);
    const serial = fields[0]?.tag === 0xa0 ? fields[1] : fields[0];
    if (!serial || serial.tag !== 0x02) throw new Error('no serial number');
    const extensions = fields.find((field) => field.tag === 0xa3);
    let keyId: Uint8Array | undefined;
    for (const extension of extensions ? children(der, children(der, extensions)[0]!) : []) {
      const parts = children(der, extension);
      const oid = parts[0];
      if (!oid || !Buffer.from(der.subarray(oid.start, oid.end)).equals(AKI_OID)) continue;
      const value = parts[parts.length - 1]!; // OCTET STRING holding AuthorityKeyIdentifier
      const aki = readTlv(der, value.start);
      keyId = children(der, aki)
        .filter((part) => part.tag === 0x80)
        .map((part) => der.subarray(part.start, part.end))[0];
    }
    if (!keyId) throw new Error('no authority key identifier');
    return `${Buffer.from(keyId).toString('base64url')}.${Buffer.from(der.subarray(serial.start, serial.end)).toString('base64url')}`;
  } catch (error) {
    throw new CertkeeperError('ACME_ERROR', `cannot compute the ARI identifier: ${(error as Error).message}`, { retryable: false, cause: error });
  }
}

export interface FetchRenewalInfoOptions {
  directoryUrl: string;
  caBundlePem?: string | undefined;
  clock: Clock;
  logger: Logger;
  signal?: AbortSignal | undefined;
  /** Socket idle timeout per request; default 15 s. Planning must not hang on a slow CA. */
  timeoutMs?: number | undefined;
  /** Overall deadline per request, however steadily the CA trickles bytes; default 30 s. */
  deadlineMs?: number | undefined;
  /** Every HTTP attempt's status (undefined: network failure), its ACME resource and duration (transport.ts). */
  onRequest?: ((status: number | undefined, info?: AcmeRequestInfo) => void) | undefined;
}

/** Asks the CA for the renewal window of the certificate `certId`. */
export async function fetchRenewalInfo(certId: string, options: FetchRenewalInfoOptions): Promise<RenewalInfoAnswer> {
  const transport = new AcmeTransport({
    caBundlePem: options.caBundlePem,
    clock: options.clock,
    signal: options.signal,
    logger: options.logger,
    idleTimeoutMs: options.timeoutMs ?? 15_000,
    deadlineMs: options.deadlineMs ?? ARI_REQUEST_DEADLINE_MS,
    retries: 1,
    onRequest: options.onRequest,
    directoryUrl: options.directoryUrl,
  });
  try {
    const base = await renewalInfoUrl(transport, options.directoryUrl);
    if (!base) return { supported: false };
    const url = `${base.replace(/\/+$/, '')}/${certId}`;
    const response = await transport.request(url, 'get');
    if (response.status === 429) {
      // ARI has its own limits at some CAs: honour its Retry-After rather than asking again in an hour.
      const retryAfter = parseRetryAfter(response.headers['retry-after'], options.clock.now(), response.headers.date);
      throw new CertkeeperError('ACME_RATE_LIMITED', `renewalInfo ${url} answered HTTP 429 (rate limited)`, {
        retryable: true,
        ...(retryAfter !== undefined && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
        details: { url, httpStatus: 429 },
      });
    }
    if (response.status !== 200) {
      throw new CertkeeperError('ACME_ERROR', `renewalInfo ${url} answered HTTP ${response.status}`, { details: { url, httpStatus: response.status } });
    }
    const body = response.data as { suggestedWindow?: { start?: unknown; end?: unknown }; explanationURL?: unknown } | undefined;
    const start = typeof body?.suggestedWindow?.start === 'string' ? new Date(body.suggestedWindow.start) : undefined;
    const end = typeof body?.suggestedWindow?.end === 'string' ? new Date(body.suggestedWindow.end) : undefined;
    if (!start || !end || Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end.getTime() < start.getTime()) {
      throw new CertkeeperError('ACME_ERROR', `renewalInfo ${url} has no valid suggestedWindow`, { details: { url } });
    }
    const retryAfter = parseRetryAfter(response.headers['retry-after'], options.clock.now(), response.headers.date);
    return {
      supported: true,
      certId,
      info: {
        start,
        end,
        explanationUrl: typeof body?.explanationURL === 'string' ? body.explanationURL : null,
        retryAfterSeconds: retryAfter !== undefined && retryAfter > 0 ? retryAfter : DEFAULT_ARI_RETRY_AFTER_SECONDS,
      },
    };
  } finally {
    transport.close();
  }
}

async function renewalInfoUrl(transport: AcmeTransport, directoryUrl: string): Promise<string | undefined> {
  const response = await transport.request(directoryUrl, 'get');
  if (response.status !== 200 || typeof response.data !== 'object' || response.data === null) {
    throw new CertkeeperError('ACME_ERROR', `the directory ${directoryUrl} answered HTTP ${response.status}`, {
      details: { url: directoryUrl, httpStatus: response.status },
    });
  }
  const url = (response.data as { renewalInfo?: unknown }).renewalInfo;
  return typeof url === 'string' ? url : undefined;
}
