// Modern ACME against real Pebble behind the ACME-aware test proxy: ARI windows and `replaces`,
// profiles, issuer fallback and rate limits, through the CLI as an operator runs it.

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ariCertificateId } from '../../../src/acme/ari.js';
import { startStack, type Stack } from '../../../src/devstack/stack.js';
import { proxyConfig as configFor, startAcmeProxy, trustProxy as trust, type AcmeProxy } from '../../helpers/acme-proxy.js';
import { history, orders, renewJson as renew, statusJson, workDir, writeConfig, type StoredStatusRow } from '../../helpers/cli.js';

let stack: Stack;
let proxy: AcmeProxy;

beforeAll(async () => {
  stack = await startStack();
  proxy = await startAcmeProxy(stack.pebble);
});
afterAll(async () => {
  await proxy?.stop();
  await stack?.stop();
});

/** A config whose only CA is the proxy. */
const proxyConfig = (dir: string, certificates: string): string => configFor(dir, stack, proxy, { certificates });
const trustProxy = (dir: string): void => trust(dir, stack, proxy);
const status = (config: string): Promise<StoredStatusRow[]> => statusJson(config);

function leafPem(dir: string, cert: string): string {
  return readFileSync(path.join(dir, 'out', cert, 'cert.pem'), 'utf8');
}

const HOUR = 3_600_000;

describe('ARI', () => {
  it('moves renewal earlier than the threshold, and renews inside the window with replaces', async () => {
    proxy.rejectReplaces = false;
    const dir = workDir(stack);
    const config = proxyConfig(
      dir,
      `  - { name: ari-later, domains: [ari-later.example.test], dns: bind, sinks: [files] }
  - { name: ari-now, domains: [ari-now.example.test], dns: bind, sinks: [files] }`,
    );
    const first = await renew(config);
    expect(first.code, first.stderr).toBe(0);
    expect(proxy.orders.filter((o) => o.identifiers[0]!.startsWith('ari-')).every((o) => o.replaces === undefined)).toBe(true);

    const laterId = ariCertificateId(leafPem(dir, 'ari-later'));
    const nowId = ariCertificateId(leafPem(dir, 'ari-now'));
    const now = Date.now();
    proxy.windows.set(laterId, { start: new Date(now + 24 * HOUR), end: new Date(now + 48 * HOUR), explanationURL: 'https://ca.example/why' });
    proxy.windows.set(nowId, { start: new Date(now - 2 * HOUR), end: new Date(now - HOUR) });

    // Before any lookup, the threshold decides.
    const before = await status(config);
    expect(before.find((r) => r.name === 'ari-later')).toMatchObject({ renewRule: 'threshold', ari: null });

    const second = await renew(config);
    expect(second.code, second.stderr).toBe(0);
    expect(second.outcomes.find((o) => o.cert === 'ari-now')).toMatchObject({ action: 'renew', reason: 'ari', result: 'success' });
    expect(second.outcomes.find((o) => o.cert === 'ari-later')).toMatchObject({ action: 'skip', result: 'skipped' });
    expect(proxy.renewalInfoRequests).toEqual(expect.arrayContaining([laterId, nowId]));
    const renewed = proxy.orders.filter((o) => o.identifiers[0] === 'ari-now.example.test');
    expect(renewed.map((o) => o.replaces)).toEqual([undefined, nowId]);

    const rows = await status(config);
    const later = rows.find((r) => r.name === 'ari-later')!;
    expect(later.renewRule).toBe('ari');
    expect(later.renewMessage).toContain('https://ca.example/why');
    const renewAt = Date.parse(later.renewAt);
    expect(renewAt).toBeGreaterThanOrEqual(now + 24 * HOUR);
    expect(renewAt).toBeLessThanOrEqual(now + 48 * HOUR);
    // Far earlier than a third of Pebble's five-year lifetime before expiry.
    const lifetime = Date.parse(later.notAfter) - Date.parse(later.notBefore);
    expect(renewAt).toBeLessThan(Date.parse(later.notAfter) - lifetime / 3);
    expect(later.ari).toMatchObject({ explanationUrl: 'https://ca.example/why' });

    // A third run asks nothing: the window is cached until Retry-After.
    const askedForLater = (): number => proxy.renewalInfoRequests.filter((id) => id === laterId).length;
    const asked = askedForLater();
    expect((await renew(config)).code).toBe(0);
    expect(askedForLater()).toBe(asked);
  });

  it('orders again without replaces when the CA rejects it', async () => {
    const dir = workDir(stack);
    const config = proxyConfig(dir, `  - { name: picky, domains: [picky.example.test], dns: bind, sinks: [files] }`);
    expect((await renew(config)).code).toBe(0);
    const id = ariCertificateId(leafPem(dir, 'picky'));
    proxy.windows.set(id, { start: new Date(Date.now() - 2 * HOUR), end: new Date(Date.now() - HOUR) });
    proxy.rejectReplaces = true;
    try {
      const result = await renew(config);
      expect(result.code, result.stderr).toBe(0);
      expect(result.outcomes[0]).toMatchObject({ action: 'renew', reason: 'ari', result: 'success' });
    } finally {
      proxy.rejectReplaces = false;
    }
    const picky = proxy.orders.filter((o) => o.identifiers[0] === 'picky.example.test');
    expect(picky.map((o) => [o.replaces, o.answer])).toEqual([
      [undefined, 'forwarded'],
      [id, 'rejected-replaces'],
      [undefined, 'forwarded'],
    ]);
  });
});

describe('profiles', () => {
  it('sends a listed profile and rejects an unknown one with a clear error', async () => {
    proxy.profiles = { classic: 'the usual', shortlived: 'six days' };
    try {
      const dir = workDir(stack);
      const config = proxyConfig(
        dir,
        `  - { name: short, domains: [short.example.test], dns: bind, sinks: [files], profile: shortlived }
  - { name: typo, domains: [typo.example.test], dns: bind, sinks: [files], profile: shortlivd }`,
      );
      const result = await renew(config);
      expect(result.code).toBe(1);
      expect(result.outcomes.find((o) => o.cert === 'short')).toMatchObject({ result: 'success' });
      const typo = result.outcomes.find((o) => o.cert === 'typo')!;
      expect(typo).toMatchObject({ result: 'failure', code: 'CONFIG_INVALID' });
      expect(typo.error).toContain('offers no profile "shortlivd"');
      expect(typo.error).toContain('classic, shortlived');
      expect(proxy.orders.filter((o) => o.identifiers[0] === 'short.example.test').map((o) => o.profile)).toEqual(['shortlived']);
      // Refused before any order was sent.
      expect(proxy.orders.some((o) => o.identifiers[0] === 'typo.example.test')).toBe(false);
    } finally {
      proxy.profiles = undefined;
    }
  });
});

describe('issuers and rate limits', () => {
  it('falls back to the second issuer when the first answers 503', async () => {
    const dir = workDir(stack);
    const config = writeConfig(dir, stack, { certificates: `  - { name: fallback, domains: [fallback.example.test], dns: bind, sinks: [files] }` });
    const text = readFileSync(config, 'utf8').replace(
      /acme:\n(?: {2}.*\n)+/,
      `issuers:
  - { name: flaky, directory: "${proxy.directoryUrl}", email: ops@example.test, caBundle: ./pebble-ca.pem }
  - { name: pebble, directory: "${stack.pebble.directoryUrl}", email: ops@example.test, caBundle: ./pebble-ca.pem }
`,
    );
    writeFileSync(config, text);
    trustProxy(dir);
    proxy.orderFault = { kind: 'unavailable' };
    try {
      const result = await renew(config);
      expect(result.code, result.stderr).toBe(0);
      expect(result.outcomes[0]).toMatchObject({ action: 'issue', result: 'success' });
    } finally {
      proxy.orderFault = undefined;
    }
    expect(proxy.orders.filter((o) => o.identifiers[0] === 'fallback.example.test').every((o) => o.answer === 'unavailable')).toBe(true);
    expect(proxy.orders.some((o) => o.identifiers[0] === 'fallback.example.test')).toBe(true);
    const meta = JSON.parse(readFileSync(path.join(dir, 'state/store/certs/fallback/current'), 'utf8')) as { directoryUrl: string };
    expect(meta.directoryUrl).toBe(stack.pebble.directoryUrl);
  });

  it('honours rateLimited and its Retry-After: no request to that CA until then, visible in status', async () => {
    const dir = workDir(stack);
    const config = proxyConfig(dir, `  - { name: limited, domains: [limited.example.test], dns: bind, sinks: [files] }`);
    proxy.orderFault = { kind: 'rate-limited', retryAfterSeconds: 3600 };
    let requestsAfterLimit: number;
    try {
      const first = await renew(config);
      expect(first.code).toBe(1);
      expect(first.outcomes[0]).toMatchObject({ result: 'failure', code: 'ACME_RATE_LIMITED' });
      requestsAfterLimit = proxy.requests.length;
      // --cert lifts the certificate's own backoff, not the CA's.
      const second = await renew(config, ['--cert', 'limited']);
      expect(second.outcomes[0]).toMatchObject({ result: 'failure', code: 'ACME_RATE_LIMITED' });
      expect(second.outcomes[0]!.error).toContain('rate-limited');
      expect(proxy.requests.length).toBe(requestsAfterLimit);
    } finally {
      proxy.orderFault = undefined;
    }
    const [row] = await status(config);
    expect(row!.rateLimited).toHaveLength(1);
    expect(row!.rateLimited[0]!.issuer).toBe('default');
    const until = Date.parse(row!.rateLimited[0]!.until);
    expect(until).toBeGreaterThan(Date.now() + 3000 * 1000);
    expect(orders(await history(config))).toHaveLength(2);
  });
});
