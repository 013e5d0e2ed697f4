// One conversation with an ACME server for one account: acme-client's Client behind our
// transport, with every call mapped to a CertkeeperError naming the step that failed. The
// shapes below are the parts of RFC 8555 objects certkeeper reads.

import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { AcmeRequestInfo } from './endpoints.js';
import { toAcmeError } from './errors.js';
import { AcmeTransport, installTransport } from './transport.js';

export interface AcmeChallenge {
  type: string;
  url: string;
  status: string;
  token?: string;
  /** The CA's problem document when validation failed. */
  error?: unknown;
}

export interface AcmeAuthorization {
  url: string;
  status: string;
  identifier: { type: string; value: string };
  wildcard?: boolean;
  challenges: AcmeChallenge[];
}

export interface AcmeOrder {
  url: string;
  status: string;
  authorizations: string[];
  finalize: string;
  certificate?: string;
  error?: unknown;
}

export interface OrderExtras {
  /** ARI identifier of the certificate this order replaces. */
  replaces?: string | undefined;
  profile?: string | undefined;
  /** Requested notAfter (RFC 8555 §7.4, RFC 3339); only some CAs honour it. */
  notAfter?: string | undefined;
}

export interface Eab {
  kid: string;
  /** A secret: never log it. */
  hmacKey: string;
}

export interface AcmeSessionOptions {
  directoryUrl: string;
  /** PEM; a secret. */
  accountKeyPem: string;
  /** Known account URL: acme-client then signs with it and never registers again. */
  accountUrl?: string | null | undefined;
  eab?: Eab | undefined;
  caBundlePem?: string | undefined;
  clock: Clock;
  signal?: AbortSignal | undefined;
  logger: Logger;
  /** Overall deadline of each HTTP request (transport.ts); default 60 s. */
  requestTimeoutMs?: number | undefined;
  /** Every HTTP attempt's status (undefined: network failure), its ACME resource and duration (transport.ts). */
  onRequest?: ((status: number | undefined, info?: AcmeRequestInfo) => void) | undefined;
}

/** The ACME operations the challenge loop needs; a narrow seam for tests. */
export interface ChallengeSession {
  getAuthorization(url: string): Promise<AcmeAuthorization>;
  /** The dns-01 TXT value: base64url(SHA-256(key authorization)). */
  dnsTxtValue(challenge: AcmeChallenge): Promise<string>;
  completeChallenge(challenge: AcmeChallenge): Promise<void>;
}

export interface AcmeSession extends ChallengeSession {
  readonly directoryUrl: string;
  /** Registers the account (or finds the existing one for this key) and returns its URL. */
  registerAccount(email: string | null): Promise<string>;
  /** New order; `replaces` (RFC 9773) and `profile` go into the payload when given. */
  createOrder(domains: string[], extras?: OrderExtras): Promise<AcmeOrder>;
  /** The directory's `meta.profiles` names, or undefined when it lists none. */
  profiles(): Promise<string[] | undefined>;
  getOrder(order: AcmeOrder): Promise<AcmeOrder>;
  getAuthorizations(order: AcmeOrder): Promise<AcmeAuthorization[]>;
  finalizeOrder(order: AcmeOrder, csrPem: string): Promise<AcmeOrder>;
  /** The PEM chain, the one whose issuer matches `preferredChain` when the CA offers several. */
  getCertificate(order: AcmeOrder, preferredChain?: string): Promise<string>;
  /** The account object by POST-as-GET to the account URL (changes nothing); needs a known account URL. */
  fetchAccount(): Promise<{ status?: string }>;
  /** Revokes `certPem` (RFC 8555 §7.6) with a CRL reason code (0 unspecified, 1 keyCompromise, 4 superseded, 5 cessationOfOperation). */
  revokeCertificate(certPem: string, reasonCode: number): Promise<void>;
  /** Frees the connections; the session is unusable afterwards. */
  close(): void;
}

/** What every session at one CA shares: everything but the account and the signal. */
export type AcmeCaSettings = Omit<AcmeSessionOptions, 'accountKeyPem' | 'accountUrl' | 'signal'>;

/** Opens sessions at one CA, each with its account and signal; takes only the CA's settings from `ca`. */
export function sessionOpener(ca: AcmeCaSettings): (accountKeyPem: string, accountUrl: string | null, signal: AbortSignal | undefined) => Promise<AcmeSession> {
  const { directoryUrl, eab, caBundlePem, clock, logger, requestTimeoutMs, onRequest } = ca;
  return (accountKeyPem, accountUrl, signal) =>
    openAcmeSession({ directoryUrl, accountKeyPem, accountUrl, eab, caBundlePem, clock, signal, logger, requestTimeoutMs, onRequest });
}

export type SessionOpener = ReturnType<typeof sessionOpener>;

/** The register step of ensureAccount (account.ts): a session signed with the new key registers it, then closes. */
export function registerWith(
  open: SessionOpener,
  email: string | null,
  signal: AbortSignal | undefined,
): (keyPem: string) => ReturnType<AcmeSession['registerAccount']> {
  return async (keyPem) => {
    const session = await open(keyPem, null, signal);
    try {
      return await session.registerAccount(email);
    } finally {
      session.close();
    }
  };
}

export async function openAcmeSession(options: AcmeSessionOptions): Promise<AcmeSession> {
  // Loaded here, not at the top: acme-client pulls in node-forge, asn1js and axios, which
  // commands that never talk to a CA (status, validate, history) should not pay for.
  const acme = await import('acme-client');
  const client = new acme.Client({
    directoryUrl: options.directoryUrl,
    accountKey: options.accountKeyPem,
    ...(options.accountUrl ? { accountUrl: options.accountUrl } : {}),
    ...(options.eab ? { externalAccountBinding: { kid: options.eab.kid, hmacKey: options.eab.hmacKey } } : {}),
  });
  const transport = new AcmeTransport({
    caBundlePem: options.caBundlePem,
    clock: options.clock,
    signal: options.signal,
    logger: options.logger,
    deadlineMs: options.requestTimeoutMs,
    onRequest: options.onRequest,
    directoryUrl: options.directoryUrl,
    accountUrl: options.accountUrl,
  });
  installTransport(client, transport);

  /** Runs one acme-client call; its failure becomes a CertkeeperError about `operation`. */
  const step = async <T>(operation: string, call: () => Promise<T>): Promise<T> => {
    transport.clearProblem();
    try {
      return await call();
    } catch (error) {
      throw toAcmeError(error, transport.lastProblem, operation);
    }
  };
  // acme-client's types describe the RFC objects loosely; these casts are the one boundary.
  type ClientOrder = Parameters<typeof client.getOrder>[0];
  type ClientChallenge = Parameters<typeof client.completeChallenge>[0];

  return {
    directoryUrl: options.directoryUrl,
    registerAccount: (email) =>
      step('registering the ACME account', async () => {
        await client.createAccount({ termsOfServiceAgreed: true, ...(email ? { contact: [`mailto:${email}`] } : {}) });
        return client.getAccountUrl();
      }),
    createOrder: (domains, extras = {}) =>
      step('creating the order', async () => {
        // acme-client passes the payload through; its type predates `replaces` and `profile`.
        const payload = {
          identifiers: domains.map((value) => ({ type: 'dns', value })),
          ...(extras.replaces ? { replaces: extras.replaces } : {}),
          ...(extras.profile ? { profile: extras.profile } : {}),
          ...(extras.notAfter ? { notAfter: extras.notAfter } : {}),
        } as Parameters<typeof client.createOrder>[0];
        return (await client.createOrder(payload)) as unknown as AcmeOrder;
      }),
    profiles: () =>
      step('reading the directory', async () => {
        const response = await transport.request(options.directoryUrl, 'get');
        const meta = (response.data as { meta?: { profiles?: unknown } } | undefined)?.meta;
        const profiles = meta?.profiles;
        return typeof profiles === 'object' && profiles !== null ? Object.keys(profiles) : undefined;
      }),
    getOrder: (order) => step('fetching the order', async () => (await client.getOrder(order as unknown as ClientOrder)) as unknown as AcmeOrder),
    getAuthorizations: (order) =>
      step('fetching the authorizations', async () => (await client.getAuthorizations(order as unknown as ClientOrder)) as unknown as AcmeAuthorization[]),
    getAuthorization: (url) =>
      step('fetching an authorization', async () => {
        const [authz] = await client.getAuthorizations({ authorizations: [url] } as unknown as ClientOrder);
        return authz as unknown as AcmeAuthorization;
      }),
    dnsTxtValue: (challenge) => step('computing the key authorization', () => client.getChallengeKeyAuthorization(challenge as unknown as ClientChallenge)),
    completeChallenge: (challenge) =>
      step('asking the CA to validate', async () => {
        await client.completeChallenge(challenge as unknown as ClientChallenge);
      }),
    finalizeOrder: (order, csrPem) =>
      step('finalizing the order', async () => (await client.finalizeOrder(order as unknown as ClientOrder, csrPem)) as unknown as AcmeOrder),
    getCertificate: (order, preferredChain) =>
      step('downloading the certificate', () => client.getCertificate(order as unknown as ClientOrder, preferredChain)),
    fetchAccount: () => step('fetching the ACME account', async () => (await client.updateAccount({})) as { status?: string }),
    revokeCertificate: (certPem, reasonCode) =>
      step('revoking the certificate', async () => {
        await client.revokeCertificate(certPem, { reason: reasonCode });
      }),
    close: () => transport.close(),
  };
}
