// The propagation fields and the batch window, one definition shared by every DNS provider schema
// (src/dns/fields.ts).

import { describe, expect, it } from 'vitest';
import { propagationSettings } from '../../../src/dns/fields.js';
import { dnsProviderConfigSchema } from '../../../src/dns/schema.js';

const entries = {
  rfc2136: { type: 'rfc2136', server: '127.0.0.1:53', tsigKeyName: 'k', tsigSecret: 'c2VjcmV0' },
  exec: { type: 'exec', command: ['/bin/true'] },
  route53: { type: 'route53', hostedZoneId: 'Z0123456789ABC' },
};

describe.each(Object.entries(entries))('the %s provider schema', (_type, entry) => {
  it('takes propagation: nameservers, timeout and interval, and nothing else there', () => {
    const parsed = dnsProviderConfigSchema.parse({ ...entry, propagation: { nameservers: ['ns1.example.test:53'], timeout: '2m', interval: '3s' } });
    expect(parsed.propagation).toEqual({ nameservers: ['ns1.example.test:53'], timeout: 120_000, interval: 3_000 });
    expect(propagationSettings(parsed)).toEqual({
      propagationNameservers: ['ns1.example.test:53'],
      propagationTimeoutMs: 120_000,
      propagationIntervalMs: 3_000,
    });
    expect(dnsProviderConfigSchema.parse(entry).propagation).toBeUndefined();
    expect(dnsProviderConfigSchema.safeParse({ ...entry, propagation: { nameservers: [] } }).success).toBe(false);
    expect(dnsProviderConfigSchema.safeParse({ ...entry, propagation: { wait: '1s' } }).success).toBe(false);
  });

  it('collects records for 250ms by default, at most 10s', () => {
    expect(dnsProviderConfigSchema.parse(entry).batchWindow).toBe(250);
    expect(dnsProviderConfigSchema.parse({ ...entry, batchWindow: '10s' }).batchWindow).toBe(10_000);
    expect(dnsProviderConfigSchema.safeParse({ ...entry, batchWindow: '11s' }).success).toBe(false);
  });
});

it('gives undefined settings to a provider without propagation:', () => {
  expect(propagationSettings({})).toEqual({ propagationNameservers: undefined, propagationTimeoutMs: undefined, propagationIntervalMs: undefined });
});
