// The dns-01 challenge loop for one order: present every TXT value, wait until each is visible
// on the authoritative nameservers, ask the CA to validate, wait for the verdict — and always
// remove exactly the values this run presented, whatever happened in between.
//
// An apex and its wildcard validate at the same name with two values; both are presented
// before anything is checked, because providers append values and the CA accepts any match.

import type { Clock } from '../core/clock.js';
import { throwIfAborted } from '../core/clock.js';
import { CertkeeperError, describeError, toCertkeeperError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { timedCall } from '../core/timed-call.js';
import type { ChallengeLookups, DnsProvider, TxtRecord } from '../dns/contract.js';
import { DEFAULT_CLEANUP_TIMEOUT_MS, withDeadline } from './deadline.js';
import { parseProblem, problemToError } from './errors.js';
import { pollUntil } from './poll.js';
import type { AcmeAuthorization, AcmeChallenge, ChallengeSession } from './session.js';

export const DEFAULT_PROPAGATION_TIMEOUT_MS = 120_000;
export const DEFAULT_PROPAGATION_INTERVAL_MS = 2_000;
export const DEFAULT_VALIDATION_TIMEOUT_MS = 300_000;

export type ChallengeStep = 'dns-present' | 'propagated' | 'validated';

export interface SolveChallengesOptions {
  session: ChallengeSession;
  authorizations: AcmeAuthorization[];
  dns: DnsProvider;
  /** Resolvers (`host:port`) for CNAME following and nameserver discovery. */
  resolvers: string[];
  clock: Clock;
  logger: Logger;
  signal?: AbortSignal | undefined;
  /** How long the CA may take to decide once asked; default 5 minutes. */
  validationTimeoutMs?: number | undefined;
  /** How long removing one record may take; default 2 minutes. Independent of `signal`. */
  cleanupTimeoutMs?: number | undefined;
  onStep?: ((step: ChallengeStep, detail?: string) => void) | undefined;
  /** The DNS look-ups (dns/propagation.ts; replaced in unit tests). */
  propagation: Pick<ChallengeLookups, 'resolveChallengeTarget' | 'waitForTxtPropagation'>;
}

/** One authorization still to be validated and the TXT record that answers it. */
interface PendingChallenge {
  authz: AcmeAuthorization;
  challenge: AcmeChallenge;
  record: TxtRecord;
}

/** Resolves when every authorization is valid; throws the first failure after cleaning up. */
export async function solveDnsChallenges(options: SolveChallengesOptions): Promise<void> {
  const { session, dns, clock, signal, logger, propagation } = options;

  const pending: PendingChallenge[] = [];
  // Apex and wildcard authorizations share a domain, so one CNAME lookup serves both.
  const targets = new Map<string, Promise<string>>();
  for (const authz of options.authorizations) {
    const label = authzLabel(authz);
    if (authz.status === 'valid') {
      // The CA reused an earlier successful validation (authz reuse): nothing to prove.
      logger.debug({ authorization: label }, 'authorization already valid; no challenge needed');
      continue;
    }
    if (authz.status !== 'pending') throw authorizationFailure(authz);
    const challenge = authz.challenges.find((candidate) => candidate.type === 'dns-01');
    if (!challenge) {
      throw new CertkeeperError('ACME_ERROR', `the CA offers no dns-01 challenge for ${label}`, {
        retryable: false,
        details: { offered: authz.challenges.map((c) => c.type) },
      });
    }
    const domain = authz.identifier.value;
    let target = targets.get(domain);
    if (!target) {
      target = propagation.resolveChallengeTarget(domain, { resolvers: options.resolvers, clock, signal });
      targets.set(domain, target);
    }
    const [fqdn, value] = await Promise.all([target, session.dnsTxtValue(challenge)]);
    pending.push({ authz, challenge, record: { fqdn, value, domain } });
  }
  if (pending.length === 0) return;

  // Records whose presentation was attempted. A present that failed midway may still have
  // written its value, and cleanup is idempotent, so those are cleaned up too.
  const presented: TxtRecord[] = [];
  /** Those whose add the provider confirmed; a failed add was most likely never written. */
  const confirmed = new Set<TxtRecord>();
  try {
    // All at once: a provider that waits for its change to sync (Route53: up to a minute)
    // waits once, not once per name. Providers serialise writes to one name themselves.
    await allOrFirstFailure(
      pending.map(({ record }) => async (taskSignal) => {
        throwIfAborted(taskSignal);
        presented.push(record);
        logger.debug({ fqdn: record.fqdn, domain: record.domain, provider: dns.name }, 'presenting TXT record');
        await dns.presentTxt(record, taskSignal);
        confirmed.add(record);
      }),
      signal,
    );
    options.onStep?.('dns-present', uniqueNames(pending).join(', '));

    // A batching provider checked propagation once for the whole batch before presentTxt resolved.
    await allOrFirstFailure(
      (dns.presentWaitsForPropagation ? [] : pending).map(
        ({ record }) =>
          (taskSignal) =>
            timedCheck(dns, taskSignal, () =>
              propagation.waitForTxtPropagation({
                fqdn: record.fqdn,
                value: record.value,
                nameservers: dns.propagationNameservers,
                resolvers: options.resolvers,
                timeoutMs: dns.propagationTimeoutMs ?? DEFAULT_PROPAGATION_TIMEOUT_MS,
                intervalMs: dns.propagationIntervalMs ?? DEFAULT_PROPAGATION_INTERVAL_MS,
                clock,
                signal: taskSignal,
                logger,
              }),
            ),
      ),
      signal,
    );
    options.onStep?.('propagated', uniqueNames(pending).join(', '));

    for (const { challenge } of pending) {
      throwIfAborted(signal);
      await session.completeChallenge(challenge);
    }
    await allOrFirstFailure(
      pending.map((item) => (taskSignal) => awaitVerdict(item, options, taskSignal)),
      signal,
    );
    options.onStep?.('validated', pending.map(({ authz }) => authzLabel(authz)).join(', '));
  } finally {
    await cleanup(presented, confirmed, dns, logger, options.cleanupTimeoutMs ?? DEFAULT_CLEANUP_TIMEOUT_MS);
  }
}

/** Polls the authorization until the CA decides; VALIDATION_FAILED with its reason when invalid. */
async function awaitVerdict({ authz, record }: PendingChallenge, options: SolveChallengesOptions, signal: AbortSignal): Promise<void> {
  const label = authzLabel(authz);
  const final = await pollUntil(
    () => options.session.getAuthorization(authz.url),
    (current) => current.status !== 'pending',
    {
      clock: options.clock,
      signal,
      timeoutMs: options.validationTimeoutMs ?? DEFAULT_VALIDATION_TIMEOUT_MS,
      what: `the authorization for ${label}`,
    },
  );
  if (final.status === 'valid') {
    options.logger.debug({ authorization: label }, 'authorization valid');
    return;
  }
  throw authorizationFailure(final, record.fqdn);
}

/** VALIDATION_FAILED carrying the CA's reason from the failed challenge, when it gave one. */
function authorizationFailure(authz: AcmeAuthorization, fqdn?: string): CertkeeperError {
  const label = authzLabel(authz);
  const details = { domain: label, authorizationStatus: authz.status, ...(fqdn ? { fqdn } : {}) };
  const failed = authz.challenges.find((challenge) => challenge.type === 'dns-01' && challenge.error) ?? authz.challenges.find((challenge) => challenge.error);
  const problem = failed ? parseProblem(failed.error) : undefined;
  if (problem) {
    return problemToError(problem, { operation: `validation of ${label}`, source: 'challenge', details });
  }
  return new CertkeeperError('VALIDATION_FAILED', `validation of ${label} failed: the authorization is "${authz.status}"`, { details });
}

/**
 * Removes every presented value, newest first. A failure here is logged, never thrown: it
 * must not hide why the order failed, and a left-over TXT value does no harm to the next run.
 */
async function cleanup(records: TxtRecord[], confirmed: ReadonlySet<TxtRecord>, dns: DnsProvider, logger: Logger, timeoutMs: number): Promise<void> {
  for (const record of [...records].reverse()) {
    try {
      // Not the order's signal: cleanup must run when the order was cancelled or ran out of
      // time. Its own deadline keeps a hanging provider from holding the run.
      await withDeadline(timeoutMs, `removing the TXT record ${record.fqdn}`, (signal) => dns.cleanupTxt(record, signal));
    } catch (error) {
      const failure = toCertkeeperError(error, 'DNS_UPDATE_FAILED');
      const fields = { fqdn: record.fqdn, domain: record.domain, provider: dns.name, code: failure.code, error: describeError(failure) };
      // A record whose add failed was most likely never written: no warning to remove what is not there.
      if (confirmed.has(record)) logger.warn(fields, 'could not remove a challenge TXT record; remove it by hand if it stays');
      else logger.info(fields, 'could not remove a challenge TXT record whose add had failed (most likely it was never written)');
    }
  }
}

/**
 * Runs the tasks together. The first failure cancels the others (through their signal) and is
 * thrown once every task has stopped, so nothing keeps polling after this returns.
 */
async function allOrFirstFailure(tasks: ((signal: AbortSignal) => Promise<void>)[], parent: AbortSignal | undefined): Promise<void> {
  const controller = new AbortController();
  const forward = (): void => controller.abort(parent?.reason);
  if (parent?.aborted) forward();
  parent?.addEventListener('abort', forward, { once: true });
  let failure: { error: unknown } | undefined;
  try {
    await Promise.all(
      tasks.map(async (task) => {
        try {
          await task(controller.signal);
        } catch (error) {
          if (!failure) {
            failure = { error };
            controller.abort();
          }
        }
      }),
    );
  } finally {
    parent?.removeEventListener('abort', forward);
  }
  if (failure) throw failure.error;
}

function authzLabel(authz: AcmeAuthorization): string {
  return authz.wildcard ? `*.${authz.identifier.value}` : authz.identifier.value;
}

function uniqueNames(pending: PendingChallenge[]): string[] {
  return [...new Set(pending.map(({ record }) => record.fqdn))];
}

/** Runs one propagation check, telling the provider how it went (for metrics) unless it was cancelled. */
function timedCheck<T>(dns: DnsProvider, signal: AbortSignal, check: () => Promise<T>): Promise<T> {
  return timedCall(
    check,
    (outcome, seconds) => dns.onPropagationChecked?.(outcome.ok ? 'success' : 'error', seconds),
    () => signal.aborted,
  );
}
