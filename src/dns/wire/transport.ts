// Moving DNS messages: UDP first, TCP when the answer is truncated or the message is too big for
// a datagram. A response only counts when its ID and question match the request, so stray or
// spoofed datagrams are ignored. Deadlines here are socket I/O timeouts (a real timer, so a fast
// test clock cannot expire every exchange); polling waits belong to the caller's Clock.

import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { throwIfAborted } from '../../core/clock.js';
import { CertkeeperError } from '../../core/errors.js';
import { parseHostPort } from '../../core/fields.js';
import { isTruncated } from './message.js';

/** Messages larger than this go over TCP: the classic UDP limit without EDNS (RFC 1035 §4.2.1). */
export const MAX_UDP_MESSAGE = 512;

export interface ExchangeOptions {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Use TCP from the start. */
  tcp?: boolean | undefined;
}

export interface Endpoint {
  host: string;
  port: number;
  family: 4 | 6;
}

/** Parses `host:port` (IPv6 as `[::1]:53`); a host name is looked up with the system resolver. */
export async function resolveEndpoint(server: string): Promise<Endpoint> {
  const parsed = parseHostPort(server);
  if (!parsed) throw new CertkeeperError('DNS_QUERY_FAILED', `"${server}" is not a DNS server address (host:port)`, { retryable: false });
  const family = net.isIP(parsed.host);
  if (family === 4 || family === 6) return { host: parsed.host, port: parsed.port, family };
  try {
    const address = await lookup(parsed.host);
    return { host: address.address, port: parsed.port, family: address.family === 6 ? 6 : 4 };
  } catch (error) {
    throw new CertkeeperError('DNS_QUERY_FAILED', `cannot resolve DNS server ${server}: ${(error as Error).message}`, { cause: error });
  }
}

/** `host:port` for display and for lists of servers; IPv6 in brackets. */
export function formatEndpoint(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Same ID and same question section (names compared case-insensitively). */
export function responseMatches(request: Buffer, response: Buffer): boolean {
  if (response.length < 12 || response.readUInt16BE(0) !== request.readUInt16BE(0)) return false;
  if ((response.readUInt16BE(2) & 0x8000) === 0) return false; // not a response
  const questions = request.readUInt16BE(4);
  // Servers may answer FORMERR etc. without echoing the question; the ID must do then.
  if (response.readUInt16BE(4) === 0) return true;
  if (response.readUInt16BE(4) !== questions) return false;
  const end = questionSectionEnd(request, questions);
  if (end === undefined || response.length < end) return false;
  return response.subarray(12, end).toString('latin1').toLowerCase() === request.subarray(12, end).toString('latin1').toLowerCase();
}

/** End offset of an uncompressed question section (our requests never compress). */
function questionSectionEnd(message: Buffer, count: number): number | undefined {
  let p = 12;
  for (let i = 0; i < count; i++) {
    while (p < message.length && message[p] !== 0) p += message[p]! + 1;
    p += 1 + 4;
  }
  return p <= message.length ? p : undefined;
}

/** Sends `request` to `server` and resolves with the matching response's bytes. */
export async function exchange(server: string, request: Buffer, options: ExchangeOptions): Promise<Buffer> {
  throwIfAborted(options.signal);
  const endpoint = await resolveEndpoint(server);
  if (options.tcp || request.length > MAX_UDP_MESSAGE) return exchangeTcp(server, endpoint, request, options);
  const response = await exchangeUdp(server, endpoint, request, options);
  return isTruncated(response) ? exchangeTcp(server, endpoint, request, options) : response;
}

interface Pending {
  resolve(response: Buffer): void;
  reject(error: unknown): void;
}

/** Runs one socket exchange with a deadline and abort handling; `start` wires up the socket. */
function withDeadline(server: string, transport: string, options: ExchangeOptions, start: (pending: Pending) => () => void): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    let close = (): void => {};
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      close();
      fn();
    };
    const timer = setTimeout(() => {
      settle(() => reject(new CertkeeperError('DNS_QUERY_FAILED', `${server} did not answer within ${options.timeoutMs} ms (${transport})`)));
    }, options.timeoutMs);
    const onAbort = (): void => {
      const error = new Error('DNS exchange aborted');
      error.name = 'AbortError';
      error.cause = options.signal?.reason;
      settle(() => reject(error));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    close = start({
      resolve: (response) => settle(() => resolve(response)),
      reject: (error) =>
        settle(() =>
          reject(new CertkeeperError('DNS_QUERY_FAILED', `${server} (${transport}): ${(error as Error).message ?? String(error)}`, { cause: error })),
        ),
    });
  });
}

function exchangeUdp(server: string, endpoint: Endpoint, request: Buffer, options: ExchangeOptions): Promise<Buffer> {
  return withDeadline(server, 'udp', options, (pending) => {
    const socket = dgram.createSocket(endpoint.family === 6 ? 'udp6' : 'udp4');
    socket.on('error', (error) => pending.reject(error));
    // A connected socket only receives from the server and reports ICMP "port unreachable".
    socket.on('message', (message) => {
      if (responseMatches(request, message)) pending.resolve(message);
    });
    socket.connect(endpoint.port, endpoint.host, () => {
      socket.send(request, (error) => {
        if (error) pending.reject(error);
      });
    });
    return () => {
      try {
        socket.close();
      } catch {
        // already closed after an error
      }
    };
  });
}

function exchangeTcp(server: string, endpoint: Endpoint, request: Buffer, options: ExchangeOptions): Promise<Buffer> {
  return withDeadline(server, 'tcp', options, (pending) => {
    const socket = net.connect({ host: endpoint.host, port: endpoint.port });
    let received = Buffer.alloc(0);
    socket.on('connect', () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(request.length);
      socket.write(Buffer.concat([length, request]));
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2) return;
      const size = received.readUInt16BE(0);
      if (received.length < 2 + size) return;
      const message = received.subarray(2, 2 + size);
      if (responseMatches(request, message)) pending.resolve(message);
      else pending.reject(new Error('response does not match the request (ID or question differs)'));
    });
    socket.on('error', (error) => pending.reject(error));
    socket.on('end', () => pending.reject(new Error('connection closed before a complete response')));
    return () => socket.destroy();
  });
}
