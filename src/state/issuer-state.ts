// Per CA and account bookkeeping in the state store: the rate-limit backoff (HTTP 429 /
// `rateLimited` with its Retry-After). Written by the issuer chain, read by it and by `status`,
// through the codec below. A stored state that cannot be read never lifts a limit silently: it
// holds the CA off for an hour ("limited until checked"), and whoever is about to ask the CA
// records that hold in its place, so it ends by itself and the CA's next answer decides.

import { z } from 'zod';
import { describeError, isCertkeeperError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { IssuerAccount, RateLimits, RateLimitState } from '../issuers/contract.js';
import { parseStored, storedTime } from './codec.js';
import type { StateStore } from './contract.js';
import { issuerStorageKey } from './repos/issuers.js';

/** Stored per CA and account; the type is the issuer contract's. */
const rateLimitStateCodec: z.ZodType<RateLimitState> = z.object({
  rateLimitedUntil: storedTime,
  detail: z.string(),
  at: storedTime,
});

export type { RateLimitState };

/** How long a CA is left alone when its stored rate-limit state cannot be read. */
export const DAMAGED_RATE_LIMIT_HOLD_MS = 3_600_000;

export interface ActiveRateLimit extends RateLimitState {
  /**
   * Set when the stored state could not be read (why, naming its key): this limit is a hold of
   * DAMAGED_RATE_LIMIT_HOLD_MS from now, not the CA's word. rateLimitBeforeAsking records it.
   */
  damaged?: string;
}

/** A CA and account (the issuer contract's IssuerAccount). */
export type IssuerIdentity = IssuerAccount;

export function issuerStateKey(issuer: IssuerIdentity): string {
  return `${issuer.directoryUrl}\n${issuer.email ?? ''}`;
}

/** The rate-limit backoff of a CA and account still in force at `now`, if any; a hold when the stored one cannot be read. */
export async function activeRateLimit(store: Pick<StateStore, 'getIssuerState'>, issuer: IssuerIdentity, now: Date): Promise<ActiveRateLimit | undefined> {
  const key = issuerStateKey(issuer);
  let state: RateLimitState | undefined;
  try {
    const stored = await store.getIssuerState(key);
    state =
      stored === undefined ? undefined : parseStored(rateLimitStateCodec, stored, `${issuerStorageKey(key)} (the rate-limit state of ${issuer.directoryUrl})`);
  } catch (error) {
    if (!isCertkeeperError(error, 'STATE_CORRUPT')) throw error;
    const until = new Date(now.getTime() + DAMAGED_RATE_LIMIT_HOLD_MS).toISOString();
    // The message is the store's or the codec's: it names the key, never the value.
    return { rateLimitedUntil: until, detail: `the stored rate-limit state cannot be read: ${error.message}`, at: now.toISOString(), damaged: error.message };
  }
  if (!state) return undefined;
  return Date.parse(state.rateLimitedUntil) > now.getTime() ? state : undefined;
}

/**
 * activeRateLimit for whoever is about to ask the CA: a hold for a damaged state is recorded in
 * its place (with a warning naming the key), so it ends after the hour instead of moving with
 * every read.
 */
export async function rateLimitBeforeAsking(
  store: Pick<StateStore, 'getIssuerState' | 'putIssuerState'>,
  issuer: IssuerIdentity,
  now: Date,
  logger: Logger,
): Promise<RateLimitState | undefined> {
  const limited = await activeRateLimit(store, issuer, now);
  if (limited?.damaged === undefined) return limited;
  const { damaged, ...hold } = limited;
  logger.warn(
    { directoryUrl: issuer.directoryUrl, err: damaged },
    `the stored rate-limit state of ${issuer.directoryUrl} cannot be read; not asking that CA before ${hold.rateLimitedUntil}`,
  );
  try {
    await recordRateLimit(store, issuer, hold);
  } catch (error) {
    logger.warn({ directoryUrl: issuer.directoryUrl, err: describeError(error) }, 'could not record the hold; the damaged rate-limit state stays');
  }
  return hold;
}

export async function recordRateLimit(store: Pick<StateStore, 'putIssuerState'>, issuer: IssuerIdentity, state: RateLimitState): Promise<void> {
  await store.putIssuerState(issuerStateKey(issuer), state);
}

/** The RateLimits contract (issuers/contract.ts) over a state store. */
export function rateLimitsIn(store: Pick<StateStore, 'getIssuerState' | 'putIssuerState'>): RateLimits {
  return {
    active: (issuer, now) => activeRateLimit(store, issuer, now),
    beforeAsking: (issuer, now, logger) => rateLimitBeforeAsking(store, issuer, now, logger),
    record: (issuer, state) => recordRateLimit(store, issuer, state),
  };
}
