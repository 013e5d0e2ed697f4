// Issue 5's rate-limit safety and lifetimes against real Pebble behind the ACME-aware proxy,
// through the CLI: failed authorizations counted from history stop further orders for that name;
// a requested lifetime reaches the CA as notAfter (Pebble honours it) and is dropped when refused;
// no ARI lookup goes to a CA that is rate-limiting the account.

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../../src/devstack/stack.js';
import { parseCertificate } from '../../../src/core/x509.js';
import { ariCertificateId } from '../../../src/acme/ari.js';
import { proxyConfig as configFor, startAcmeProxy, type AcmeProxy } from '../../helpers/acme-proxy.js';
import { history, renewJson, workDir } from '../../helpers/cli.js';

let stack: Stack;
let proxy: AcmeProxy;

beforeAll(async () => {
  // No authorization reuse: every order must validate, so every failed validation is a fresh one.
  stack = await startStack({ pebble: { authzReusePercent: 0 } });
  proxy = await startAcmeProxy(stack.pebble);
});
afterAll(async () => {
  await proxy?.stop();
  await stack?.stop();
});

/** A config whose only CA is the proxy. */
const proxyConfig = (dir: string, certificates: string, acmeExtra = ''): string => configFor(dir, stack, proxy, { certificates, acmeExtra });
const renew = renewJson;

const ordersFor = (name: string) => proxy.orders.filter((o) => o.identifiers.includes(name));

describe('failed-authorization budget', () => {
  it('counts the names the CA found invalid and stops ordering them once the budget is spent', async () => {
    const dir = workDir(stack);
    const name = 'flaky.example.test';
    const config = proxyConfig(
      dir,
      `  - { name: flaky, domains: [${name}], dns: bind, sinks: [files] }`,
      '  rateLimits: { failedAuthorizations: { limit: 2, window: 1h } }',
    );
    proxy.failValidation = true;
    try {
      for (let i = 0; i < 2; i++) {
        const failed = await renew(config, ['--cert', 'flaky']);
        expect(failed.code).toBe(1);
        expect(failed.outcomes[0]).toMatchObject({ result: 'failure', code: 'VALIDATION_FAILED' });
      }
      expect(ordersFor(name)).toHaveLength(2);
      expect(proxy.failedAuthorizations.filter((n) => n === name)).toHaveLength(2);
      const lines = await history(config, 'flaky');
      expect((lines[0] as unknown as { orders: unknown[] }).orders).toEqual([
        expect.objectContaining({ directoryUrl: proxy.directoryUrl, replaced: false, failedNames: [name] }),
      ]);

      const refused = await renew(config, ['--cert', 'flaky']);
      expect(refused.code).toBe(1);
      expect(refused.outcomes[0]).toMatchObject({ result: 'failure', code: 'RATE_BUDGET' });
      expect(refused.outcomes[0]!.error).toContain(`2 of 2 failed authorizations for ${name} in the last 1 h`);
      expect(ordersFor(name)).toHaveLength(2); // nothing reached the CA
    } finally {
      proxy.failValidation = false;
    }
    // Another name of the same account still orders.
    writeFileSync(config, readFileSync(config, 'utf8').replace(`domains: [${name}]`, 'domains: [steady.example.test]'));
    const other = await renew(config, ['--cert', 'flaky']);
    expect(other.code, other.stderr).toBe(0);
  });
});

describe('requested lifetime (notAfter)', () => {
  it('asks the CA for notAfter = now + lifetime, and Pebble issues exactly that', async () => {
    const dir = workDir(stack);
    const config = proxyConfig(dir, `  - { name: brief, domains: [brief.example.test], dns: bind, sinks: [files], lifetime: 3h }`);
    const before = Date.now();
    const result = await renew(config);
    expect(result.code, result.stderr).toBe(0);
    const order = ordersFor('brief.example.test').at(-1)!;
    expect(Date.parse(order.notAfter!)).toBeGreaterThanOrEqual(before + 3 * 3_600_000 - 1000);
    const info = parseCertificate(readFileSync(path.join(dir, 'out', 'brief', 'cert.pem'), 'utf8'));
    expect(Math.abs(info.notAfter.getTime() - Date.parse(order.notAfter!))).toBeLessThan(2000);
  });

  it("orders again without notAfter when the CA refuses it, and takes the CA's own lifetime", async () => {
    const dir = workDir(stack);
    const config = proxyConfig(dir, `  - { name: stubborn, domains: [stubborn.example.test], dns: bind, sinks: [files] }`, '  lifetime: 2h');
    proxy.rejectNotAfter = true;
    try {
      const result = await renew(config);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain('the CA refused the requested lifetime');
    } finally {
      proxy.rejectNotAfter = false;
    }
    const placed = ordersFor('stubborn.example.test');
    expect(placed.map((o) => o.answer)).toEqual(['rejected-notafter', 'forwarded']);
    expect(placed[1]!.notAfter).toBeUndefined();
    const info = parseCertificate(readFileSync(path.join(dir, 'out', 'stubborn', 'cert.pem'), 'utf8'));
    expect(info.notAfter.getTime() - info.notBefore.getTime()).toBeGreaterThan(86_400_000);
  });
});

describe('ARI while the CA rate-limits the account', () => {
  it('asks no renewalInfo until the Retry-After has passed', async () => {
    const dir = workDir(stack);
    const config = proxyConfig(dir, `  - { name: quiet, domains: [quiet.example.test], dns: bind, sinks: [files] }`);
    expect((await renew(config)).code).toBe(0);
    const id = ariCertificateId(readFileSync(path.join(dir, 'out', 'quiet', 'cert.pem'), 'utf8'));
    // A window far ahead, to be asked again after 1 s: every run after a second looks it up...
    proxy.windows.set(id, { start: new Date(Date.now() + 24 * 3_600_000), end: new Date(Date.now() + 48 * 3_600_000), retryAfter: 1 });
    const lookups = (): number => proxy.renewalInfoRequests.filter((asked) => asked === id).length;
    expect((await renew(config)).code).toBe(0);
    expect(lookups()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await renew(config)).code).toBe(0);
    expect(lookups()).toBe(2);
    // ...until the CA rate-limits the account.
    proxy.orderFault = { kind: 'rate-limited', retryAfterSeconds: 3600 };
    try {
      const forced = await renew(config, ['--force']);
      expect(forced.outcomes[0]).toMatchObject({ result: 'failure', code: 'ACME_RATE_LIMITED' });
    } finally {
      proxy.orderFault = undefined;
    }
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const asked = proxy.renewalInfoRequests.length;
    const requests = proxy.requests.length;
    // A plain run plans the certificate, which would look up ARI; the CA is left alone.
    const plain = await renew(config);
    expect(plain.code, plain.stderr).toBe(0);
    expect(proxy.renewalInfoRequests.length).toBe(asked);
    expect(plain.stderr).toContain('ARI lookup deferred');
    expect(proxy.requests.length).toBe(requests);
  });
});

describe('dry runs', () => {
  it("carry the issuer's profile and lifetime to the rehearsal directory", async () => {
    const dir = workDir(stack);
    const config = proxyConfig(
      dir,
      `  - { name: rehearsed, domains: [rehearsed.example.test], dns: bind, sinks: [files] }`,
      '  profile: tlsserver\n  lifetime: 5h',
    );
    proxy.profiles = { classic: 'the old one', tlsserver: 'shorter' };
    try {
      const result = await renew(config, ['--dry-run']);
      expect(result.code, result.stderr).toBe(0);
    } finally {
      proxy.profiles = undefined;
    }
    const order = ordersFor('rehearsed.example.test').at(-1)!;
    expect(order).toMatchObject({ profile: 'tlsserver', answer: 'forwarded' });
    expect(order.notAfter).toBeDefined();
  });
});
