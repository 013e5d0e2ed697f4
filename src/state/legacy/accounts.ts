// The ACME accounts of a 0.1 state directory: accounts/<id>/account.json, one per directory URL
// and email, with the account key.

import path from 'node:path';
import { CertkeeperError, toCertkeeperError } from '../../core/errors.js';
import type { AccountRecord } from '../contract.js';
import { folderNames, readJsonObject } from './files.js';
import type { LegacyLayout } from './layout.js';

export class LegacyAccounts {
  constructor(private readonly layout: LegacyLayout) {}

  async get(directoryUrl: string, email: string | null): Promise<AccountRecord | undefined> {
    const file = this.layout.account(directoryUrl, email);
    const account = await this.read(file);
    if (account && (account.directoryUrl !== directoryUrl || account.email !== email)) {
      throw new CertkeeperError('STATE_CORRUPT', `${file} does not hold the account for ${directoryUrl} and ${email ?? 'no email'}`, { retryable: false });
    }
    return account;
  }

  /** Every account folder with its account, or the error reading it gave (one damaged account spoils no other). */
  async list(): Promise<{ id: string; account: AccountRecord | CertkeeperError }[]> {
    const found: { id: string; account: AccountRecord | CertkeeperError }[] = [];
    for (const id of await folderNames(this.layout.accounts)) {
      const file = path.join(this.layout.accounts, id, 'account.json');
      try {
        const account = await this.read(file);
        if (!account) continue;
        // Where it is kept must be where `get` looks for it.
        if (this.layout.account(account.directoryUrl, account.email) !== file)
          throw new CertkeeperError('STATE_CORRUPT', `${file} holds the account of another folder`, { retryable: false });
        found.push({ id, account });
      } catch (error) {
        found.push({ id, account: toCertkeeperError(error) });
      }
    }
    return found;
  }

  private async read(file: string): Promise<AccountRecord | undefined> {
    const value = await readJsonObject(file);
    if (value === undefined) return undefined;
    const { directoryUrl, email, accountUrl, keyPem } = value;
    if (
      typeof directoryUrl !== 'string' ||
      typeof keyPem !== 'string' ||
      (email != null && typeof email !== 'string') ||
      (accountUrl != null && typeof accountUrl !== 'string')
    ) {
      throw new CertkeeperError('STATE_CORRUPT', `${file} does not hold an ACME account (directoryUrl, email, accountUrl, keyPem)`, { retryable: false });
    }
    return { directoryUrl, email: email ?? null, accountUrl: accountUrl ?? null, keyPem };
  }
}
