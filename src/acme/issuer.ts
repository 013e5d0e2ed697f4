// The ACME issuer: account → order → dns-01 challenges → finalize with our CSR → download →
// split and check the certificate. Built on acme-client's low-level calls (not auto()) so that
// propagation checks, cleanup, waits and error classification are ours. Every order runs under an
// overall deadline (deadline.ts); when it passes, the order is abandoned, its TXT records are
// removed and it fails as DEADLINE_EXCEEDED.

import { throwIfAborted, type Clock } from '../core/clock.js';
import { formatDuration } from '../core/duration.js';
import { CertkeeperError, isCertkeeperError, toCertkeeperError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { CertificateMaterial } from '../core/types.js';
import { keyMatchesCertificate, parseCertificate, splitPemChain } from '../core/x509.js';
import type { ChallengeLookups } from '../dns/contract.js';
import type { AccountStore, Issuer, IssueRequest, IssueResult, IssueStep } from '../issuers/contract.js';
import { ensureAccount, reregisterAccount, type AcmeAccount, type EnsureAccountOptions } from './account.js';
import { DEFAULT_PROPAGATION_TIMEOUT_MS, solveDnsChallenges } from './challenge.js';
import { causedByAbort, defaultOrderTimeoutMs, orderDeadline, untilAborted } from './deadline.js';
import { parseProblem, problemToError } from './errors.js';
import { createCsr, generatePrivateKey, normalizeReusedKey } from './keys.js';
import { pollUntil } from './poll.js';
import { registerWith, sessionOpener, type AcmeOrder, type AcmeSession, type Eab } from './session.js';

export interface AcmeIssuerOptions {
  directoryUrl: string;
  /** Contact for the account; with the directory URL it names the account in the state store. */
  email?: string | null | undefined;
  /** External account binding, for CAs that require one. The HMAC key is a secret. */
  eab?: Eab | undefined;
  /** Extra CA (PEM) to trust for the ACME server's HTTPS. */
  caBundlePem?: string | undefined;
  /** Issuer common name of the chain to prefer when the CA offers alternates. */
  preferredChain?: string | undefined;
  /** Where the account lives (the state store). */
  store: AccountStore;
  clock: Clock;
  logger: Logger;
  /** Resolvers (`host:port`) for CNAME following and nameserver discovery; empty → the host's. */
  resolvers: string[];
  /** The challenge loop's DNS look-ups (dns/propagation.ts, dns/resolver.ts). */
  lookups: ChallengeLookups;
  /** How long the CA may take to validate once asked (default 5 min) and to issue once finalized (default 5 min). */
  validationTimeoutMs?: number | undefined;
  issuanceTimeoutMs?: number | undefined;
  /** Overall deadline of each ACME HTTP request, however steadily bytes arrive (default 60 s). */
  requestTimeoutMs?: number | undefined;
  /**
   * Overall deadline of one order, challenge wait included (default 10 min, or the DNS provider's
   * propagation timeout + 5 min when that is longer).
   */
  orderTimeoutMs?: number | undefined;
  /** How long removing each challenge record may take after the order (default 2 min). */
  cleanupTimeoutMs?: number | undefined;
  /** Told about every ACME request's HTTP status (undefined: network failure), for metrics. */
  onRequest?: ((status: number | undefined) => void) | undefined;
}

/** What the ACME issuer adds to the contract's result: where the order and the account live. */
export interface AcmeIssueResult extends IssueResult {
  orderUrl: string;
  accountUrl: string;
  directoryUrl: string;
  replaced: boolean;
}

export interface AcmeIssuer extends Issuer {
  issue(request: IssueRequest): Promise<AcmeIssueResult>;
}

const DEFAULT_ISSUANCE_TIMEOUT_MS = 300_000;
/** A CA that honours notAfter may still round it (Pebble, Boulder: to the second or minute). */
const LIFETIME_TOLERANCE_MS = 5 * 60_000;

export function createAcmeIssuer(options: AcmeIssuerOptions): AcmeIssuer {
  const { directoryUrl, clock, logger } = options;
  const email = options.email ?? null;
  const resolvers = options.resolvers.length > 0 ? options.resolvers : options.lookups.systemResolvers();
  // One registration even when several certificates are issued at once; a failed one is retried.
  let account: Promise<AcmeAccount> | undefined;

  const open = sessionOpener(options);

  const accountOptions = (signal: AbortSignal | undefined): EnsureAccountOptions => ({
    store: options.store,
    directoryUrl,
    email,
    logger,
    register: registerWith(open, email, signal),
  });

  const currentAccount = (signal: AbortSignal | undefined): Promise<AcmeAccount> => {
    account ??= ensureAccount(accountOptions(signal)).catch((error: unknown) => {
      account = undefined;
      throw error;
    });
    return account;
  };

  return {
    directoryUrl,
    async issue(request) {
      const propagationTimeoutMs = request.dns.propagationTimeoutMs ?? DEFAULT_PROPAGATION_TIMEOUT_MS;
      const timeoutMs = options.orderTimeoutMs ?? defaultOrderTimeoutMs(propagationTimeoutMs);
      if (timeoutMs <= propagationTimeoutMs) {
        logger.warn(
          { cert: request.certName, orderTimeoutMs: timeoutMs, propagationTimeoutMs },
          'orderTimeout is not longer than the DNS propagation timeout: a slow propagation ends the order at its deadline',
        );
      }
      const deadline = orderDeadline(request.signal, timeoutMs);
      try {
        return await issueOnce(request, deadline.signal);
      } catch (error) {
        // The deadline aborted whatever was pending (a request, a wait, a DNS write): say so,
        // rather than CANCELLED, which means shutdown. Cleanup has run by now.
        if (deadline.expired && !request.signal?.aborted && causedByAbort(error)) {
          throw new CertkeeperError(
            'DEADLINE_EXCEEDED',
            `the order for ${request.domains.join(', ')} did not complete within ${formatDuration(timeoutMs)} (orderTimeout); abandoned`,
            {
              cause: error,
              details: { deadlineMs: timeoutMs, scope: 'order' },
            },
          );
        }
        // One error family at the boundary: an abort anywhere becomes CANCELLED.
        throw toCertkeeperError(error);
      } finally {
        deadline.clear();
      }
    },
  };

  /** One order; `signal` carries both the caller's cancellation and the order deadline. */
  async function issueOnce(request: IssueRequest, signal: AbortSignal): Promise<AcmeIssueResult> {
    const { domains } = request;
    const log = logger.child({ cert: request.certName });
    const progress = (step: IssueStep, detail?: string): void => {
      log.info({ step, ...(detail ? { detail } : {}) }, `issue: ${step}`);
      request.onProgress?.(detail === undefined ? { step } : { step, detail });
    };
    if (domains.length === 0) throw new CertkeeperError('INTERNAL', 'a certificate needs at least one domain', { retryable: false });
    throwIfAborted(signal);

    // Generating the key (seconds for RSA-4096) overlaps with ordering and validation.
    const cpu = request.cpu ?? (<T>(work: () => Promise<T>): Promise<T> => work());
    const keyPromise =
      request.keyPem !== undefined ? Promise.resolve(normalizeReusedKey(request.keyPem, request.keyType)) : cpu(() => generatePrivateKey(request.keyType));
    keyPromise.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"

    // The account is shared by concurrent orders: its registration follows the caller's signal
    // (shutdown), not this order's deadline, which only stops waiting for it.
    let acmeAccount = await untilAborted(currentAccount(request.signal), signal);
    let session = await open(acmeAccount.keyPem, acmeAccount.accountUrl, signal);
    try {
      progress('ordering', domains.join(' '));
      const profile = await checkedProfile(session, request.profile);
      let replaces = request.replaces?.directoryUrl === directoryUrl ? request.replaces.id : undefined;
      const lifetimeMs = request.lifetimeMs;
      let notAfter = lifetimeMs !== undefined ? new Date(clock.now().getTime() + lifetimeMs).toISOString() : undefined;
      const create = async (): Promise<AcmeOrder> => {
        for (;;) {
          try {
            const created = await session.createOrder(domains, { replaces, profile, notAfter });
            request.onOrder?.({ type: 'created', replaced: replaces !== undefined });
            return created;
          } catch (error) {
            if (!refusedOrder(error) || (replaces === undefined && notAfter === undefined)) throw error;
            if (replaces !== undefined) {
              // Some CAs reject `replaces` (unknown, already replaced, another account): once without.
              log.warn({ replaces, err: (error as Error).message }, 'the CA refused "replaces"; ordering again without it');
              replaces = undefined;
            } else {
              // Many CAs (Let's Encrypt among them) do not take a requested notAfter: their own lifetime then.
              log.warn({ notAfter, err: (error as Error).message }, "the CA refused the requested lifetime (notAfter); ordering again with the CA's own");
              notAfter = undefined;
            }
          }
        }
      };
      let order: AcmeOrder;
      try {
        order = await create();
      } catch (error) {
        if (!isCertkeeperError(error) || error.details?.acmeType !== 'accountDoesNotExist') throw error;
        session.close();
        acmeAccount = await reregisterAccount(accountOptions(signal), acmeAccount.keyPem);
        account = Promise.resolve(acmeAccount);
        session = await open(acmeAccount.keyPem, acmeAccount.accountUrl, signal);
        order = await create();
      }
      log.debug({ orderUrl: order.url, status: order.status }, 'order created');

      const authorizations = await session.getAuthorizations(order);
      await solveDnsChallenges({
        session,
        authorizations,
        dns: request.dns,
        resolvers,
        propagation: options.lookups,
        clock,
        logger: log,
        signal,
        validationTimeoutMs: options.validationTimeoutMs,
        cleanupTimeoutMs: options.cleanupTimeoutMs,
        onStep: progress,
      }).catch((error: unknown) => {
        const failed = invalidAuthorization(error);
        if (failed) request.onOrder?.({ type: 'authorization-failed', names: [failed] });
        throw error;
      });

      progress('finalizing');
      const issuanceTimeoutMs = options.issuanceTimeoutMs ?? DEFAULT_ISSUANCE_TIMEOUT_MS;
      // Once every authorization is valid the CA moves the order to "ready", not always at once.
      order = await pollUntil(
        () => session.getOrder(order),
        (o) => o.status !== 'pending',
        { clock, signal, timeoutMs: issuanceTimeoutMs, what: 'the order' },
      );
      if (order.status !== 'ready') throw orderFailure(order, 'ready');
      const keyPem = await untilAborted(keyPromise, signal);
      order = await session.finalizeOrder(order, await cpu(() => createCsr(domains, keyPem)));
      order = await pollUntil(
        () => session.getOrder(order),
        (o) => o.status !== 'processing' && o.status !== 'ready',
        {
          clock,
          signal,
          timeoutMs: issuanceTimeoutMs,
          what: 'the finalized order',
        },
      );
      if (order.status !== 'valid') throw orderFailure(order, 'valid');

      const pem = await session.getCertificate(order, options.preferredChain);
      const {
        material,
        serial,
        notAfter: issuedNotAfter,
      } = await cpu(async () => {
        const split = splitCertificate(pem, keyPem, domains);
        return { material: split, ...parseCertificate(split.certPem) };
      });
      if (notAfter !== undefined && Math.abs(issuedNotAfter.getTime() - Date.parse(notAfter)) > LIFETIME_TOLERANCE_MS) {
        log.warn({ requested: notAfter, issued: issuedNotAfter.toISOString() }, 'the CA did not honour the requested lifetime (notAfter)');
      }
      progress('issued', serial);
      return { material, orderUrl: order.url, accountUrl: acmeAccount.accountUrl, directoryUrl, replaced: replaces !== undefined };
    } finally {
      session.close();
    }
  }
}

/**
 * The profile to send: a name the directory lists, or nothing when it lists none (a CA without
 * profiles would reject or ignore the field). An unlisted name is a config error, not a CA fault.
 */
async function checkedProfile(session: AcmeSession, profile: string | undefined): Promise<string | undefined> {
  if (profile === undefined) return undefined;
  const offered = await session.profiles();
  if (offered === undefined) return undefined;
  if (!offered.includes(profile)) {
    throw new CertkeeperError('CONFIG_INVALID', `the CA ${session.directoryUrl} offers no profile "${profile}" (it lists: ${offered.join(', ') || 'none'})`, {
      retryable: false,
      details: { profile, offered },
    });
  }
  return profile;
}

/** The name whose authorization the CA found invalid, when that is what `error` says. */
function invalidAuthorization(error: unknown): string | undefined {
  if (!isCertkeeperError(error) || error.details?.authorizationStatus !== 'invalid') return undefined;
  const domain = error.details.domain;
  return typeof domain === 'string' ? domain : undefined;
}

/** A refusal of the order itself (4xx, not a rate limit or an account problem): worth one try without `replaces` or `notAfter`. */
function refusedOrder(error: unknown): boolean {
  if (!isCertkeeperError(error) || error.code !== 'ACME_ERROR') return false;
  const status = error.details?.httpStatus;
  const type = error.details?.acmeType;
  return (
    typeof status === 'number' &&
    status >= 400 &&
    status < 500 &&
    type !== 'accountDoesNotExist' &&
    type !== 'unauthorized' &&
    type !== 'externalAccountRequired'
  );
}

/** The order is not where it should be: the CA's own error when it gave one. */
function orderFailure(order: AcmeOrder, expected: string): CertkeeperError {
  const problem = parseProblem(order.error);
  const operation = `the order (status "${order.status}", expected "${expected}")`;
  if (problem) return problemToError(problem, { operation, source: 'response', details: { orderUrl: order.url } });
  return new CertkeeperError('ACME_ERROR', `${operation} cannot continue`, { details: { orderUrl: order.url, status: order.status } });
}

/**
 * Leaf, chain and fullchain from the CA's PEM, checked: the leaf must carry our public key and
 * every requested name — a mix-up here would deploy a certificate the server cannot use.
 */
export function splitCertificate(pem: string, keyPem: string, domains: string[]): CertificateMaterial {
  const certificates = splitPemChain(pem);
  const [leaf, ...chain] = certificates;
  if (leaf === undefined) throw new CertkeeperError('ACME_ERROR', 'the CA returned no certificate', { retryable: true });
  if (!keyMatchesCertificate(leaf, keyPem)) {
    throw new CertkeeperError('ACME_ERROR', 'the certificate the CA returned does not match our private key', { retryable: false });
  }
  const names = new Set(parseCertificate(leaf).domains);
  const missing = domains.filter((domain) => !names.has(domain.toLowerCase()));
  if (missing.length > 0) {
    throw new CertkeeperError('ACME_ERROR', `the certificate the CA returned lacks ${missing.join(', ')}`, { retryable: false, details: { missing } });
  }
  return { certPem: leaf, chainPem: chain.join(''), fullchainPem: certificates.join(''), keyPem };
}
