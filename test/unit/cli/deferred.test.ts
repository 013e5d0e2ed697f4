// DNS providers and sinks built on first use (src/cli/deferred.ts): they answer like the real
// ones and hand every call to them; a sink type that writes files (the files sink) answers
// `locate` synchronously, before the sink is built.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deferredDnsProvider, deferredSink } from '../../../src/cli/deferred.js';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { createDnsProvider } from '../../../src/dns/registry.js';
import { dnsProviderConfigSchema } from '../../../src/dns/schema.js';
import { memorySinkState } from '../../../src/sinks/contract.js';
import { createSink, sinkTypes } from '../../../src/sinks/registry.js';
import { sinkConfigSchema } from '../../../src/sinks/schema.js';
import { makeCertificate } from '../../helpers/certs.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-deferred-'));
  dirs.push(dir);
  return dir;
}

const dnsCtx = { name: 'corp', clock: systemClock, logger: silentLogger };
const propagation = { nameservers: ['127.0.0.1:53'], timeout: '2m', interval: '3s' };

describe('deferred DNS provider', () => {
  it.each([
    { type: 'rfc2136', server: '127.0.0.1:53', tsigKeyName: 'k', tsigSecret: 'c2VjcmV0', propagation },
    { type: 'exec', command: ['/bin/true'], propagation },
    { type: 'route53', hostedZoneId: 'Z0123456789ABC', propagation },
    { type: 'rfc2136', server: '127.0.0.1:53', tsigKeyName: 'k', tsigSecret: 'c2VjcmV0' },
  ])('answers name and propagation settings as the real $type provider does', (raw) => {
    const config = dnsProviderConfigSchema.parse(raw);
    const real = createDnsProvider(config, dnsCtx);
    const deferred = deferredDnsProvider(config, dnsCtx);
    const settings = (p: typeof real) => [p.name, p.propagationNameservers, p.propagationTimeoutMs, p.propagationIntervalMs];
    expect(settings(deferred)).toEqual(settings(real));
  });

  it('builds the provider on the first call and hands it presentTxt and cleanupTxt', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'calls');
    const config = dnsProviderConfigSchema.parse({
      type: 'exec',
      command: ['/bin/sh', '-c', `echo "$CERTKEEPER_ACTION $CERTKEEPER_FQDN $CERTKEEPER_VALUE" >> ${log}`],
      propagation,
    });
    const provider = deferredDnsProvider(config, dnsCtx);
    const record = { fqdn: '_acme-challenge.www.example.test', value: 'token', domain: 'www.example.test' };
    await provider.presentTxt(record);
    await provider.cleanupTxt(record);
    expect(readFileSync(log, 'utf8')).toBe('present _acme-challenge.www.example.test token\ncleanup _acme-challenge.www.example.test token\n');
    expect(provider.propagationTimeoutMs).toBe(120_000);
  });
});

describe('deferred sink', () => {
  const ctx = { name: 'web', clock: systemClock, logger: silentLogger, state: memorySinkState() };

  it('answers locate synchronously for a sink type that writes files, as the real sink does', () => {
    const config = sinkConfigSchema.parse({ type: 'files', dir: '/srv/tls/{cert}' });
    const sink = deferredSink(config, ctx);
    expect([sink.type, sink.writesFiles]).toEqual(['files', true]);
    expect(sink.locate?.('www')).toEqual({
      cert: '/srv/tls/www/cert.pem',
      chain: '/srv/tls/www/chain.pem',
      fullchain: '/srv/tls/www/fullchain.pem',
      key: '/srv/tls/www/privkey.pem',
    });
    const real = createSink(config, ctx);
    expect([real.writesFiles, real.locate?.('www')]).toEqual([true, sink.locate?.('www')]);
  });

  it('gives every other type, none of which writes files, no locate', () => {
    const configs = {
      exec: { type: 'exec', command: ['/bin/true'] },
      acm: { type: 'acm', region: 'eu-west-1' },
      'kubernetes-secret': { type: 'kubernetes-secret', namespace: 'web' },
    };
    // A new sink type must be listed here, or above if it writes files.
    expect(Object.keys(configs).sort()).toEqual(
      Object.keys(sinkTypes)
        .filter((type) => type !== 'files')
        .sort(),
    );
    for (const [type, raw] of Object.entries(configs)) {
      const config = sinkConfigSchema.parse(raw);
      const real = createSink(config, ctx);
      expect([real.writesFiles, real.locate], type).toEqual([false, undefined]);
      const deferred = deferredSink(config, ctx);
      expect([deferred.name, deferred.type, deferred.writesFiles, deferred.locate]).toEqual(['web', type, false, undefined]);
    }
  });

  it('carries the reloads capability of its type, as the real sink does (verification re-runs those sinks)', () => {
    const configs = {
      files: { type: 'files', dir: '/srv/tls/{cert}' },
      exec: { type: 'exec', command: ['/bin/true'] },
      acm: { type: 'acm', region: 'eu-west-1' },
      'kubernetes-secret': { type: 'kubernetes-secret', namespace: 'web' },
    };
    expect(Object.keys(configs).sort()).toEqual(Object.keys(sinkTypes).sort());
    const reloads: Record<string, boolean | undefined> = {};
    for (const [type, raw] of Object.entries(configs)) {
      const config = sinkConfigSchema.parse(raw);
      reloads[type] = deferredSink(config, ctx).reloads;
      expect(createSink(config, ctx).reloads, type).toBe(reloads[type]);
    }
    expect(reloads).toEqual({ files: false, exec: true, acm: false, 'kubernetes-secret': false });
  });

  it('hands deploy to the real sink, built on first use', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'deployed');
    const sink = deferredSink(
      sinkConfigSchema.parse({ type: 'exec', command: ['/bin/sh', '-c', `echo "$CERTKEEPER_CERT_NAME $CERTKEEPER_SERIAL" >> ${log}`] }),
      ctx,
    );
    const material = makeCertificate({ domains: ['www.example.test'] });
    const paths = { cert: '/x/cert.pem', chain: '/x/chain.pem', fullchain: '/x/fullchain.pem', key: '/x/privkey.pem' };
    const result = await sink.deploy({
      certName: 'www',
      domains: ['www.example.test'],
      serial: 'ABC',
      notAfter: new Date('2030-01-01T00:00:00Z'),
      material,
      paths,
    });
    expect(result.detail).toMatch(/^ran \/bin\/sh/);
    expect(readFileSync(log, 'utf8')).toBe('www ABC\n');
  });
});
