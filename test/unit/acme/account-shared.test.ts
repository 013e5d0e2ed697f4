// Two agents sharing one store create an ACME account at the same time: one registers, the other
// waits for the account's lock, reads the account again, and uses it.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { ensureAccount } from '../../../src/acme/account.js';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { openStateStore } from '../../../src/state/open.js';

it('registers one account when two agents need it at once', async () => {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'ck-account-')), 'state');
  const open = (agentId: string) => openStateStore({ state: { type: 'file', dir, lockTtl: 120_000 }, agentId, clock: systemClock, logger: silentLogger });
  const [a, b] = await Promise.all([open('a'), open('b')]);
  const registered: string[] = [];
  const register = async (keyPem: string): Promise<string> => {
    registered.push(keyPem);
    await new Promise((resolve) => setTimeout(resolve, 200)); // the CA takes its time
    return `https://ca.test/acct/${registered.length}`;
  };
  const directoryUrl = 'https://ca.test/directory';
  const [first, second] = await Promise.all([
    ensureAccount({ store: a, directoryUrl, email: 'ops@example.test', logger: silentLogger, register }),
    ensureAccount({ store: b, directoryUrl, email: 'ops@example.test', logger: silentLogger, register }),
  ]);
  expect(registered).toHaveLength(1);
  expect(first.accountUrl).toBe(second.accountUrl);
  expect(first.keyPem).toBe(second.keyPem);
  expect([first.created, second.created].sort()).toEqual([false, true]);
  expect((await a.getAccount(directoryUrl, 'ops@example.test'))!.accountUrl).toBe(first.accountUrl);
});
