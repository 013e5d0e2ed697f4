// Batched DNS writes (issue 18) against the Route53 stand-in (the real AWS SDK client on the
// wire) and a real BIND: 100 challenge records presented at once go out as one change per zone,
// propagation is checked once per batch, a name that refuses the batch is written on its own,
// and every record is gone after the batched cleanup.

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { startBind, type BindServer } from '../../../src/devstack/bind.js';
import type { DnsProvider, TxtRecord } from '../../../src/dns/contract.js';
import type { TxtBatcher } from '../../../src/dns/batcher.js';
import { rfc2136Schema } from '../../../src/dns/providers/rfc2136/schema.js';
import { route53Schema } from '../../../src/dns/providers/route53/schema.js';
import { createDnsProvider, withBatching } from '../../../src/dns/registry.js';
import { awsTestEnv, startRoute53Standin, type Route53Standin } from '../../helpers/aws/route53-standin.js';
import { txtAt } from '../../helpers/cli.js';

const COUNT = 100;
const records = (zone: string, prefix = 'c'): TxtRecord[] =>
  Array.from({ length: COUNT }, (_, i) => ({
    fqdn: `_acme-challenge.${prefix}${i}.${zone}`,
    value: `value-${prefix}${i}-0123456789abcdefghijklmnopqrstu`,
    domain: `${prefix}${i}.${zone}`,
  }));

type Batched = DnsProvider & { batcher: TxtBatcher };

describe('batched writes through the Route53 stand-in', () => {
  let r53: Route53Standin;
  beforeAll(async () => {
    for (const [key, value] of Object.entries(awsTestEnv())) vi.stubEnv(key, value);
    // A short INSYNC delay and Route53's real rate limit and batch quotas.
    r53 = await startRoute53Standin({
      zones: [
        { name: 'one.test', id: 'ZONE1' },
        { name: 'two.test', id: 'ZONE2' },
      ],
      changeDelay: { ms: 300 },
      rateLimit: { requestsPerSecond: 5 },
    });
  });
  afterAll(async () => {
    await r53?.stop();
    vi.unstubAllEnvs();
  });

  // One provider for the describe: its pacing keeps the account's budget, as one agent's would.
  let shared: Batched | undefined;
  function provider(): Batched {
    if (shared) return shared;
    const config = route53Schema.parse({
      type: 'route53',
      endpoint: r53.endpoint,
      changeInterval: '200ms',
      propagation: { nameservers: [r53.dnsAddress], timeout: '20s', interval: '200ms' },
    });
    const ctx = { name: 'aws', clock: systemClock, logger: silentLogger };
    shared = withBatching(createDnsProvider(config, ctx), ctx) as Batched;
    return shared;
  }

  it('writes 100 records per zone as one change each, waits INSYNC once per change, and removes them all', async () => {
    const dns = provider();
    const all = [...records('one.test'), ...records('two.test')];
    await Promise.all(all.map((record) => dns.presentTxt(record)));
    const changes = () => r53.requests.filter((request) => request.operation === 'ChangeResourceRecordSets');
    // One CREATE batch per zone, and every value served by DNS when present resolved.
    expect(changes()).toHaveLength(2);
    expect(r53.changes.map((change) => change.actions.length)).toEqual([COUNT, COUNT]);
    expect(r53.changes.every((change) => change.actions.every((action) => action.action === 'CREATE'))).toBe(true);
    expect(dns.batcher.stats.propagationChecks).toBe(2);
    expect(dns.batcher.stats.singles).toBe(0);
    for (const record of [all[0]!, all[COUNT + 7]!]) expect(r53.servedTxt(record.fqdn)).toEqual([record.value]);

    await Promise.all(all.map((record) => dns.cleanupTxt(record)));
    expect(changes()).toHaveLength(4);
    expect(r53.changes.slice(2).every((change) => change.actions.every((action) => action.action === 'DELETE'))).toBe(true);
    for (const zone of ['one.test', 'two.test']) {
      for (const record of records(zone)) expect(r53.recordSet(zone, record.fqdn)).toBeUndefined();
    }
    expect(await txtAt(r53.dnsAddress, all[3]!.fqdn)).toEqual([]);
    // Paced to the account's rate: Route53 never had to say Throttling.
    expect(r53.requests.filter((request) => request.errorCode === 'Throttling')).toEqual([]);
    // Four changes, polled until INSYNC: a handful of requests, not one per record.
    expect(r53.requests.length).toBeLessThan(40);
  });

  it('splits at Route53’s 32,000 characters of values, and writes a name that refuses the batch on its own', async () => {
    const dns = provider();
    const before = r53.changes.length;
    // 800 values of 45 characters quoted: 36,000 characters, more than one request may carry.
    const many = Array.from({ length: 800 }, (_, i) => ({
      fqdn: `_acme-challenge.m${i}.one.test`,
      value: `${String(i).padStart(43, 'x')}`,
      domain: `m${i}.one.test`,
    }));
    // Another tool's value already at one name: CREATE there is refused; that record is merged on its own.
    r53.putRecordSet('one.test', { name: many[5]!.fqdn, type: 'TXT', ttl: 60, values: ['"someone-else"'] });
    await Promise.all(many.map((record) => dns.presentTxt(record)));
    const batches = r53.changes.slice(before);
    // 711 fit in one request (711 × 45 = 31,995); the refused name leaves 710 in the second try.
    expect(
      batches
        .filter((change) => change.actions.length > 1)
        .map((change) => change.actions.length)
        .sort((a, b) => b - a),
    ).toEqual([710, 89]);
    expect(batches.filter((change) => change.actions.length === 1).map((change) => change.actions[0]!.action)).toEqual(['UPSERT']);
    expect(r53.recordSet('one.test', many[5]!.fqdn)?.values.sort()).toEqual(['"someone-else"', `"${many[5]!.value}"`].sort());
    const refused = r53.requests.filter((request) => request.errorCode === 'InvalidChangeBatch');
    expect(refused).toHaveLength(1);

    await Promise.all(many.map((record) => dns.cleanupTxt(record)));
    expect(r53.recordSet('one.test', many[5]!.fqdn)?.values).toEqual(['"someone-else"']);
    expect(many.filter((record, i) => i !== 5 && r53.recordSet('one.test', record.fqdn) !== undefined)).toEqual([]);
    expect(r53.requests.filter((request) => request.errorCode === 'Throttling')).toEqual([]);
  });

  it('answers Throttling above its rate limit when a client does not pace itself', async () => {
    const config = route53Schema.parse({ type: 'route53', endpoint: r53.endpoint, requestsPerSecond: 100, maxRetries: 10, changeInterval: '200ms' });
    const raw = createDnsProvider(config, { name: 'raw', clock: systemClock, logger: silentLogger });
    const before = r53.requests.length;
    // Unbatched and unpaced: each record its own read, change and GetChange polls.
    await Promise.all(
      records('two.test', 'burst')
        .slice(0, 20)
        .map((record) => raw.presentTxt(record)),
    );
    expect(r53.requests.slice(before).filter((request) => request.errorCode === 'Throttling').length).toBeGreaterThan(0);
  });
});

describe('batched writes through RFC 2136 to BIND', () => {
  let bind: BindServer;
  beforeAll(async () => {
    bind = await startBind({ zones: [{ name: 'one.test' }, { name: 'two.test' }] });
  });
  afterAll(async () => {
    await bind?.stop();
  });

  it('sends one UPDATE per zone for 100 records each, checks propagation once per batch, and removes them all', async () => {
    const config = rfc2136Schema.parse({
      type: 'rfc2136',
      server: bind.address,
      tsigKeyName: bind.tsig.keyName,
      tsigAlgorithm: bind.tsig.algorithm,
      tsigSecret: bind.tsig.secret,
      propagation: { nameservers: [bind.address], timeout: '10s', interval: '100ms' },
    });
    const ctx = { name: 'bind', clock: systemClock, logger: silentLogger };
    const dns = withBatching(createDnsProvider(config, ctx), ctx) as Batched;
    const all = [...records('one.test'), ...records('two.test')];
    await Promise.all(all.map((record) => dns.presentTxt(record)));
    expect(dns.batcher.stats).toEqual({ batches: 2, singles: 0, propagationChecks: 2 });
    for (const record of [all[0]!, all[150]!]) expect(await txtAt(bind.address, record.fqdn)).toEqual([record.value]);

    await Promise.all(all.map((record) => dns.cleanupTxt(record)));
    expect(dns.batcher.stats.batches).toBe(4);
    const left = await Promise.all(all.map((record) => txtAt(bind.address, record.fqdn)));
    expect(left.flat()).toEqual([]);
  });

  it('a record outside the zone the server serves fails alone; the rest of its batch is written', async () => {
    const config = rfc2136Schema.parse({
      type: 'rfc2136',
      server: bind.address,
      tsigKeyName: bind.tsig.keyName,
      tsigAlgorithm: bind.tsig.algorithm,
      tsigSecret: bind.tsig.secret,
      propagation: { nameservers: [bind.address], timeout: '10s', interval: '100ms' },
    });
    const ctx = { name: 'bind', clock: systemClock, logger: silentLogger };
    const dns = withBatching(createDnsProvider(config, ctx), ctx);
    const good = records('one.test', 'ok').slice(0, 10);
    const bad: TxtRecord = { fqdn: '_acme-challenge.nowhere.invalid', value: 'x', domain: 'nowhere.invalid' };
    const results = await Promise.allSettled([...good, bad].map((record) => dns.presentTxt(record)));
    expect(results.slice(0, 10).every((result) => result.status === 'fulfilled')).toBe(true);
    expect(results[10]).toMatchObject({ status: 'rejected', reason: { code: 'DNS_ZONE_NOT_FOUND' } });
    await Promise.all(good.map((record) => dns.cleanupTxt(record)));
    expect((await Promise.all(good.map((record) => txtAt(bind.address, record.fqdn)))).flat()).toEqual([]);
  });
});
