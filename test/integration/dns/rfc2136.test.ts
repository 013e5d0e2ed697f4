// The rfc2136 provider, zone discovery, CNAME following and the propagation check against a
// real BIND started on a free loopback port.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { startBind, type BindServer } from '../../../src/devstack/bind.js';
import type { DnsProvider, TxtRecord } from '../../../src/dns/contract.js';
import { rfc2136Schema } from '../../../src/dns/providers/rfc2136/schema.js';
import { waitForTxtPropagation, resolveChallengeTarget } from '../../../src/dns/propagation.js';
import { createDnsProvider } from '../../../src/dns/registry.js';
import { authoritativeNameservers, findZone, followCname } from '../../../src/dns/resolver.js';
import { query } from '../../../src/dns/wire/client.js';
import { rdata, txtValue } from '../../../src/dns/wire/message.js';

let bind: BindServer;

beforeAll(async () => {
  bind = await startBind({
    zones: [{ name: 'example.test', records: ['_acme-challenge.app 60 IN CNAME _acme-challenge.app.validation.test.'] }, { name: 'validation.test' }],
  });
});

afterAll(async () => {
  await bind?.stop();
});

function provider(overrides: Record<string, unknown> = {}, name = 'corp'): DnsProvider {
  const config = rfc2136Schema.parse({
    type: 'rfc2136',
    server: bind.address,
    tsigKeyName: bind.tsig.keyName,
    tsigAlgorithm: bind.tsig.algorithm,
    tsigSecret: bind.tsig.secret,
    ttl: 30,
    timeout: '2s',
    ...overrides,
  });
  return createDnsProvider(config, { name, clock: systemClock, logger: silentLogger });
}

async function txtValues(fqdn: string): Promise<string[]> {
  const response = await query(bind.address, fqdn, 'TXT');
  return response.answers
    .filter((record) => record.type === 'TXT')
    .map((record) => txtValue(rdata(record)))
    .sort();
}

async function rejection(promise: Promise<unknown>): Promise<CertkeeperError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CertkeeperError);
  return error as CertkeeperError;
}

describe('rfc2136 provider against BIND', () => {
  it('keeps an apex and a wildcard value side by side and cleans up exactly one', async () => {
    const dns = provider();
    const fqdn = '_acme-challenge.example.test';
    const apex: TxtRecord = { fqdn, domain: 'example.test', value: 'apex-value-0123456789' };
    const wildcard: TxtRecord = { fqdn, domain: 'example.test', value: 'wildcard-value-0123456789' };

    await Promise.all([dns.presentTxt(apex), dns.presentTxt(wildcard)]);
    expect(await txtValues(fqdn)).toEqual([apex.value, wildcard.value]);

    await dns.cleanupTxt(apex);
    expect(await txtValues(fqdn)).toEqual([wildcard.value]);

    await dns.cleanupTxt(apex); // idempotent: deleting an absent RR is not an error
    expect(await txtValues(fqdn)).toEqual([wildcard.value]);

    await dns.cleanupTxt(wildcard);
    expect(await txtValues(fqdn)).toEqual([]);
  });

  it('uses the configured zone and rejects a record outside it', async () => {
    const dns = provider({ zone: 'example.test' });
    const record: TxtRecord = { fqdn: '_acme-challenge.www.example.test', domain: 'www.example.test', value: 'configured-zone' };
    await dns.presentTxt(record);
    expect(await txtValues(record.fqdn)).toEqual(['configured-zone']);
    await dns.cleanupTxt(record);

    const outside = await rejection(dns.presentTxt({ fqdn: '_acme-challenge.other.test', domain: 'other.test', value: 'x' }));
    expect(outside.code).toBe('DNS_ZONE_NOT_FOUND');
    expect(outside.retryable).toBe(false);
  });

  it('reports a wrong TSIG secret as DNS_UPDATE_FAILED naming server, zone, record and BADSIG', async () => {
    const dns = provider({ tsigSecret: Buffer.from('not the secret at all, 32 bytes!').toString('base64') });
    const error = await rejection(dns.presentTxt({ fqdn: '_acme-challenge.example.test', domain: 'example.test', value: 'never-written' }));
    expect(error.code).toBe('DNS_UPDATE_FAILED');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(bind.address);
    expect(error.message).toContain('zone example.test');
    expect(error.message).toContain('_acme-challenge.example.test');
    expect(error.message).toContain('BADSIG');
    expect(error.message).not.toContain(bind.tsig.secret);
    expect(await txtValues('_acme-challenge.example.test')).toEqual([]);
  });

  it('reports an unknown key name as BADKEY', async () => {
    const dns = provider({ tsigKeyName: 'nobody' });
    const error = await rejection(dns.presentTxt({ fqdn: '_acme-challenge.example.test', domain: 'example.test', value: 'never-written' }));
    expect(error.code).toBe('DNS_UPDATE_FAILED');
    expect(error.message).toMatch(/BADKEY.*"nobody"/);
  });

  it('reports a zone the server does not serve as DNS_ZONE_NOT_FOUND', async () => {
    const dns = provider();
    const error = await rejection(dns.presentTxt({ fqdn: '_acme-challenge.elsewhere.invalid', domain: 'elsewhere.invalid', value: 'x' }));
    expect(error.code).toBe('DNS_ZONE_NOT_FOUND');
    expect(error.message).toContain(bind.address);
  });

  it('works with hmac-sha512 keys too', async () => {
    const bind512 = await startBind({ zones: [{ name: 'sha512.test' }], tsig: { algorithm: 'hmac-sha512', keyName: 'k512' } });
    try {
      const config = rfc2136Schema.parse({
        type: 'rfc2136',
        server: bind512.address,
        tsigKeyName: 'k512',
        tsigAlgorithm: 'hmac-sha512',
        tsigSecret: bind512.tsig.secret,
      });
      const dns = createDnsProvider(config, { name: 'sha512', clock: systemClock, logger: silentLogger });
      await dns.presentTxt({ fqdn: '_acme-challenge.sha512.test', domain: 'sha512.test', value: 'v512' });
      const response = await query(bind512.address, '_acme-challenge.sha512.test', 'TXT');
      expect(response.answers.map((record) => txtValue(rdata(record)))).toEqual(['v512']);
    } finally {
      await bind512.stop();
    }
  });

  it('exposes the propagation settings from its config', () => {
    const dns = provider({ propagation: { nameservers: [bind.address], timeout: '90s', interval: '3s' } });
    expect(dns.propagationNameservers).toEqual([bind.address]);
    expect(dns.propagationTimeoutMs).toBe(90_000);
    expect(dns.propagationIntervalMs).toBe(3000);
  });
});

describe('resolver against BIND', () => {
  it('discovers zones by SOA', async () => {
    expect(await findZone('_acme-challenge.www.example.test', [bind.address])).toBe('example.test');
    expect(await findZone('example.test', [bind.address])).toBe('example.test');
    expect(await findZone('deep.name.validation.test', [bind.address])).toBe('validation.test');
    const error = await rejection(findZone('nothing.invalid', [bind.address]));
    expect(error.code).toBe('DNS_ZONE_NOT_FOUND');
  });

  it('follows the CNAME of a delegated challenge name into the validation zone', async () => {
    expect(await followCname('_acme-challenge.app.example.test', [bind.address])).toBe('_acme-challenge.app.validation.test');
    expect(await resolveChallengeTarget('*.app.example.test', { resolvers: [bind.address] })).toBe('_acme-challenge.app.validation.test');
    expect(await resolveChallengeTarget('www.example.test', { resolvers: [bind.address] })).toBe('_acme-challenge.www.example.test');
  });

  it('writes through the CNAME: the provider discovers the validation zone', async () => {
    const fqdn = await resolveChallengeTarget('app.example.test', { resolvers: [bind.address] });
    const dns = provider();
    const record: TxtRecord = { fqdn, domain: 'app.example.test', value: 'delegated-value' };
    await dns.presentTxt(record);
    expect(await txtValues('_acme-challenge.app.validation.test')).toEqual(['delegated-value']);
    await dns.cleanupTxt(record);
    expect(await txtValues('_acme-challenge.app.validation.test')).toEqual([]);
  });

  it('lists the authoritative nameservers of a zone', async () => {
    expect(await authoritativeNameservers('example.test', [bind.address], { port: bind.port })).toEqual([bind.address]);
  });
});

describe('waitForTxtPropagation against BIND', () => {
  const fqdn = '_acme-challenge.prop.example.test';

  it('returns once the value is on every nameserver', async () => {
    const dns = provider();
    const record: TxtRecord = { fqdn, domain: 'prop.example.test', value: 'propagated' };
    await dns.presentTxt(record);
    try {
      await waitForTxtPropagation({
        fqdn,
        value: 'propagated',
        nameservers: [bind.address],
        resolvers: [bind.address],
        timeoutMs: 5000,
        intervalMs: 100,
        clock: systemClock,
      });
    } finally {
      await dns.cleanupTxt(record);
    }
  });

  it('times out naming the nameserver that lacks the value', async () => {
    const started = Date.now();
    const error = await rejection(
      waitForTxtPropagation({
        fqdn,
        value: 'absent',
        nameservers: [bind.address],
        resolvers: [bind.address],
        timeoutMs: 600,
        intervalMs: 100,
        clock: systemClock,
      }),
    );
    expect(error.code).toBe('DNS_PROPAGATION_TIMEOUT');
    expect(error.message).toContain(bind.address);
    expect(error.details?.['missing']).toEqual([bind.address]);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('sees a value that appears while it polls', async () => {
    const dns = provider();
    const record: TxtRecord = { fqdn, domain: 'prop.example.test', value: 'late' };
    const waiting = waitForTxtPropagation({
      fqdn,
      value: 'late',
      nameservers: [bind.address],
      resolvers: [bind.address],
      timeoutMs: 10_000,
      intervalMs: 100,
      clock: systemClock,
    });
    await systemClock.sleep(300);
    await dns.presentTxt(record);
    try {
      await waiting;
    } finally {
      await dns.cleanupTxt(record);
    }
  });
});

describe('startBind', () => {
  it("surfaces named's output when a zone does not load", async () => {
    const error = (await startBind({ zones: [{ name: 'broken.test', records: ['this is not a record'] }], startTimeoutMs: 3000 }).catch(
      (e: unknown) => e,
    )) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(/named .*its output:/s);
    expect(error.message).toContain('broken.test');
  });
});
