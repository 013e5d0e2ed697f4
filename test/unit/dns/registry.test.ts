import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { createDnsProvider, dnsProviderCapabilities, dnsProviderConfigSchema, dnsProviderTypes } from '../../../src/dns/registry.js';
import { dnsProviderSchemas } from '../../../src/dns/schema.js';

const PROVIDERS_DIR = fileURLToPath(new URL('../../../src/dns/providers/', import.meta.url));

describe('DNS provider registry', () => {
  it('has exactly one entry per folder under src/dns/providers/', () => {
    const folders = readdirSync(PROVIDERS_DIR, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
    expect(Object.keys(dnsProviderTypes).sort()).toEqual(folders);
    for (const folder of folders) {
      expect(existsSync(path.join(PROVIDERS_DIR, folder, 'index.ts')), `${folder}/index.ts`).toBe(true);
      expect(existsSync(path.join(PROVIDERS_DIR, folder, 'schema.ts')), `${folder}/schema.ts`).toBe(true);
      expect(readFileSync(path.join(PROVIDERS_DIR, folder, 'README.md'), 'utf8').split('\n')[0], `${folder}/README.md`).toBe(`# \`${folder}\` DNS provider`);
    }
  });

  it('has the same types as the schema-only map the config uses (dns/schema.ts)', () => {
    expect(Object.keys(dnsProviderSchemas).sort()).toEqual(Object.keys(dnsProviderTypes).sort());
    expect(dnsProviderConfigSchema.options).toHaveLength(Object.keys(dnsProviderTypes).length);
  });

  it("keys each entry by its schema's type literal", () => {
    for (const [type, entry] of Object.entries(dnsProviderTypes)) {
      expect(entry.schema.shape.type.value).toBe(type);
    }
  });

  it('parses entries of every type through the discriminated union and builds providers', () => {
    const ctx = { name: 'x', clock: systemClock, logger: silentLogger };
    const rfc = dnsProviderConfigSchema.parse({ type: 'rfc2136', server: '127.0.0.1:53', tsigKeyName: 'k', tsigSecret: 'c2VjcmV0' });
    const exec = dnsProviderConfigSchema.parse({ type: 'exec', command: ['/bin/true'], wildcard: false });
    const route53 = dnsProviderConfigSchema.parse({ type: 'route53', hostedZoneId: 'Z0123456789ABC' });
    expect(createDnsProvider(rfc, ctx).name).toBe('x');
    expect(createDnsProvider(exec, ctx).name).toBe('x');
    expect(createDnsProvider(route53, ctx).name).toBe('x');
    expect(dnsProviderCapabilities(rfc)).toEqual({ wildcard: true });
    expect(dnsProviderCapabilities(exec)).toEqual({ wildcard: false });
    expect(dnsProviderCapabilities(route53)).toEqual({ wildcard: true });
    expect(dnsProviderConfigSchema.safeParse({ type: 'cloudflare' }).success).toBe(false);
  });
});
