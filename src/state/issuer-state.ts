// Per CA and account bookkeeping in the state store: the rate-limit backoff (HTTP 429 /
// `rateLimited` with its Retry-After). Written by the issuer chain, read by it and by `status`.

import type { StateStore } from './contract.js';

/** Stored per CA and account. */
export interface RateLimitState {
  rateLimitedUntil: string;
  detail: string;
  at: string;
}

export interface IssuerIdentity {
  directoryUrl: string;
  email: string | null;
}

export function issuerStateKey(issuer: IssuerIdentity): string {
  return `${issuer.directoryUrl}\n${issuer.email ?? ''}`;
}

/** The rate-limit backoff of a CA and account still in force at `now`, if any. */
export async function activeRateLimit(store: Pick<StateStore, 'getIssuerState'>, issuer: IssuerIdentity, now: Date): Promise<RateLimitState | undefined> {
  const state = (await store.getIssuerState(issuerStateKey(issuer))) as Partial<RateLimitState> | undefined;
  if (typeof state?.rateLimitedUntil !== 'string') return undefined;
  return Date.parse(state.rateLimitedUntil) > now.getTime() ? (state as RateLimitState) : undefined;
}

export async function recordRateLimit(store: StateStore, issuer: IssuerIdentity, state: RateLimitState): Promise<void> {
  await store.putIssuerState(issuerStateKey(issuer), { ...state });
}
