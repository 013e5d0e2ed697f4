// ACME accounts, one per directory URL and email (the same email at two CAs is two accounts),
// with the account key sealed when an encryption key is configured. Key: accounts/<id>, where
// id is a hash of directory and email.

import { createHash } from 'node:crypto';
import { z } from 'zod';
import { CertkeeperError } from '../../core/errors.js';
import { decodeJson, encodeJson } from '../codec.js';
import type { AccountRecord } from '../contract.js';
import type { Sealer } from '../seal.js';
import type { Storage } from '../storage/contract.js';

const accountCodec = z.object({ directoryUrl: z.string(), email: z.string().nullable(), accountUrl: z.string().nullable(), keyPem: z.string().min(1) });

export class AccountRepository {
  constructor(
    private readonly storage: Storage,
    private readonly sealer: Sealer,
  ) {}

  async get(directoryUrl: string, email: string | null): Promise<AccountRecord | undefined> {
    const key = accountKey(directoryUrl, email);
    const stored = await this.storage.get(key);
    if (!stored) return undefined;
    const account = decodeJson(accountCodec, this.sealer.open(key, stored.value), key);
    if (account.directoryUrl !== directoryUrl || account.email !== email) {
      throw new CertkeeperError('STATE_CORRUPT', `stored ${key} does not hold the account for ${directoryUrl} and ${email ?? 'no email'}`, {
        retryable: false,
      });
    }
    return account;
  }

  async put(account: AccountRecord): Promise<void> {
    const key = accountKey(account.directoryUrl, account.email);
    const data: AccountRecord = { directoryUrl: account.directoryUrl, email: account.email, accountUrl: account.accountUrl, keyPem: account.keyPem };
    await this.storage.put(key, this.sealer.seal(key, encodeJson(data)));
  }
}

/** The lock name an agent holds while it creates this account, so two agents never register twice. */
export function accountLockName(directoryUrl: string, email: string | null): string {
  return `account/${accountId(directoryUrl, email)}`;
}

function accountId(directoryUrl: string, email: string | null): string {
  return createHash('sha256')
    .update(`${directoryUrl}\n${email ?? ''}`)
    .digest('hex')
    .slice(0, 16);
}

function accountKey(directoryUrl: string, email: string | null): string {
  return `accounts/${accountId(directoryUrl, email)}`;
}
