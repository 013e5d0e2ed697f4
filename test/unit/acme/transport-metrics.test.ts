// What the transport tells `onRequest` for metrics: each attempt's status, the ACME resource it
// went to (learnt from the CA's answers, never the URL) and its duration, against a small ACME
// look-alike on 127.0.0.1 that hands out URLs the way a CA does.

import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ACME_ENDPOINTS, AcmeEndpointMap, type AcmeEndpoint, type AcmeRequestInfo } from '../../../src/acme/endpoints.js';
import { AcmeTransport } from '../../../src/acme/transport.js';
import { silentLogger } from '../../../src/core/logger.js';
import { ManualClock } from '../../helpers/clock.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A CA's URL layout: every object URL carries an id, as real ones do. */
async function fakeCa(): Promise<string> {
  let base = '';
  const server = http.createServer((request, response) => {
    const json = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(JSON.stringify(body));
    };
    request.resume();
    switch (request.url) {
      case '/dir':
        return json(200, {
          newNonce: `${base}/nonce-plz`,
          newAccount: `${base}/sign-me-up`,
          newOrder: `${base}/order-plz`,
          revokeCert: `${base}/revoke`,
          keyChange: `${base}/rollover`,
          renewalInfo: `${base}/ari/`,
        });
      case '/nonce-plz':
        response.writeHead(200, { 'replay-nonce': 'n1' });
        return response.end();
      case '/sign-me-up':
        return json(201, { status: 'valid' }, { location: `${base}/acct/8812` });
      case '/order-plz':
        return json(201, { status: 'pending', authorizations: [`${base}/authz/a1`], finalize: `${base}/finalize/o1` }, { location: `${base}/order/o1` });
      case '/order/o1':
        return json(200, { status: 'valid', authorizations: [`${base}/authz/a1`], finalize: `${base}/finalize/o1`, certificate: `${base}/cert/c1` });
      case '/authz/a1':
        return json(200, {
          status: 'pending',
          identifier: { type: 'dns', value: 'a.example' },
          challenges: [{ type: 'dns-01', url: `${base}/chall/x9`, token: 't' }],
        });
      case '/chall/x9':
        return json(200, { type: 'dns-01', status: 'processing' });
      case '/finalize/o1':
        return json(200, { status: 'processing', authorizations: [], finalize: `${base}/finalize/o1` });
      case '/cert/c1':
        response.writeHead(200, { 'content-type': 'application/pem-certificate-chain' });
        return response.end('-----BEGIN CERTIFICATE-----\n');
      case '/ari/AAA.BBB':
        return json(200, { suggestedWindow: { start: '2026-01-01T00:00:00Z', end: '2026-01-02T00:00:00Z' } });
      case '/acct/8812':
        return json(200, { status: 'valid' });
      case '/rate-limited':
        return json(429, { type: 'urn:ietf:params:acme:error:rateLimited' });
      default:
        return json(404, { type: 'urn:ietf:params:acme:error:malformed' });
    }
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return base;
}

interface Seen {
  status: number | undefined;
  info: AcmeRequestInfo | undefined;
}

function transport(seen: Seen[], extra: { directoryUrl?: string; retries?: number } = {}): AcmeTransport {
  return new AcmeTransport({
    clock: new ManualClock(new Date('2026-03-01T00:00:00Z')),
    logger: silentLogger,
    retryDelayMs: 1,
    ...extra,
    onRequest: (status, info) => seen.push({ status, info }),
  });
}

describe('the transport tells onRequest the ACME resource and duration', () => {
  it('labels each step of an order by what the CA said the URL is, never by the URL', async () => {
    const base = await fakeCa();
    const seen: Seen[] = [];
    const client = transport(seen, { directoryUrl: `${base}/dir` });
    const steps: [string, string][] = [
      ['/dir', 'GET'],
      ['/nonce-plz', 'HEAD'],
      ['/sign-me-up', 'POST'],
      ['/acct/8812', 'POST'],
      ['/order-plz', 'POST'],
      ['/authz/a1', 'POST'],
      ['/chall/x9', 'POST'],
      ['/finalize/o1', 'POST'],
      ['/order/o1', 'POST'],
      ['/cert/c1', 'POST'],
      ['/ari/AAA.BBB', 'GET'],
      ['/rollover', 'POST'],
      ['/revoke', 'POST'],
      ['/somewhere-else', 'GET'],
    ];
    for (const [where, method] of steps) await client.request(`${base}${where}`, method, method === 'POST' ? { data: {} } : {});
    const endpoints: AcmeEndpoint[] = seen.map((s) => s.info!.endpoint);
    expect(endpoints).toEqual([
      'directory',
      'newNonce',
      'newAccount',
      'account',
      'newOrder',
      'authz',
      'challenge',
      'finalize',
      'order',
      'certificate',
      'renewalInfo',
      'keyChange',
      'revokeCert',
      'other',
    ]);
    expect(seen.map((s) => s.status)).toEqual([200, 200, 201, 200, 201, 200, 200, 200, 200, 200, 200, 404, 404, 404]);
    for (const { info } of seen) {
      expect(ACME_ENDPOINTS).toContain(info!.endpoint);
      expect(info!.seconds).toBeGreaterThanOrEqual(0);
      expect(info!.seconds).toBeLessThan(60);
    }
  });

  it('learns the directory from its answer when not told its URL, and the order from a fetched order body', async () => {
    const base = await fakeCa();
    const seen: Seen[] = [];
    const client = transport(seen);
    await client.request(`${base}/order/o1`, 'POST', { data: {} }); // a resumed order, before any directory
    await client.request(`${base}/dir`, 'GET');
    await client.request(`${base}/cert/c1`, 'POST', { data: {} });
    expect(seen.map((s) => s.info?.endpoint)).toEqual(['order', 'directory', 'certificate']);
  });

  it('reports a network failure as status undefined, once per attempt, under the endpoint it was meant for', async () => {
    // A port nobody listens on: the connection is refused.
    const idle = net.createServer();
    await new Promise<void>((resolve) => idle.listen(0, '127.0.0.1', resolve));
    const port = (idle.address() as net.AddressInfo).port;
    await new Promise((resolve) => idle.close(resolve));
    const seen: Seen[] = [];
    const directoryUrl = `http://127.0.0.1:${port}/directory`;
    const client = transport(seen, { directoryUrl, retries: 1 });
    await expect(client.request(directoryUrl, 'GET')).rejects.toMatchObject({ code: 'ACME_UNREACHABLE' });
    expect(seen).toHaveLength(2);
    for (const { status, info } of seen) {
      expect(status).toBeUndefined();
      expect(info?.endpoint).toBe('directory');
    }
  });

  it('still accepts a one-argument callback', async () => {
    const base = await fakeCa();
    const statuses: (number | undefined)[] = [];
    const onRequest: (status: number | undefined) => void = (status) => statuses.push(status);
    const client = new AcmeTransport({ clock: new ManualClock(new Date('2026-03-01T00:00:00Z')), logger: silentLogger, onRequest });
    await client.request(`${base}/rate-limited`, 'POST', { data: {} });
    expect(statuses).toEqual([429]);
  });
});

describe('AcmeEndpointMap', () => {
  it('answers only labels from the bounded set, whatever URLs it is shown', () => {
    const map = new AcmeEndpointMap();
    map.learn('https://ca.example/dir', {}, { newNonce: 'https://ca.example/n', newOrder: 'https://ca.example/o', renewalInfo: 'https://ca.example/ari' });
    map.learn('https://ca.example/x/1', {}, { challenges: [null, { url: 42 }, { url: 'https://ca.example/c/1' }] });
    map.learn('https://ca.example/x/2', {}, 'not json');
    const labels = [
      'https://ca.example/dir',
      'https://ca.example/n',
      'https://ca.example/o',
      'https://ca.example/ari/abc.def',
      'https://ca.example/ari-not/abc',
      'https://ca.example/x/1',
      'https://ca.example/c/1',
      'https://ca.example/x/2',
    ].map((url) => map.classify(url, 'POST'));
    expect(labels).toEqual(['directory', 'newNonce', 'newOrder', 'renewalInfo', 'other', 'authz', 'challenge', 'other']);
    for (const label of labels) expect(ACME_ENDPOINTS).toContain(label);
  });
});
