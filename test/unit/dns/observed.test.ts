// DNS provider calls as the metrics see them (dns/observed.ts): each write and a batch's
// propagation check reported once, with `error` when it threw, nothing when cancelled, and the
// provider otherwise unchanged; and the registry wrapping what it builds when the context asks.

import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { DNS_OPERATIONS, type DnsCall, type DnsProvider, type TxtRecord } from '../../../src/dns/contract.js';
import { deferredDnsProvider } from '../../../src/cli/deferred.js';
import { observedDnsProvider, timedDnsCall } from '../../../src/dns/observed.js';
import { createDnsProvider, dnsProviderConfigSchema, withBatching } from '../../../src/dns/registry.js';
import { reply, startFakeDns, type FakeDnsServer } from './fake-dns-server.js';

const record: TxtRecord = { fqdn: '_acme-challenge.example.com', value: 'v1', domain: 'example.com' };

const servers: FakeDnsServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

function fakeProvider(overrides: Partial<DnsProvider> = {}): DnsProvider & { written: string[] } {
  const written: string[] = [];
  return {
    name: 'fake',
    written,
    propagationNameservers: ['192.0.2.1:53'],
    propagationTimeoutMs: 5_000,
    presentTxt: async (r) => void written.push(`present ${r.value}`),
    cleanupTxt: async (r) => void written.push(`cleanup ${r.value}`),
    ...overrides,
  };
}

describe('observedDnsProvider', () => {
  it('reports presents and cleanups with their result and duration, and passes the rest through', async () => {
    const calls: DnsCall[] = [];
    const inner = fakeProvider({
      cleanupTxt: async () => {
        throw new Error('API said 500');
      },
    });
    const provider = observedDnsProvider(inner, (call) => calls.push(call));
    await provider.presentTxt(record);
    await expect(provider.cleanupTxt(record)).rejects.toThrow('API said 500');
    expect(calls.map(({ operation, result }) => `${operation} ${result}`)).toEqual(['present success', 'cleanup error']);
    for (const call of calls) expect(call.seconds).toBeGreaterThanOrEqual(0);
    expect(inner.written).toEqual(['present v1']);
    expect(provider.name).toBe('fake');
    expect(provider.propagationNameservers).toEqual(['192.0.2.1:53']);
    expect(provider.propagationTimeoutMs).toBe(5_000);
    expect(provider.batch).toBeUndefined();
  });

  it('does not report a call its caller cancelled', async () => {
    const calls: DnsCall[] = [];
    const controller = new AbortController();
    const provider = observedDnsProvider(
      fakeProvider({
        presentTxt: async () => {
          controller.abort();
          throw new Error('aborted');
        },
      }),
      (call) => calls.push(call),
    );
    await expect(provider.presentTxt(record, controller.signal)).rejects.toThrow('aborted');
    expect(calls).toEqual([]);
  });

  it('labels batched writes by action, and judges an answer with `failed`', async () => {
    const calls: DnsCall[] = [];
    const writes: string[] = [];
    const provider = observedDnsProvider(
      fakeProvider({
        batch: {
          limits: { maxRecords: 10, maxCost: 100, cost: () => 1 },
          windowMs: 0,
          zoneOf: async () => 'example.com',
          write: async (action, zone, records) => void writes.push(`${action} ${zone} ${records.length}`),
        },
      }),
      (call) => calls.push(call),
    );
    await provider.batch!.write('present', 'example.com', [record]);
    await provider.batch!.write('cleanup', 'example.com', [record]);
    expect(await provider.batch!.zoneOf(record)).toBe('example.com');
    expect(provider.batch!.limits.maxRecords).toBe(10);
    expect(writes).toEqual(['present example.com 1', 'cleanup example.com 1']);
    await timedDnsCall(
      (call) => calls.push(call),
      'propagation',
      undefined,
      async () => [new Error('not yet')],
      (errors) => errors.length > 0,
    );
    expect(calls.map(({ operation, result }) => `${operation} ${result}`)).toEqual(['batch_present success', 'batch_cleanup success', 'propagation error']);
    for (const call of calls) expect(DNS_OPERATIONS).toContain(call.operation);
  });
});

describe('propagation checks of the challenge loop', () => {
  it('are reported as `propagation` calls through the observed provider, and through the CLI stand-in once it is built', async () => {
    const calls: DnsCall[] = [];
    const observed = observedDnsProvider(fakeProvider(), (call) => calls.push(call));
    observed.onPropagationChecked?.('error', 1.5);
    expect(calls).toEqual([{ operation: 'propagation', result: 'error', seconds: 1.5 }]);

    // The exec provider without `batch:` leaves propagation to the challenge loop; the stand-in forwards.
    calls.length = 0;
    const config = dnsProviderConfigSchema.parse({ type: 'exec', command: ['/bin/true'] });
    const deferred = deferredDnsProvider(config, { name: 'hook', clock: systemClock, logger: silentLogger, onCall: (call) => calls.push(call) });
    deferred.onPropagationChecked?.('success', 0.25); // not built yet: nothing to tell
    await deferred.presentTxt(record);
    deferred.onPropagationChecked?.('success', 0.5);
    expect(calls.map((call) => `${call.operation} ${call.result}`)).toEqual(['present success', 'propagation success']);
  });
});

describe('the registry with onCall', () => {
  it('times the provider it builds', async () => {
    const calls: DnsCall[] = [];
    const exec = dnsProviderConfigSchema.parse({ type: 'exec', command: ['/bin/true'], wildcard: false });
    const provider = createDnsProvider(exec, { name: 'hook', clock: systemClock, logger: silentLogger, onCall: (call) => calls.push(call) });
    await provider.presentTxt(record);
    expect(calls.map(({ operation, result }) => `${operation} ${result}`)).toEqual(['present success']);
  });

  it("times a batching provider's writes and its propagation check, success and failure", async () => {
    let serving: string[] = ['v1'];
    const nameserver = await startFakeDns((request) =>
      reply(request, 0, { answers: serving.map((data) => ({ name: record.fqdn, type: 'TXT' as const, class: 'IN' as const, ttl: 60, data })) }),
    );
    servers.push(nameserver);
    const calls: DnsCall[] = [];
    const onCall = (call: DnsCall): void => void calls.push(call);
    const inner = fakeProvider({
      propagationNameservers: [nameserver.address],
      propagationTimeoutMs: 300,
      propagationIntervalMs: 50,
      batch: {
        limits: { maxRecords: 10, maxCost: 100, cost: () => 1 },
        windowMs: 0,
        zoneOf: async () => 'example.com',
        write: async () => {},
      },
    });
    const ctx = { name: 'zone', clock: systemClock, logger: silentLogger, resolvers: [nameserver.address], onCall };
    const provider = withBatching(observedDnsProvider(inner, onCall), ctx);
    await provider.presentTxt(record);
    serving = [];
    await expect(provider.presentTxt({ ...record, value: 'v2' })).rejects.toThrow();
    expect(calls.map(({ operation, result }) => `${operation} ${result}`)).toEqual([
      'batch_present success',
      'propagation success',
      'batch_present success',
      'propagation error',
    ]);
  });
});
