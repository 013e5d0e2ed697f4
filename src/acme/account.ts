// The ACME account: one per directory URL + email, registered once and reused. Its key and URL
// live in the AccountStore (the state store); knowing the URL, acme-client signs requests with
// it and never registers again.

import type { Logger } from '../core/logger.js';
import type { AccountStore } from '../issuers/contract.js';
import { generatePrivateKey } from './keys.js';

export interface AcmeAccount {
  /** PEM; a secret. */
  keyPem: string;
  accountUrl: string;
  /** True when this call registered it (first use of this directory + email). */
  created: boolean;
}

export interface EnsureAccountOptions {
  store: AccountStore;
  directoryUrl: string;
  email: string | null;
  logger: Logger;
  /** Registers the account for this key at the CA (or finds it, when the CA knows the key) → its URL. */
  register(keyPem: string): Promise<string>;
}

/** How long an agent waits for another one that is creating the same account. */
const ACCOUNT_LOCK_WAIT_MS = 2 * 60_000;

/** The stored account, or a new one registered and stored. */
export async function ensureAccount(options: EnsureAccountOptions): Promise<AcmeAccount> {
  const { store, directoryUrl, email } = options;
  const stored = await store.getAccount(directoryUrl, email);
  if (stored?.accountUrl) return { keyPem: stored.keyPem, accountUrl: stored.accountUrl, created: false };

  // Created under the account's lock, and read again once it is held: another agent sharing the
  // store may have registered it while this one waited, and two registrations would be two accounts.
  const lock = await store.lockAccount?.(directoryUrl, email, { waitMs: ACCOUNT_LOCK_WAIT_MS });
  try {
    const current = lock ? await store.getAccount(directoryUrl, email) : stored;
    if (current?.accountUrl) return { keyPem: current.keyPem, accountUrl: current.accountUrl, created: false };
    // The key is stored before registering: if we stop between the CA's answer and our write,
    // the next run registers the same key again and the CA hands back the same account.
    const keyPem = current?.keyPem ?? (await generatePrivateKey('ecdsa-p256'));
    if (!current) await store.putAccount({ directoryUrl, email, accountUrl: null, keyPem });
    return await registerAndStore(options, keyPem);
  } finally {
    await lock?.release();
  }
}

/**
 * Registers again with the stored key, for when the CA says the account no longer exists
 * (a test CA restarted, an account deactivated by the CA) and keeps the new URL.
 */
export async function reregisterAccount(options: EnsureAccountOptions, keyPem: string): Promise<AcmeAccount> {
  options.logger.warn({ directoryUrl: options.directoryUrl }, 'the CA no longer knows the stored ACME account; registering again');
  return registerAndStore(options, keyPem);
}

async function registerAndStore(options: EnsureAccountOptions, keyPem: string): Promise<AcmeAccount> {
  const { store, directoryUrl, email, logger } = options;
  const accountUrl = await options.register(keyPem);
  await store.putAccount({ directoryUrl, email, accountUrl, keyPem });
  logger.info({ directoryUrl, accountUrl }, 'ACME account registered');
  return { keyPem, accountUrl, created: true };
}
