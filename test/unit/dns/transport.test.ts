import dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { CertkeeperError } from '../../../src/core/errors.js';
import { query } from '../../../src/dns/wire/client.js';
import { encodeQuery, encodeTxtUpdate, txtValue, rdata } from '../../../src/dns/wire/message.js';
import { exchange, responseMatches } from '../../../src/dns/wire/transport.js';
import { reply, startFakeDns, type FakeDnsServer } from './fake-dns-server.js';

const servers: FakeDnsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function fake(...args: Parameters<typeof startFakeDns>): Promise<FakeDnsServer> {
  const server = await startFakeDns(...args);
  servers.push(server);
  return server;
}

const txt = (name: string, value: string): dnsPacket.Answer => ({ name, type: 'TXT', class: 'IN', ttl: 60, data: value });

describe('DNS exchange', () => {
  it('queries over UDP without RD unless asked', async () => {
    const server = await fake((request) => reply(request, 0, { answers: [txt(request.questions![0]!.name, 'hello')] }));
    const response = await query(server.address, 'a.example.test', 'TXT', { timeoutMs: 1000 });
    expect(response.answers.map((record) => txtValue(rdata(record)))).toEqual(['hello']);
    expect(server.requests[0]).toMatchObject({ transport: 'udp', packet: { flag_rd: false } });
  });

  it('retries over TCP when the UDP answer is truncated', async () => {
    const server = await fake((request, _raw, transport) =>
      transport === 'udp' ? reply(request, 0, {}, dnsPacket.TRUNCATED_RESPONSE) : reply(request, 0, { answers: [txt('big.example.test', 'via tcp')] }),
    );
    const response = await query(server.address, 'big.example.test', 'TXT', { timeoutMs: 1000 });
    expect(response.answers.map((record) => txtValue(rdata(record)))).toEqual(['via tcp']);
    expect(server.requests.map((r) => r.transport)).toEqual(['udp', 'tcp']);
  });

  it('sends large UPDATEs over TCP from the start', async () => {
    const server = await fake((request) => ({ ...reply(request, 0), flags: (5 << 11) | 0 }));
    const updates = Array.from({ length: 12 }, (_, i) => ({
      action: 'add' as const,
      fqdn: `_acme-challenge.n${i}.example.test`,
      value: 'v'.repeat(43),
      ttl: 60,
    }));
    const message = encodeTxtUpdate('example.test', updates);
    expect(message.bytes.length).toBeGreaterThan(512);
    await exchange(server.address, message.bytes, { timeoutMs: 1000 });
    expect(server.requests.map((r) => r.transport)).toEqual(['tcp']);
  });

  it('ignores datagrams whose ID or question does not match, then takes the right one', async () => {
    const server = await fake((request) => [
      { ...reply(request, 0, { answers: [txt('q.example.test', 'wrong id')] }), id: (request.id! + 1) & 0xffff },
      { ...reply(request, 0, { answers: [txt('q.example.test', 'wrong question')] }), questions: [{ name: 'other.test', type: 'TXT' }] },
      reply(request, 0, { answers: [txt('q.example.test', 'genuine')] }),
    ]);
    const response = await query(server.address, 'q.example.test', 'TXT', { timeoutMs: 1000 });
    expect(response.answers.map((record) => txtValue(rdata(record)))).toEqual(['genuine']);
  });

  it('matches responses by ID, QR bit and question (names case-insensitively)', () => {
    const request = encodeQuery('q.example.test', 'TXT', { id: 42 });
    const decoded = dnsPacket.decode(request.bytes);
    const response = (overrides: Partial<dnsPacket.Packet>): Buffer => dnsPacket.encode({ ...reply(decoded, 0), ...overrides });
    expect(responseMatches(request.bytes, response({}))).toBe(true);
    expect(responseMatches(request.bytes, response({ questions: [{ name: 'Q.EXAMPLE.TEST', type: 'TXT', class: 'IN' }] }))).toBe(true);
    expect(responseMatches(request.bytes, response({ id: 43 }))).toBe(false);
    expect(responseMatches(request.bytes, response({ questions: [{ name: 'other.test', type: 'TXT' }] }))).toBe(false);
    expect(responseMatches(request.bytes, response({ questions: [{ name: 'q.example.test', type: 'SOA' }] }))).toBe(false);
    expect(responseMatches(request.bytes, request.bytes)).toBe(false); // a query is not a response
  });

  it('times out with DNS_QUERY_FAILED naming the server', async () => {
    const server = await fake(() => undefined);
    const error = await query(server.address, 'slow.example.test', 'TXT', { timeoutMs: 150 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CertkeeperError);
    expect(error).toMatchObject({ code: 'DNS_QUERY_FAILED', retryable: true });
    expect((error as Error).message).toContain(server.address);
  });

  it('stops at once when the signal aborts', async () => {
    const server = await fake(() => undefined);
    const controller = new AbortController();
    const pending = query(server.address, 'slow.example.test', 'TXT', { timeoutMs: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('talks to IPv6 servers written as [::1]:port', async () => {
    const server = await fake((request) => reply(request, 0, { answers: [txt('v6.example.test', 'six')] }), '::1');
    expect(server.address).toMatch(/^\[::1\]:\d+$/);
    const response = await query(server.address, 'v6.example.test', 'TXT', { timeoutMs: 1000 });
    expect(response.answers.map((record) => txtValue(rdata(record)))).toEqual(['six']);
  });

  it('rejects a server address that is not host:port', async () => {
    await expect(query('not a server', 'x.test', 'TXT')).rejects.toMatchObject({ code: 'DNS_QUERY_FAILED', retryable: false });
  });
});
