// Short-lived certificates (one hour, from Pebble): the renewal-loop guard refuses to replace a
// certificate that is too young unless ARI asks or the operator forces it; and the local
// duplicate-certificate budget makes `renew --force` stop before spending the last order.

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ariCertificateId } from '../../../src/acme/ari.js';
import { startStack, type Stack } from '../../../src/devstack/stack.js';
import { startAcmeProxy, type AcmeProxy } from '../../helpers/acme-proxy.js';
import { history, orders, renewJson, statusJson, workDir, writeConfig, type StoredStatusRow } from '../../helpers/cli.js';

let stack: Stack;
let proxy: AcmeProxy;

beforeAll(async () => {
  stack = await startStack({ pebble: { validityPeriodSeconds: 3600 } });
  proxy = await startAcmeProxy(stack.pebble);
});
afterAll(async () => {
  await proxy?.stop();
  await stack?.stop();
});

const status = (config: string): Promise<StoredStatusRow[]> => statusJson(config);
const renew = renewJson;

describe('the renewal-loop guard', () => {
  it('keeps a young certificate whose threshold has passed, unless forced or asked by ARI', async () => {
    const dir = workDir(stack);
    // 99.99% before expiry: the threshold passes 0.36 s after notBefore (a misconfiguration).
    const file = writeConfig(dir, stack, {
      certificates: `  - { name: hourly, domains: [hourly.example.test], dns: bind, sinks: [files], renewBefore: 99.99% }
  - { name: asked, domains: [asked.example.test], dns: bind, sinks: [files], renewBefore: 99.99% }`,
    });
    writeFileSync(file, readFileSync(file, 'utf8').replace(`directory: ${stack.pebble.directoryUrl}`, `directory: ${proxy.directoryUrl}`));
    writeFileSync(path.join(dir, 'pebble-ca.pem'), `${stack.pebble.caBundlePem}${proxy.caBundlePem}`);

    expect((await renew(file)).code).toBe(0);
    const issued = await status(file);
    const hourly = issued.find((r) => r.name === 'hourly')!;
    const lifetime = Date.parse(hourly.notAfter) - Date.parse(hourly.notBefore);
    expect(lifetime).toBeLessThanOrEqual(3600_000 + 1000);
    expect(hourly).toMatchObject({ state: 'valid', renewRule: 'loop-guard' });
    // Not before a fifth of the lifetime has passed.
    expect(Date.parse(hourly.renewAt)).toBe(Date.parse(hourly.notBefore) + lifetime / 5);

    // Let the threshold pass (in real time: it is a fraction of a second after notBefore).
    const threshold = Date.parse(hourly.notBefore) + lifetime * 0.0001;
    while (Date.now() <= threshold + 1000) await new Promise((resolve) => setTimeout(resolve, 100));

    // The CA asks for "asked" now (ARI); nobody asks for "hourly".
    const askedPem = readFileSync(path.join(dir, 'out/asked/cert.pem'), 'utf8');
    proxy.windows.set(ariCertificateId(askedPem), { start: new Date(Date.now() - 120_000), end: new Date(Date.now() - 60_000) });

    const second = await renew(file);
    expect(second.code, second.stderr).toBe(0);
    expect(second.outcomes.find((o) => o.cert === 'hourly')).toMatchObject({ action: 'skip', reason: 'loop-guard', result: 'skipped' });
    expect(second.outcomes.find((o) => o.cert === 'hourly')!.message).toContain('loop guard');
    expect(second.outcomes.find((o) => o.cert === 'asked')).toMatchObject({ action: 'renew', reason: 'ari', result: 'success' });

    const forced = await renew(file, ['--force', '--cert', 'hourly']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.outcomes[0]).toMatchObject({ action: 'renew', reason: 'forced', result: 'success' });
    expect(orders(await history(file, 'hourly')).map((l) => l.action)).toEqual(['renew', 'issue']);
  });
});

describe('the duplicate-certificate budget', () => {
  it('refuses a forced order that would spend the last of 5 per 7 days, unless --yes', async () => {
    const dir = workDir(stack);
    const file = writeConfig(dir, stack, { certificates: `  - { name: budget, domains: [budget.example.test], dns: bind, sinks: [files] }` });
    expect((await renew(file)).code).toBe(0);
    for (let i = 0; i < 3; i++) expect((await renew(file, ['--force'])).code).toBe(0);
    expect(orders(await history(file))).toHaveLength(4);

    const refused = await renew(file, ['--force']);
    expect(refused.code).toBe(1);
    expect(refused.outcomes[0]).toMatchObject({ result: 'failure', code: 'USAGE', reason: 'rate-budget' });
    expect(refused.outcomes[0]!.error).toContain('4 of 5');
    expect(refused.outcomes[0]!.error).toContain('--force --yes');
    expect(orders(await history(file))).toHaveLength(4);

    const confirmed = await renew(file, ['--force', '--yes']);
    expect(confirmed.code, confirmed.stderr).toBe(0);
    expect(orders(await history(file))).toHaveLength(5);
  });
});
