import { describe, expect, it } from 'vitest';
import { CertkeeperError, isCertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { batchingProvider } from '../../../src/dns/batcher.js';
import { TxtBatchRejected, type DnsProvider, type TxtBatchAction, type TxtBatchSupport, type TxtRecord } from '../../../src/dns/contract.js';
import { ManualClock } from '../../helpers/clock.js';
import { TimerClock, realTick } from '../../helpers/timer-clock.js';

interface Written {
  action: TxtBatchAction;
  zone: string;
  records: string[];
}

/**
 * A provider with batches, writing into `zones` (fqdn → values): `refuse` names fqdns whose batch
 * is refused (naming them when `nameCulprits`), `failZone` fails any batch for that zone whole.
 */
function fakeProvider(
  options: {
    maxRecords?: number;
    maxCost?: number;
    refuse?: string[];
    nameCulprits?: boolean;
    failZone?: string;
    singleFails?: string[];
    windowMs?: number;
  } = {},
) {
  const written: Written[] = [];
  const singles: string[] = [];
  const served = new Map<string, Set<string>>();
  const add = (record: TxtRecord) => served.set(record.fqdn, new Set([...(served.get(record.fqdn) ?? []), record.value]));
  const remove = (record: TxtRecord) => served.get(record.fqdn)?.delete(record.value);
  const batch: TxtBatchSupport = {
    windowMs: options.windowMs ?? 250,
    limits: { maxRecords: options.maxRecords ?? 1000, maxCost: options.maxCost ?? 32_000, cost: (record) => record.value.length + 2 },
    zoneOf: async (record) => record.fqdn.split('.').slice(-2).join('.'),
    async write(action, zone, records, signal) {
      await Promise.resolve();
      if (signal?.aborted) throw Object.assign(new Error('aborted'), { name: 'AbortError' });
      if (zone === options.failZone) throw new CertkeeperError('DNS_ZONE_NOT_FOUND', `no zone ${zone}`, { retryable: false });
      const refused = records.filter((record) => options.refuse?.includes(record.fqdn));
      if (refused.length > 0) throw new TxtBatchRejected(`refused ${refused.map((r) => r.fqdn).join(', ')}`, options.nameCulprits ? refused : undefined);
      written.push({ action, zone, records: records.map((record) => record.fqdn) });
      for (const record of records) (action === 'present' ? add : remove)(record);
    },
  };
  const provider: DnsProvider & { batch: TxtBatchSupport } = {
    name: 'fake',
    batch,
    async presentTxt(record) {
      singles.push(`present ${record.fqdn}`);
      if (options.singleFails?.includes(record.fqdn)) throw new CertkeeperError('DNS_UPDATE_FAILED', `cannot write ${record.fqdn}`);
      add(record);
    },
    async cleanupTxt(record) {
      singles.push(`cleanup ${record.fqdn}`);
      remove(record);
    },
  };
  return { provider, written, singles, served };
}

const rec = (name: string, value = `v-${name}`): TxtRecord => ({ fqdn: `_acme-challenge.${name}`, value, domain: name });

describe('TxtBatcher', () => {
  it('writes the records presented within the window as one batch per zone, and later ones in the next', async () => {
    const clock = new TimerClock();
    const { provider, written } = fakeProvider({ windowMs: 250 });
    const dns = batchingProvider(provider, { clock, logger: silentLogger });
    const first = [dns.presentTxt(rec('a.one.test')), dns.presentTxt(rec('b.one.test')), dns.presentTxt(rec('c.two.test'))];
    await clock.advance(100);
    first.push(dns.presentTxt(rec('d.one.test')));
    await clock.advance(150);
    await Promise.all(first);
    expect(written).toEqual([
      { action: 'present', zone: 'one.test', records: ['_acme-challenge.a.one.test', '_acme-challenge.b.one.test', '_acme-challenge.d.one.test'] },
      { action: 'present', zone: 'two.test', records: ['_acme-challenge.c.two.test'] },
    ]);
    const late = dns.presentTxt(rec('e.one.test'));
    await clock.advance(250);
    await late;
    expect(written).toHaveLength(3);
    expect(dns.batcher.stats.batches).toBe(3);
  });

  it('splits a zone at the record limit and at the cost limit, keeping the values of one name together', async () => {
    const clock = new ManualClock();
    const { provider, written } = fakeProvider({ maxRecords: 3, maxCost: 1000 });
    const dns = batchingProvider(provider, { clock, logger: silentLogger });
    // An apex and its wildcard: two values at one name.
    await Promise.all(
      [rec('a.z.test', 'x1'), rec('a.z.test', 'x2'), rec('b.z.test'), rec('c.z.test'), rec('d.z.test'), rec('e.z.test'), rec('f.z.test')].map((r) =>
        dns.presentTxt(r),
      ),
    );
    expect(written.map((w) => w.records.length)).toEqual([3, 3, 1]);
    expect(written[0]!.records.slice(0, 2)).toEqual(['_acme-challenge.a.z.test', '_acme-challenge.a.z.test']);
    expect(written.every((w) => w.records.length <= 3)).toBe(true);

    const costly = fakeProvider({ maxRecords: 1000, maxCost: 30 });
    const dns2 = batchingProvider(costly.provider, { clock, logger: silentLogger });
    // Each value costs 12 (10 characters + 2 quotes): two fit in 30, three do not.
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((n) => dns2.presentTxt(rec(`${n}.z.test`, '0123456789'))));
    expect(costly.written.map((w) => w.records.length)).toEqual([2, 2, 1]);
  });

  it('writes a refused batch again without the record the provider named; that one goes through the single path', async () => {
    const clock = new ManualClock();
    const { provider, written, singles, served } = fakeProvider({ refuse: ['_acme-challenge.b.z.test'], nameCulprits: true });
    const dns = batchingProvider(provider, { clock, logger: silentLogger });
    await Promise.all(['a', 'b', 'c', 'd'].map((n) => dns.presentTxt(rec(`${n}.z.test`))));
    expect(written).toEqual([
      { action: 'present', zone: 'z.test', records: ['_acme-challenge.a.z.test', '_acme-challenge.c.z.test', '_acme-challenge.d.z.test'] },
    ]);
    expect(singles).toEqual(['present _acme-challenge.b.z.test']);
    expect([...served.keys()].sort()).toHaveLength(4);
  });

  it('narrows down a refused record the provider did not name by halves; only that certificate fails', async () => {
    const clock = new ManualClock();
    const { provider, written, singles } = fakeProvider({ refuse: ['_acme-challenge.f.z.test'], singleFails: ['_acme-challenge.f.z.test'] });
    const dns = batchingProvider(provider, { clock, logger: silentLogger });
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const results = await Promise.allSettled(names.map((n) => dns.presentTxt(rec(`${n}.z.test`))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const failure = (results[5] as PromiseRejectedResult).reason;
    expect(isCertkeeperError(failure, 'DNS_UPDATE_FAILED')).toBe(true);
    expect(written.flatMap((w) => w.records).sort()).toEqual(names.filter((n) => n !== 'f').map((n) => `_acme-challenge.${n}.z.test`));
    // 8 → 4 + 4 → (4 ok) 2 + 2 → 1 + 1: three writes of the good ones besides the first half.
    expect(written.length).toBeLessThanOrEqual(4);
    expect(singles).toEqual(['present _acme-challenge.f.z.test']);
  });

  it('fails every record of a batch that failed as a whole, and no other zone', async () => {
    const clock = new ManualClock();
    const { provider, written, singles } = fakeProvider({ failZone: 'bad.test' });
    const dns = batchingProvider(provider, { clock, logger: silentLogger });
    const results = await Promise.allSettled([dns.presentTxt(rec('a.bad.test')), dns.presentTxt(rec('b.bad.test')), dns.presentTxt(rec('a.good.test'))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    expect(isCertkeeperError((results[0] as PromiseRejectedResult).reason, 'DNS_ZONE_NOT_FOUND')).toBe(true);
    expect(written).toHaveLength(1);
    expect(singles).toEqual([]);
  });

  it('checks propagation once per batch, and fails only the records the check did not see', async () => {
    const clock = new ManualClock();
    const { provider } = fakeProvider();
    const checks: string[][] = [];
    const dns = batchingProvider(provider, {
      clock,
      logger: silentLogger,
      confirm: async (records) => {
        checks.push(records.map((r) => r.fqdn));
        return records.map((r) =>
          r.fqdn.startsWith('_acme-challenge.slow') ? new CertkeeperError('DNS_PROPAGATION_TIMEOUT', `${r.fqdn} not visible`) : undefined,
        );
      },
    });
    expect(dns.presentWaitsForPropagation).toBe(true);
    const results = await Promise.allSettled(['a', 'slow', 'b'].map((n) => dns.presentTxt(rec(`${n}.z.test`))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(checks).toHaveLength(1);
    expect(checks[0]).toHaveLength(3);
    // Cleanups are batched too, with no propagation check.
    await Promise.all(['a', 'slow', 'b'].map((n) => dns.cleanupTxt(rec(`${n}.z.test`))));
    expect(checks).toHaveLength(1);
  });

  it('cancellation: a record aborted before its batch is written is never written; one aborted in flight settles at once', async () => {
    const clock = new TimerClock();
    const { provider, written } = fakeProvider({ windowMs: 250 });
    const dns = batchingProvider(provider, { clock, logger: silentLogger });
    const controller = new AbortController();
    const kept = dns.presentTxt(rec('a.z.test'));
    const aborted = dns.presentTxt(rec('b.z.test'), controller.signal);
    controller.abort();
    await expect(aborted).rejects.toSatisfy((error: unknown) => isCertkeeperError(error, 'CANCELLED'));
    await clock.advance(250);
    await kept;
    expect(written).toEqual([{ action: 'present', zone: 'z.test', records: ['_acme-challenge.a.z.test'] }]);
    // Its cleanup (the challenge loop removes whatever it tried to present) costs no request.
    await dns.cleanupTxt(rec('b.z.test'));
    expect(written).toHaveLength(1);

    // Every record of a batch aborted while it is being written: the write sees the abort.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = fakeProvider({ windowMs: 250 });
    const seen: (AbortSignal | undefined)[] = [];
    const write = slow.provider.batch.write;
    slow.provider.batch.write = async (action, zone, records, signal) => {
      seen.push(signal);
      await gate;
      return write(action, zone, records, signal);
    };
    const dns2 = batchingProvider(slow.provider, { clock, logger: silentLogger });
    const one = new AbortController();
    const two = new AbortController();
    const pending = Promise.allSettled([dns2.presentTxt(rec('c.z.test'), one.signal), dns2.presentTxt(rec('d.z.test'), two.signal)]);
    await clock.advance(250);
    expect(seen).toHaveLength(1);
    one.abort();
    await realTick();
    expect(seen[0]!.aborted).toBe(false); // the other record still wants it
    two.abort();
    const settled = await pending;
    expect(settled.every((r) => r.status === 'rejected' && isCertkeeperError(r.reason, 'CANCELLED'))).toBe(true);
    expect(seen[0]!.aborted).toBe(true);
    release();
    await realTick();
    expect(slow.written).toEqual([]);
  });

  it('a full request worth of records goes out without waiting for the window', async () => {
    const clock = new TimerClock();
    const { provider, written } = fakeProvider({ maxRecords: 2, windowMs: 10_000 });
    const dns = batchingProvider(provider, { clock, logger: silentLogger });
    const both = Promise.all([dns.presentTxt(rec('a.z.test')), dns.presentTxt(rec('b.z.test'))]);
    await realTick();
    await both;
    expect(written).toHaveLength(1);
  });
});
