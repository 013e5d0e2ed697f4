// Which ACME resource a request went to, as a bounded metrics label (never the URL: it carries
// account, order and authorization ids). The URLs are learnt from the CA's own answers, as a
// client follows them (RFC 8555 §7.1): the directory names the fixed resources, newOrder's
// Location and order bodies name an order's, authorization bodies name their challenges. One map
// per transport, and a transport lives for one session (one order, one ARI lookup), so it stays small.

import type { CaRequestInfo } from '../issuers/contract.js';

/** The `endpoint` label of `certkeeper_acme_request_duration_seconds`. */
export const ACME_ENDPOINTS = [
  'directory',
  'newNonce',
  'newAccount',
  'newOrder',
  'order',
  'authz',
  'challenge',
  'finalize',
  'certificate',
  'renewalInfo',
  'revokeCert',
  'keyChange',
  'account',
  'other',
] as const;
export type AcmeEndpoint = (typeof ACME_ENDPOINTS)[number];

/** What the transport tells `onRequest` besides the status: where the request went and how long it took. */
export interface AcmeRequestInfo extends CaRequestInfo {
  endpoint: AcmeEndpoint;
}

/** The directory fields that name a fixed resource, by the label they get. */
const DIRECTORY_FIELDS = ['newNonce', 'newAccount', 'newOrder', 'revokeCert', 'keyChange'] as const;

export class AcmeEndpointMap {
  private readonly kinds = new Map<string, AcmeEndpoint>();
  /** renewalInfo is a prefix: `{renewalInfo}/{certId}`. */
  private renewalInfoBase: string | undefined;

  constructor(known: { directoryUrl?: string | undefined; accountUrl?: string | null | undefined } = {}) {
    if (known.directoryUrl) this.kinds.set(known.directoryUrl, 'directory');
    if (known.accountUrl) this.kinds.set(known.accountUrl, 'account');
  }

  /** The label for a request to `url` (HEAD is only ever used to fetch a nonce). */
  classify(url: string, method: string): AcmeEndpoint {
    const known = this.kinds.get(url);
    if (known) return known;
    if (method.toUpperCase() === 'HEAD') return 'newNonce';
    if (this.renewalInfoBase && url.startsWith(`${this.renewalInfoBase}/`)) return 'renewalInfo';
    return 'other';
  }

  /** Learns the URLs an answer from `url` names; call before `classify` so a directory names itself. */
  learn(url: string, headers: Record<string, string | undefined>, data: unknown): void {
    const requested = this.kinds.get(url);
    const location = headers.location;
    if (location && requested === 'newOrder') this.kinds.set(location, 'order');
    if (location && requested === 'newAccount') this.kinds.set(location, 'account');
    if (typeof data !== 'object' || data === null) return;
    const body = data as Record<string, unknown>;
    if (typeof body.newNonce === 'string' && typeof body.newOrder === 'string') {
      this.kinds.set(url, 'directory');
      for (const field of DIRECTORY_FIELDS) {
        const named = body[field];
        if (typeof named === 'string') this.kinds.set(named, field);
      }
      if (typeof body.renewalInfo === 'string') this.renewalInfoBase = body.renewalInfo.replace(/\/+$/, '');
      return;
    }
    if (typeof body.finalize === 'string') {
      // An order body: from newOrder, finalize, or the order itself (a resumed order's URL is learnt here).
      if (!requested) this.kinds.set(url, 'order');
      this.kinds.set(body.finalize, 'finalize');
      if (typeof body.certificate === 'string') this.kinds.set(body.certificate, 'certificate');
      if (Array.isArray(body.authorizations)) for (const authz of body.authorizations) if (typeof authz === 'string') this.kinds.set(authz, 'authz');
      return;
    }
    if (Array.isArray(body.challenges)) {
      if (!requested) this.kinds.set(url, 'authz');
      for (const challenge of body.challenges) {
        const challengeUrl = (challenge as { url?: unknown } | null)?.url;
        if (typeof challengeUrl === 'string') this.kinds.set(challengeUrl, 'challenge');
      }
    }
  }
}
