// A small ACME-aware proxy in front of Pebble (test code only). Pebble 2.4 has no ARI, no
// profiles and no rate limits; this adds them on the wire. It listens on HTTPS (loopback, its own
// throw-away CA: trust `caBundlePem`) and forwards to Pebble over HTTPS with the proxy's Host, so
// every URL Pebble puts in its answers (and checks in the JWS "url") points back at the proxy.
//
//   - the directory gains `renewalInfo` (when `ari` is on) and `meta.profiles` (when set);
//   - GET renewalInfo/<id> answers the window the test chose for that id (404 when none);
//   - newOrder payloads are decoded (base64url JSON) and their `replaces`/`profile` recorded;
//   - newOrder can be refused: `replaces` or `notAfter` rejected, 503, or rateLimited with Retry-After;
//   - with `failValidation`, every authorization whose challenge the client answers reads back
//     "invalid" with an "unauthorized" error, as when the CA finds no matching TXT record;
//   - with `stall`, the chosen requests are answered "200" and then one byte a second, forever
//     (a slowloris CA: never idle long enough for a socket timeout, never done).

import { readFileSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { freePort } from '../../src/devstack/ports.js';
import { localTlsIdentity } from '../../src/devstack/tls.js';
import type { PebbleInstance } from '../../src/devstack/pebble.js';
import type { Stack } from '../../src/devstack/stack.js';
import { writeConfig, type ConfigParts } from './cli.js';

export interface RenewalWindowAnswer {
  start: Date;
  end: Date;
  explanationURL?: string;
  /** Seconds; default 21600. */
  retryAfter?: number;
}

export interface RecordedOrder {
  identifiers: string[];
  replaces?: string;
  profile?: string;
  notAfter?: string;
  /** What the proxy answered: `forwarded` or the fault it injected. */
  answer: 'forwarded' | 'rejected-replaces' | 'rejected-notafter' | 'unavailable' | 'rate-limited' | 'unknown-profile';
}

export type OrderFault = { kind: 'unavailable' } | { kind: 'rate-limited'; retryAfterSeconds: number };

export interface AcmeProxy {
  readonly directoryUrl: string;
  /** The CA of the proxy's HTTPS certificate (for a config's caBundle). */
  readonly caBundlePem: string;
  /** Offer ARI in the directory (default true). */
  ari: boolean;
  /** `meta.profiles` to advertise (name → description); undefined: none. */
  profiles: Record<string, string> | undefined;
  /** Per ARI certificate id, the window to answer. */
  readonly windows: Map<string, RenewalWindowAnswer>;
  /** Refuse orders that carry `replaces` (400 malformed), as some CAs do. */
  rejectReplaces: boolean;
  /** Refuse orders that carry `notAfter` (400 malformed), as Let's Encrypt does. */
  rejectNotAfter: boolean;
  /** Answered challenges fail: their authorization reads back "invalid". */
  failValidation: boolean;
  /** Identifiers of the authorizations failed that way. */
  readonly failedAuthorizations: string[];
  /** Injected on every newOrder until cleared. */
  orderFault: OrderFault | undefined;
  readonly orders: RecordedOrder[];
  readonly renewalInfoRequests: string[];
  /** Every request that reached the proxy (method and path). */
  readonly requests: string[];
  /** Requests to drip-feed instead of answering (given method and path); undefined: none. */
  stall: ((method: string, path: string) => boolean) | undefined;
  /** The requests drip-fed so far (method and path). */
  readonly stalled: string[];
  stop(): Promise<void>;
}

const RENEWAL_INFO_PATH = '/renewal-info';

export async function startAcmeProxy(pebble: PebbleInstance): Promise<AcmeProxy> {
  const port = await freePort();
  const identity = await localTlsIdentity({ caName: 'certkeeper test ACME proxy CA', days: 2 });
  const upstream = new URL(pebble.directoryUrl);
  const agent = new https.Agent({ ca: pebble.caBundlePem, keepAlive: false });
  const host = `127.0.0.1:${port}`;
  let newOrderPath: string | undefined;
  /** Authorization paths whose challenge was answered while failValidation was on (they read back invalid). */
  const failing = new Set<string>();
  const reported = new Set<string>();

  const proxy: AcmeProxy = {
    directoryUrl: `https://${host}${upstream.pathname}`,
    caBundlePem: identity.caPem,
    ari: true,
    profiles: undefined,
    windows: new Map(),
    rejectReplaces: false,
    rejectNotAfter: false,
    failValidation: false,
    failedAuthorizations: [],
    orderFault: undefined,
    orders: [],
    renewalInfoRequests: [],
    requests: [],
    stall: undefined,
    stalled: [],
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };

  const forward = (request: http.IncomingMessage, body: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const headers = { ...request.headers, host, 'x-forwarded-proto': 'https' };
      const upstreamRequest = https.request(
        { hostname: upstream.hostname, port: upstream.port, path: request.url, method: request.method, headers, agent },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 502, headers: response.headers, body: Buffer.concat(chunks) }));
          response.on('error', reject);
        },
      );
      upstreamRequest.on('error', reject);
      upstreamRequest.end(body);
    });

  const problem = (response: http.ServerResponse, status: number, type: string, detail: string, headers: Record<string, string> = {}): void => {
    response.writeHead(status, { 'content-type': 'application/problem+json', ...headers });
    response.end(JSON.stringify({ type: `urn:ietf:params:acme:error:${type}`, detail, status }));
  };

  const server = https.createServer({ cert: identity.certPem, key: identity.keyPem }, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      void handle(request, response, Buffer.concat(chunks)).catch((error: unknown) => {
        if (!response.headersSent) problem(response, 502, 'serverInternal', `proxy: ${String(error)}`);
        else response.destroy();
      });
    });
  });

  async function handle(request: http.IncomingMessage, response: http.ServerResponse, body: Buffer): Promise<void> {
    const path = request.url ?? '/';
    proxy.requests.push(`${request.method} ${path}`);

    if (proxy.stall?.(request.method ?? 'GET', path)) {
      proxy.stalled.push(`${request.method} ${path}`);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write(' ');
      const drip = setInterval(() => response.write(' '), 1000);
      response.on('close', () => clearInterval(drip));
      return;
    }

    if (request.method === 'GET' && path.startsWith(`${RENEWAL_INFO_PATH}/`)) {
      const id = decodeURIComponent(path.slice(RENEWAL_INFO_PATH.length + 1));
      proxy.renewalInfoRequests.push(id);
      const window = proxy.windows.get(id);
      if (!window) return problem(response, 404, 'malformed', `no renewal information for ${id}`);
      response.writeHead(200, { 'content-type': 'application/json', 'retry-after': String(window.retryAfter ?? 21600) });
      response.end(
        JSON.stringify({
          suggestedWindow: { start: window.start.toISOString(), end: window.end.toISOString() },
          ...(window.explanationURL ? { explanationURL: window.explanationURL } : {}),
        }),
      );
      return;
    }

    if (request.method === 'POST' && newOrderPath !== undefined && path === newOrderPath) {
      const jws = JSON.parse(body.toString('utf8')) as { payload: string };
      const payload = JSON.parse(Buffer.from(jws.payload, 'base64url').toString('utf8')) as {
        identifiers: { value: string }[];
        replaces?: string;
        profile?: string;
        notAfter?: string;
      };
      const order: RecordedOrder = {
        identifiers: payload.identifiers.map((i) => i.value),
        ...(payload.replaces !== undefined ? { replaces: payload.replaces } : {}),
        ...(payload.profile !== undefined ? { profile: payload.profile } : {}),
        ...(payload.notAfter !== undefined ? { notAfter: payload.notAfter } : {}),
        answer: 'forwarded',
      };
      proxy.orders.push(order);
      const fault = proxy.orderFault;
      if (fault?.kind === 'unavailable') {
        order.answer = 'unavailable';
        return problem(response, 503, 'serverInternal', 'the CA is down for maintenance', { 'retry-after': '0' });
      }
      if (fault?.kind === 'rate-limited') {
        order.answer = 'rate-limited';
        return problem(response, 429, 'rateLimited', 'too many new orders recently', { 'retry-after': String(fault.retryAfterSeconds) });
      }
      if (proxy.rejectReplaces && payload.replaces !== undefined) {
        order.answer = 'rejected-replaces';
        return problem(response, 400, 'malformed', 'this CA does not accept "replaces"');
      }
      if (proxy.rejectNotAfter && payload.notAfter !== undefined) {
        order.answer = 'rejected-notafter';
        return problem(response, 400, 'malformed', 'NotBefore and NotAfter are not supported');
      }
      if (payload.profile !== undefined && proxy.profiles && !(payload.profile in proxy.profiles)) {
        order.answer = 'unknown-profile';
        return problem(response, 400, 'invalidProfile', `unknown profile ${payload.profile}`);
      }
    }

    const answer = await forward(request, body);
    if (proxy.failValidation && request.method === 'POST' && /\/chal[^/]*\//.test(path) && answer.status === 200) {
      // The client answered a challenge: its authorization (Link rel="up") fails from now on.
      const up = /<([^>]+)>;\s*rel="up"/.exec(String(answer.headers.link ?? ''))?.[1];
      if (up) failing.add(new URL(up).pathname);
    }
    if (request.method === 'POST' && failing.has(path) && answer.status === 200) {
      const authz = JSON.parse(answer.body.toString('utf8')) as { identifier: { value: string }; status: string; challenges: Record<string, unknown>[] };
      if (!reported.has(path)) proxy.failedAuthorizations.push(authz.identifier.value);
      reported.add(path);
      authz.status = 'invalid';
      authz.challenges = authz.challenges.map((challenge) =>
        challenge.type === 'dns-01'
          ? {
              ...challenge,
              status: 'invalid',
              error: {
                type: 'urn:ietf:params:acme:error:unauthorized',
                detail: `Incorrect TXT record found at _acme-challenge.${authz.identifier.value}`,
                status: 403,
              },
            }
          : challenge,
      );
      answer.body = Buffer.from(JSON.stringify(authz));
    }
    if (request.method === 'GET' && path === upstream.pathname && answer.status === 200) {
      const directory = JSON.parse(answer.body.toString('utf8')) as Record<string, unknown> & { newOrder?: string; meta?: Record<string, unknown> };
      if (directory.newOrder) newOrderPath = new URL(directory.newOrder).pathname;
      if (proxy.ari) directory.renewalInfo = `https://${host}${RENEWAL_INFO_PATH}`;
      if (proxy.profiles) directory.meta = { ...(directory.meta ?? {}), profiles: proxy.profiles };
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(directory));
      return;
    }
    const headers: http.OutgoingHttpHeaders = { ...answer.headers };
    delete headers['content-length'];
    delete headers['transfer-encoding'];
    delete headers.connection;
    response.writeHead(answer.status, headers);
    response.end(answer.body);
  }

  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  // Learn newOrder's path before the first client asks.
  await new Promise<void>((resolve, reject) => {
    https.get(proxy.directoryUrl, { ca: identity.caPem }, (response) => response.resume().on('end', resolve)).on('error', reject);
  });
  proxy.requests.length = 0;
  return proxy;
}

/**
 * A CLI config (test/helpers/cli.ts writeConfig) whose CA is the proxy, trusting both Pebble's
 * and the proxy's CA.
 */
export function proxyConfig(dir: string, stack: Stack, proxy: AcmeProxy, parts: ConfigParts): string {
  const file = writeConfig(dir, stack, parts);
  const text = readFileSync(file, 'utf8').replace(`directory: ${stack.pebble.directoryUrl}`, `directory: ${proxy.directoryUrl}`);
  if (!text.includes(proxy.directoryUrl)) throw new Error(`could not point ${file} at the proxy`);
  writeFileSync(file, text);
  trustProxy(dir, stack, proxy);
  return file;
}

/** The work dir's CA bundle (pebble-ca.pem) trusts Pebble; add the proxy's CA beside it. */
export function trustProxy(dir: string, stack: Stack, proxy: AcmeProxy): void {
  writeFileSync(path.join(dir, 'pebble-ca.pem'), `${stack.pebble.caBundlePem}${proxy.caBundlePem}`);
}
