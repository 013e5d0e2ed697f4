// The account policy: registered once per directory + email, key stored before registering.

import { describe, expect, it } from 'vitest';
import { ensureAccount, reregisterAccount, type EnsureAccountOptions } from '../../../src/acme/account.js';
import { privateKeyType } from '../../../src/acme/keys.js';
import { silentLogger } from '../../../src/core/logger.js';
import { MemoryStore } from '../../helpers/memory-store.js';

const DIRECTORY = 'https://ca.example/dir';

function options(store: MemoryStore, register: EnsureAccountOptions['register']): EnsureAccountOptions {
  return { store, directoryUrl: DIRECTORY, email: 'ops@example.com', logger: silentLogger, register };
}

describe('ensureAccount', () => {
  it('registers once, then reuses the stored account', async () => {
    const store = new MemoryStore();
    const registered: string[] = [];
    const register = async (keyPem: string) => {
      registered.push(keyPem);
      return 'https://ca.example/acct/1';
    };
    const first = await ensureAccount(options(store, register));
    expect(first).toMatchObject({ accountUrl: 'https://ca.example/acct/1', created: true });
    expect(privateKeyType(first.keyPem)).toBe('ecdsa-p256');

    const second = await ensureAccount(options(store, register));
    expect(second).toEqual({ keyPem: first.keyPem, accountUrl: 'https://ca.example/acct/1', created: false });
    expect(registered).toHaveLength(1);
  });

  it('stores the key before registering, so a failed registration is retried with the same key', async () => {
    const store = new MemoryStore();
    const seen: string[] = [];
    const failing = async (keyPem: string): Promise<string> => {
      seen.push(keyPem);
      expect((await store.getAccount(DIRECTORY, 'ops@example.com'))?.keyPem).toBe(keyPem);
      throw new Error('CA down');
    };
    await expect(ensureAccount(options(store, failing))).rejects.toThrow('CA down');
    const account = await ensureAccount(options(store, async (keyPem) => (seen.push(keyPem), 'https://ca.example/acct/2')));
    expect(seen[0]).toBe(seen[1]);
    expect(account.accountUrl).toBe('https://ca.example/acct/2');
  });

  it('keeps accounts of different emails and directories apart', async () => {
    const store = new MemoryStore();
    let n = 0;
    const register = async () => `https://ca.example/acct/${++n}`;
    const a = await ensureAccount(options(store, register));
    const b = await ensureAccount({ ...options(store, register), email: 'other@example.com' });
    const c = await ensureAccount({ ...options(store, register), directoryUrl: 'https://other-ca.example/dir' });
    expect(new Set([a.accountUrl, b.accountUrl, c.accountUrl]).size).toBe(3);
    expect(new Set([a.keyPem, b.keyPem, c.keyPem]).size).toBe(3);
  });
});

describe('reregisterAccount', () => {
  it('registers the same key again and stores the new URL', async () => {
    const store = new MemoryStore();
    const first = await ensureAccount(options(store, async () => 'https://ca.example/acct/old'));
    const again = await reregisterAccount(
      options(store, async () => 'https://ca.example/acct/new'),
      first.keyPem,
    );
    expect(again).toEqual({ keyPem: first.keyPem, accountUrl: 'https://ca.example/acct/new', created: true });
    expect((await store.getAccount(DIRECTORY, 'ops@example.com'))?.accountUrl).toBe('https://ca.example/acct/new');
  });
});
