import type { Answer, DecodedPacket } from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../../src/core/clock.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import { authoritativeNameservers, findZone, followCname, lookup, systemResolvers } from '../../../src/dns/resolver.js';
import { reply, startFakeDns, type FakeDnsServer, type Handler } from './fake-dns-server.js';

const servers: FakeDnsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function fake(handler: Handler): Promise<FakeDnsServer> {
  const server = await startFakeDns(handler);
  servers.push(server);
  return server;
}

/** Clock whose sleeps return at once, so retry pauses cost nothing. */
const instantClock: Clock = { now: () => new Date(0), sleep: async () => {} };

/** A tiny authoritative server for `zone` answering from a record list (NXDOMAIN otherwise). */
function zoneServer(zone: string, records: Answer[]): Handler {
  const soa: Answer = { name: zone, type: 'SOA', class: 'IN', ttl: 60, data: { mname: `ns1.${zone}`, rname: `hostmaster.${zone}`, serial: 1 } };
  const all = [soa, ...records];
  return (request: DecodedPacket) => {
    const q = request.questions![0]!;
    const name = q.name.toLowerCase();
    if (name !== zone && !name.endsWith(`.${zone}`)) return reply(request, 5); // REFUSED
    const atName = all.filter((record) => record.name === name);
    const cname = atName.find((record) => record.type === 'CNAME');
    const answers = atName.filter((record) => record.type === q.type);
    if (answers.length > 0) return reply(request, 0, { answers });
    if (cname) return reply(request, 0, { answers: [cname] });
    return reply(request, atName.length > 0 ? 0 : 3, { authorities: [soa] });
  };
}

const cname = (name: string, target: string): Answer => ({ name, type: 'CNAME', class: 'IN', ttl: 60, data: target });

describe('followCname', () => {
  it('follows a chain to its end and returns names lower-case without a trailing dot', async () => {
    const server = await fake(
      zoneServer('example.test', [cname('_acme-challenge.example.test', 'hop1.example.test'), cname('hop1.example.test', 'final.example.test')]),
    );
    expect(await followCname('_acme-challenge.Example.Test.', [server.address])).toBe('final.example.test');
  });

  it('returns the name itself when it has no CNAME', async () => {
    const server = await fake(zoneServer('example.test', []));
    expect(await followCname('_acme-challenge.example.test', [server.address])).toBe('_acme-challenge.example.test');
  });

  it('detects a loop and names the chain', async () => {
    const server = await fake(zoneServer('example.test', [cname('a.example.test', 'b.example.test'), cname('b.example.test', 'a.example.test')]));
    const error = (await followCname('a.example.test', [server.address]).catch((e: unknown) => e)) as CertkeeperError;
    expect(error).toBeInstanceOf(CertkeeperError);
    expect(error).toMatchObject({ code: 'DNS_QUERY_FAILED', retryable: false });
    expect(error.message).toBe('CNAME loop: a.example.test → b.example.test → a.example.test');
  });

  it('gives up after too many hops', async () => {
    const chain = Array.from({ length: 12 }, (_, i) => cname(`n${i}.example.test`, `n${i + 1}.example.test`));
    const server = await fake(zoneServer('example.test', chain));
    await expect(followCname('n0.example.test', [server.address])).rejects.toMatchObject({
      code: 'DNS_QUERY_FAILED',
      message: expect.stringMatching(/more than 8 CNAMEs/),
    });
    expect(await followCname('n0.example.test', [server.address], { maxHops: 20 })).toBe('n12.example.test');
  });
});

describe('lookup', () => {
  it('moves on to the next server after a failure', async () => {
    const broken = await fake((request) => reply(request, 2)); // SERVFAIL
    const good = await fake(zoneServer('example.test', []));
    const result = await lookup('example.test', 'SOA', [broken.address, good.address], { clock: instantClock });
    expect(result.server).toBe(good.address);
  });

  it('retries a round after transient failures and then reports every server', async () => {
    const broken = await fake((request) => reply(request, 2));
    const error = (await lookup('example.test', 'SOA', [broken.address], { clock: instantClock }).catch((e: unknown) => e)) as CertkeeperError;
    expect(error).toMatchObject({ code: 'DNS_QUERY_FAILED', retryable: true });
    expect(error.message).toContain(`${broken.address}: SERVFAIL`);
    expect(broken.requests).toHaveLength(2);
  });

  it('does not retry when every server refused', async () => {
    const refusing = await fake((request) => reply(request, 5));
    await expect(lookup('example.test', 'SOA', [refusing.address], { clock: instantClock })).rejects.toMatchObject({ retryable: false });
    expect(refusing.requests).toHaveLength(1);
  });
});

describe('findZone', () => {
  it('reads the zone from the SOA of a negative answer', async () => {
    const server = await fake(zoneServer('example.test', []));
    expect(await findZone('_acme-challenge.deep.www.example.test', [server.address])).toBe('example.test');
    expect(server.requests).toHaveLength(1);
  });

  it('walks up past names the server refuses and reports DNS_ZONE_NOT_FOUND at the top', async () => {
    const server = await fake(zoneServer('example.test', []));
    await expect(findZone('a.b.other.test', [server.address], { clock: instantClock })).rejects.toMatchObject({ code: 'DNS_ZONE_NOT_FOUND', retryable: false });
    expect(server.requests.map((r) => r.packet.questions![0]!.name)).toEqual(['a.b.other.test', 'b.other.test', 'other.test', 'test']);
  });
});

describe('authoritativeNameservers', () => {
  it('resolves NS names to addresses, glue first', async () => {
    const server = await fake((request) => {
      const q = request.questions![0]!;
      if (q.type === 'NS') {
        return reply(request, 0, {
          answers: [
            { name: 'example.test', type: 'NS', class: 'IN', ttl: 60, data: 'ns1.example.test' },
            { name: 'example.test', type: 'NS', class: 'IN', ttl: 60, data: 'ns2.elsewhere.test' },
          ],
          additionals: [{ name: 'ns1.example.test', type: 'A', class: 'IN', ttl: 60, data: '192.0.2.1' }],
        });
      }
      if (q.name === 'ns2.elsewhere.test' && q.type === 'AAAA')
        return reply(request, 0, { answers: [{ name: q.name, type: 'AAAA', class: 'IN', ttl: 60, data: '2001:db8::2' }] });
      return reply(request, 0);
    });
    expect(await authoritativeNameservers('example.test', [server.address])).toEqual(['192.0.2.1:53', '[2001:db8::2]:53']);
  });
});

describe('systemResolvers', () => {
  it('returns host:port strings', () => {
    for (const server of systemResolvers()) expect(server).toMatch(/^(\[[0-9a-f:.]+\]|[0-9.]+):\d+$|^[0-9.]+$|^[^:]+$/i);
  });
});
