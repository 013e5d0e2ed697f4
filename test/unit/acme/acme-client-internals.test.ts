// certkeeper sends every ACME request through its own transport by replacing a private part of
// acme-client: `Client.http.request` (src/acme/transport.ts installTransport). acme-client is
// pinned to ~5.4 for that reason. These tests fail loudly when a release moves that shape: the
// private members must exist, and a real exchange (directory, nonce, signed POST) must reach the
// server through the transport, with acme-client's own axios instance never called.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { openAcmeSession } from '../../../src/acme/session.js';
import { BAD_NONCE_RETRIES } from '../../../src/acme/transport.js';
import { silentLogger } from '../../../src/core/logger.js';
import { ManualClock } from '../../helpers/clock.js';

const require = createRequire(import.meta.url);

interface Seen {
  method: string;
  path: string;
  contentType: string | undefined;
}

/** The smallest ACME server that lets acme-client register an account: directory, nonce, newAccount. */
async function startAcmeServer(): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  let nonce = 0;
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', path: req.url ?? '', contentType: req.headers['content-type'] });
    const base = `http://${req.headers.host}`;
    res.setHeader('replay-nonce', `nonce-${++nonce}`);
    req.resume();
    req.on('end', () => {
      if (req.url === '/dir') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ newNonce: `${base}/nonce`, newAccount: `${base}/acct`, newOrder: `${base}/order`, meta: {} }));
      } else if (req.url === '/nonce') {
        res.statusCode = req.method === 'HEAD' ? 200 : 204;
        res.end();
      } else if (req.url === '/acct') {
        res.statusCode = 201;
        res.setHeader('location', `${base}/acct/1`);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ status: 'valid', contact: [] }));
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/dir`, seen, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const accountKeyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

describe('acme-client internals certkeeper relies on', () => {
  const restore: Array<() => void> = [];
  afterEach(() => {
    for (const undo of restore.splice(0)) undo();
  });

  it('is the 5.4 line the transport was written against', () => {
    const pkg = require('acme-client/package.json') as { version: string };
    expect(pkg.version, 'acme-client moved past 5.4: re-check src/acme/transport.ts installTransport against its HttpClient, then widen the pin').toMatch(
      /^5\.4\./,
    );
  });

  it('keeps its HttpClient at Client.http, with request() and maxBadNonceRetries', async () => {
    const acme = await import('acme-client');
    const client = new acme.Client({ directoryUrl: 'http://127.0.0.1:9/dir', accountKey: accountKeyPem });
    const internals = (client as unknown as { http?: Record<string, unknown> }).http;
    expect(internals, 'acme-client has no Client.http: installTransport cannot route its requests').toBeDefined();
    expect(typeof internals?.request, 'Client.http.request is gone: installTransport cannot route its requests').toBe('function');
    expect(typeof internals?.maxBadNonceRetries, 'Client.http.maxBadNonceRetries is gone: badNonce retries fall back to 5').toBe('number');
  });

  it('sends a whole exchange through the transport and never through its own axios', async () => {
    const acme = await import('acme-client');
    // acme-client exports the axios instance its HttpClient would use: any call into it fails the test.
    const instance = acme.axios as unknown as Record<string, unknown>;
    for (const method of ['request', 'get', 'head', 'post']) {
      const original = instance[method];
      instance[method] = () => {
        throw new Error(`acme-client called axios.${method}: its HTTP bypassed certkeeper's transport`);
      };
      restore.push(() => {
        instance[method] = original;
      });
    }
    const server = await startAcmeServer();
    restore.push(() => void server.close());

    const session = await openAcmeSession({ directoryUrl: server.url, accountKeyPem, clock: new ManualClock(), logger: silentLogger });
    const accountUrl = await session.registerAccount('ops@example.test');

    expect(accountUrl).toMatch(/\/acct\/1$/);
    // The directory, a fresh nonce, then the signed newAccount POST: each one reached the server,
    // and the POST carried the JWS content type the transport sets.
    expect(server.seen.map((s) => `${s.method} ${s.path}`)).toEqual(['GET /dir', 'HEAD /nonce', 'POST /acct']);
    expect(server.seen[2]?.contentType).toBe('application/jose+json');
  });

  it("takes the transport's badNonce retry budget", async () => {
    const acme = await import('acme-client');
    const { AcmeTransport, installTransport } = await import('../../../src/acme/transport.js');
    const client = new acme.Client({ directoryUrl: 'http://127.0.0.1:9/dir', accountKey: accountKeyPem });
    installTransport(client, new AcmeTransport({ clock: new ManualClock(), logger: silentLogger }));
    expect((client as unknown as { http: { maxBadNonceRetries: number } }).http.maxBadNonceRetries).toBe(BAD_NONCE_RETRIES);
  });
});
