// Looking things up against given DNS servers: following the CNAME on a challenge name, finding
// the zone a name belongs to (by SOA) and the addresses of a zone's authoritative nameservers.
// Every function takes its servers explicitly; systemResolvers() supplies the host's own.

import { getServers } from 'node:dns';
import net from 'node:net';
import type { RecordType } from 'dns-packet';
import { systemClock, type Clock } from '../core/clock.js';
import { CertkeeperError, isCertkeeperError } from '../core/errors.js';
import { parseHostPort } from '../core/fields.js';
import { query } from './wire/client.js';
import { RCODE, normalizeName, rcodeName, rdata, sameName, type DnsResponse } from './wire/message.js';
import { formatEndpoint } from './wire/transport.js';

export interface LookupOptions {
  /** Per-exchange timeout (default 5 s). */
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Paces the retry round after transient failures. */
  clock?: Clock | undefined;
}

/** The pause before the second round over the servers (a dropped datagram, a restarting server). */
const RETRY_PAUSE_MS = 250;
export const MAX_CNAME_HOPS = 8;

/** The host's configured resolvers (node:dns getServers()) as `host:port`. */
export function systemResolvers(): string[] {
  return getServers().map((server) => {
    const parsed = parseHostPort(server);
    return parsed ? formatEndpoint(parsed.host, parsed.port) : server;
  });
}

export interface LookupResult {
  server: string;
  response: DnsResponse;
}

/**
 * Asks each server in turn (with RD set: they may be recursive resolvers) and returns the first
 * NOERROR or NXDOMAIN. Timeouts and SERVFAIL earn one more round after a short pause; when
 * every server refused, the error is not retryable (they do not serve that name).
 */
export async function lookup(name: string, type: RecordType, servers: string[], options: LookupOptions = {}): Promise<LookupResult> {
  if (servers.length === 0) throw new CertkeeperError('DNS_QUERY_FAILED', `no DNS servers to ask for ${type} ${name}`, { retryable: false });
  const clock = options.clock ?? systemClock;
  const failures = new Map<string, string>();
  let transient = false;
  for (let round = 0; round < 2; round++) {
    if (round > 0) await clock.sleep(RETRY_PAUSE_MS, options.signal);
    transient = false;
    for (const server of servers) {
      try {
        const response = await query(server, name, type, { timeoutMs: options.timeoutMs, signal: options.signal, recursionDesired: true });
        if (response.rcode === RCODE.NOERROR || response.rcode === RCODE.NXDOMAIN) return { server, response };
        failures.set(server, rcodeName(response.rcode));
        if (response.rcode === RCODE.SERVFAIL) transient = true;
      } catch (error) {
        if (!isCertkeeperError(error, 'DNS_QUERY_FAILED')) throw error;
        failures.set(server, error.message);
        transient = transient || error.retryable;
      }
    }
    if (!transient) break;
  }
  const summary = [...failures].map(([server, why]) => `${server}: ${why}`).join('; ');
  throw new CertkeeperError('DNS_QUERY_FAILED', `no usable answer for ${type} ${name} (${summary})`, {
    retryable: transient,
    details: { name, type, failures: Object.fromEntries(failures) },
  });
}

function cnameTarget(response: DnsResponse, name: string): string | undefined {
  const record = response.answers.find((answer) => answer.type === 'CNAME' && sameName(answer.name, name));
  return record ? normalizeName(String(rdata(record))) : undefined;
}

/**
 * The name a TXT record at `fqdn` really lives at: follows CNAMEs one hop at a time (delegated
 * validation zones are common). Throws DNS_QUERY_FAILED on a loop or a chain longer than 8.
 */
export async function followCname(fqdn: string, resolvers: string[], options: LookupOptions & { maxHops?: number } = {}): Promise<string> {
  const maxHops = options.maxHops ?? MAX_CNAME_HOPS;
  let name = normalizeName(fqdn);
  const chain = [name];
  for (;;) {
    const { response } = await lookup(name, 'CNAME', resolvers, options);
    const target = cnameTarget(response, name);
    if (target === undefined) return name;
    if (chain.includes(target)) {
      throw new CertkeeperError('DNS_QUERY_FAILED', `CNAME loop: ${[...chain, target].join(' → ')}`, {
        retryable: false,
        details: { chain: [...chain, target] },
      });
    }
    chain.push(target);
    if (chain.length - 1 > maxHops) {
      throw new CertkeeperError('DNS_QUERY_FAILED', `more than ${maxHops} CNAMEs from ${chain[0]}: ${chain.join(' → ')}`, {
        retryable: false,
        details: { chain },
      });
    }
    name = target;
  }
}

/** The zone an SOA response points at for `candidate`: the answer's SOA, or the negative answer's. */
function zoneFromSoaResponse(response: DnsResponse, candidate: string): string | undefined {
  const answer = response.answers.find((record) => record.type === 'SOA' && sameName(record.name, candidate));
  if (answer) return normalizeName(answer.name);
  // NXDOMAIN / NODATA carry the enclosing zone's SOA in the authority section (RFC 2308).
  const authority = response.authorities.find((record) => record.type === 'SOA');
  if (authority && (response.rcode === RCODE.NXDOMAIN || response.answers.length === 0)) {
    const zone = normalizeName(authority.name);
    if (candidate === zone || candidate.endsWith(`.${zone}`)) return zone;
  }
  return undefined;
}

/**
 * The apex of the zone holding `fqdn`, asking `servers` for SOA records from the name upwards.
 * Throws DNS_ZONE_NOT_FOUND when no server knows a zone for it, DNS_QUERY_FAILED when they could
 * not be reached.
 */
export async function findZone(fqdn: string, servers: string[], options: LookupOptions = {}): Promise<string> {
  const labels = normalizeName(fqdn).split('.');
  for (let i = 0; i < labels.length; i++) {
    const candidate = labels.slice(i).join('.');
    let result: LookupResult;
    try {
      result = await lookup(candidate, 'SOA', servers, options);
    } catch (error) {
      // Refused everywhere: these servers do not serve this name; try the parent.
      if (isCertkeeperError(error, 'DNS_QUERY_FAILED') && !error.retryable) continue;
      throw error;
    }
    const zone = zoneFromSoaResponse(result.response, candidate);
    if (zone !== undefined) return zone;
  }
  throw new CertkeeperError('DNS_ZONE_NOT_FOUND', `no zone found for ${normalizeName(fqdn)} on ${servers.join(', ')} (no SOA record at or above it)`, {
    retryable: false,
    details: { fqdn, servers },
  });
}

/**
 * `address:port` of each of the zone's nameservers (NS records), one per nameserver: the glue or
 * looked-up IPv4 address, else IPv6. `port` is 53 unless a test stack serves elsewhere.
 */
export async function authoritativeNameservers(zone: string, resolvers: string[], options: LookupOptions & { port?: number } = {}): Promise<string[]> {
  const port = options.port ?? 53;
  const apex = normalizeName(zone);
  const { response } = await lookup(apex, 'NS', resolvers, options);
  const names = response.answers.filter((record) => record.type === 'NS' && sameName(record.name, apex)).map((record) => normalizeName(String(rdata(record))));
  if (names.length === 0) throw new CertkeeperError('DNS_QUERY_FAILED', `zone ${apex} has no NS records (asked ${resolvers.join(', ')})`);
  const result: string[] = [];
  const unresolved: string[] = [];
  for (const name of [...new Set(names)]) {
    const address = glueAddress(response, name) ?? (await lookupAddress(name, resolvers, options));
    if (address === undefined) unresolved.push(name);
    else result.push(formatEndpoint(address, port));
  }
  if (result.length === 0) throw new CertkeeperError('DNS_QUERY_FAILED', `no address found for any nameserver of ${apex} (${unresolved.join(', ')})`);
  return [...new Set(result)];
}

function addressesIn(response: DnsResponse, section: 'answers' | 'additionals', name: string, type: 'A' | 'AAAA'): string[] {
  return response[section]
    .filter((record) => record.type === type && sameName(record.name, name))
    .map((record) => String(rdata(record)))
    .filter((address) => net.isIP(address) !== 0);
}

function glueAddress(response: DnsResponse, name: string): string | undefined {
  return addressesIn(response, 'additionals', name, 'A')[0] ?? addressesIn(response, 'additionals', name, 'AAAA')[0];
}

async function lookupAddress(name: string, resolvers: string[], options: LookupOptions): Promise<string | undefined> {
  for (const type of ['A', 'AAAA'] as const) {
    try {
      const { response } = await lookup(name, type, resolvers, options);
      const address = addressesIn(response, 'answers', name, type)[0];
      if (address) return address;
    } catch (error) {
      if (!isCertkeeperError(error, 'DNS_QUERY_FAILED')) throw error;
    }
  }
  return undefined;
}
