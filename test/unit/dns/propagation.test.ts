import type { Answer } from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../../src/core/clock.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import { waitForTxtPropagation } from '../../../src/dns/propagation.js';
import { reply, startFakeDns, type FakeDnsServer } from './fake-dns-server.js';

const servers: FakeDnsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** Virtual time: sleeping advances `now` at once, so long intervals cost nothing. */
function virtualClock(): Clock & { sleeps: number[] } {
  let now = 1_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => new Date(now),
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

const FQDN = '_acme-challenge.example.test';
const txt = (value: string): Answer => ({ name: FQDN, type: 'TXT', class: 'IN', ttl: 60, data: value });

/** A nameserver that starts serving `value` from its `after`-th query on. */
async function nameserver(values: string[], after = 1): Promise<FakeDnsServer> {
  let queries = 0;
  const server = await startFakeDns((request) => {
    queries++;
    return reply(request, 0, { answers: queries >= after ? values.map(txt) : [] });
  });
  servers.push(server);
  return server;
}

describe('waitForTxtPropagation', () => {
  it('polls each nameserver without recursion until all of them serve the value', async () => {
    const fast = await nameserver(['other', 'ours']);
    const slow = await nameserver(['ours'], 3);
    const clock = virtualClock();
    await waitForTxtPropagation({
      fqdn: FQDN,
      value: 'ours',
      nameservers: [fast.address, slow.address],
      resolvers: [],
      timeoutMs: 60_000,
      intervalMs: 2000,
      clock,
    });
    expect(clock.sleeps).toEqual([2000, 2000]);
    expect(fast.requests).toHaveLength(1); // done once it showed the value
    expect(slow.requests).toHaveLength(3);
    expect(slow.requests.every((r) => !r.packet.flag_rd)).toBe(true);
  });

  it('times out naming the nameservers still lacking the value and what they served', async () => {
    const good = await nameserver(['ours']);
    const stale = await nameserver(['old-value']);
    const clock = virtualClock();
    const error = (await waitForTxtPropagation({
      fqdn: FQDN,
      value: 'ours',
      nameservers: [good.address, stale.address],
      resolvers: [],
      timeoutMs: 10_000,
      intervalMs: 3000,
      clock,
    }).catch((e: unknown) => e)) as CertkeeperError;
    expect(error).toBeInstanceOf(CertkeeperError);
    expect(error.code).toBe('DNS_PROPAGATION_TIMEOUT');
    expect(error.message).toContain(stale.address);
    expect(error.message).not.toContain(good.address);
    expect(error.details?.['missing']).toEqual([stale.address]);
    expect(clock.sleeps).toEqual([3000, 3000, 3000, 1000]); // never past the deadline
  });

  it('stops when the signal aborts', async () => {
    const never = await nameserver([]);
    const controller = new AbortController();
    const clock: Clock = {
      now: () => new Date(0),
      sleep: async () => {
        controller.abort();
        throw Object.assign(new Error('aborted'), { name: 'AbortError' });
      },
    };
    await expect(
      waitForTxtPropagation({
        fqdn: FQDN,
        value: 'x',
        nameservers: [never.address],
        resolvers: [],
        timeoutMs: 10_000,
        intervalMs: 100,
        clock,
        signal: controller.signal,
      }),
    ).rejects.toMatchObject({ name: 'AbortError' });
  });
});
