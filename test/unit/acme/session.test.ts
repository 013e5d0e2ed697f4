// The ACME session over its transport, against a scripted in-process ACME server: rate limits
// surface at once with Retry-After, server errors are retried on the injected clock, network
// failures become ACME_UNREACHABLE, and nothing secret reaches the log.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generatePrivateKey } from '../../../src/acme/keys.js';
import { openAcmeSession, type AcmeSession } from '../../../src/acme/session.js';
import { BAD_NONCE_RETRIES } from '../../../src/acme/transport.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger, type Logger } from '../../../src/core/logger.js';
import { freePort } from '../../../src/devstack/ports.js';
import { ManualClock } from '../../helpers/clock.js';

interface Scripted {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** An ACME server whose new-order answers come from a script, one per request. */
async function fakeCa(script: Scripted[]): Promise<{ url: string; orderPosts: () => number; close: () => Promise<void> }> {
  let posts = 0;
  let nonce = 0;
  const server = http.createServer((request, response) => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    response.setHeader('replay-nonce', `nonce-${++nonce}`);
    if (request.url === '/dir') {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ newNonce: `${base}/nonce`, newAccount: `${base}/account`, newOrder: `${base}/order` }));
      return;
    }
    if (request.url === '/nonce') {
      response.statusCode = 200;
      response.end();
      return;
    }
    if (request.url === '/order') {
      request.resume();
      request.on('end', () => {
        const step = script[Math.min(posts, script.length - 1)]!;
        posts++;
        response.statusCode = step.status;
        for (const [name, value] of Object.entries(step.headers ?? {})) response.setHeader(name, value);
        if (step.body !== undefined) {
          response.setHeader('content-type', step.status >= 400 ? 'application/problem+json' : 'application/json');
          response.end(JSON.stringify(step.body));
        } else response.end();
      });
      return;
    }
    response.statusCode = 404;
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dir`;
  return { url, orderPosts: () => posts, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const created: Scripted = {
  status: 201,
  headers: { location: 'http://ca.invalid/order/1' },
  body: { status: 'pending', identifiers: [{ type: 'dns', value: 'a.example' }], authorizations: [], finalize: 'http://ca.invalid/finalize/1' },
};

let accountKeyPem: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  accountKeyPem = await generatePrivateKey('ecdsa-p256');
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function session(directoryUrl: string, clock: ManualClock, extra: { signal?: AbortSignal; logger?: Logger } = {}): Promise<AcmeSession> {
  const opened = await openAcmeSession({
    directoryUrl,
    accountKeyPem,
    accountUrl: 'http://ca.invalid/account/1',
    clock,
    logger: extra.logger ?? silentLogger,
    signal: extra.signal,
  });
  cleanups.push(() => opened.close());
  return opened;
}

async function failureOf(promise: Promise<unknown>): Promise<CertkeeperError> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(CertkeeperError);
  return outcome as CertkeeperError;
}

describe('ACME session errors', () => {
  it('reports a rate limit at once, with Retry-After', async () => {
    const ca = await fakeCa([
      { status: 429, headers: { 'retry-after': '120' }, body: { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many new orders' } },
    ]);
    cleanups.push(ca.close);
    const clock = new ManualClock();
    const error = await failureOf((await session(ca.url, clock)).createOrder(['a.example']));
    expect(error.code).toBe('ACME_RATE_LIMITED');
    expect(error.retryAfterSeconds).toBe(120);
    expect(error.message).toContain('too many new orders');
    expect(ca.orderPosts()).toBe(1);
    expect(clock.now().toISOString()).toBe('2026-11-22T00:00:00.000Z');
  });

  it('retries a 5xx after a pause on the injected clock', async () => {
    const ca = await fakeCa([{ status: 503, body: { type: 'urn:ietf:params:acme:error:serverInternal', detail: 'busy' } }, created]);
    cleanups.push(ca.close);
    const clock = new ManualClock();
    const order = await (await session(ca.url, clock)).createOrder(['a.example']);
    expect(order.url).toBe('http://ca.invalid/order/1');
    expect(ca.orderPosts()).toBe(2);
    expect(clock.now().toISOString()).toBe('2026-11-22T00:00:01.000Z');
  });

  it('does not sit out a long Retry-After on a 5xx: it reports it', async () => {
    const ca = await fakeCa([
      { status: 503, headers: { 'retry-after': '3600' }, body: { type: 'urn:ietf:params:acme:error:serverInternal', detail: 'maintenance' } },
    ]);
    cleanups.push(ca.close);
    const error = await failureOf((await session(ca.url, new ManualClock())).createOrder(['a.example']));
    expect(error.code).toBe('ACME_ERROR');
    expect(error.retryable).toBe(true);
    expect(error.retryAfterSeconds).toBe(3600);
    expect(ca.orderPosts()).toBe(1);
  });

  it('reports a refused connection as ACME_UNREACHABLE after two retries', async () => {
    const clock = new ManualClock();
    const error = await failureOf((await session(`http://127.0.0.1:${await freePort()}/dir`, clock)).createOrder(['a.example']));
    expect(error.code).toBe('ACME_UNREACHABLE');
    expect(error.retryable).toBe(true);
    expect(clock.now().toISOString()).toBe('2026-11-22T00:00:03.000Z');
  });

  it('turns an abort into CANCELLED', async () => {
    const ca = await fakeCa([created]);
    cleanups.push(ca.close);
    const controller = new AbortController();
    controller.abort();
    const error = await failureOf((await session(ca.url, new ManualClock(), { signal: controller.signal })).createOrder(['a.example']));
    expect(error.code).toBe('CANCELLED');
  });

  it('logs no request or response bodies', async () => {
    const ca = await fakeCa([created]);
    cleanups.push(ca.close);
    const lines: string[] = [];
    const record = (...args: unknown[]): void => void lines.push(JSON.stringify(args));
    const logger: Logger = { trace: record, debug: record, info: record, warn: record, error: record, child: () => logger };
    await (await session(ca.url, new ManualClock(), { logger })).createOrder(['a.example']);
    expect(lines.length).toBeGreaterThan(0);
    const text = lines.join('\n');
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toContain('"protected"');
    expect(text).not.toContain('"signature"');
  });
});

describe('badNonce', () => {
  const badNonce: Scripted = { status: 400, body: { type: 'urn:ietf:params:acme:error:badNonce', detail: 'JWS has an invalid anti-replay nonce' } };

  it(`retries up to ${BAD_NONCE_RETRIES} rejections in a row with the fresh nonce each carried (acme-client alone gives up after 5)`, async () => {
    const ca = await fakeCa([...Array.from({ length: 12 }, () => badNonce), created]);
    cleanups.push(ca.close);
    const order = await (await session(ca.url, new ManualClock())).createOrder(['a.example']);
    expect(order.url).toBe('http://ca.invalid/order/1');
    expect(ca.orderPosts()).toBe(13);
  });

  it('gives up after that many, as an ACME error naming badNonce', async () => {
    const ca = await fakeCa([badNonce]);
    cleanups.push(ca.close);
    const error = await failureOf((await session(ca.url, new ManualClock())).createOrder(['a.example']));
    expect(error.code).toBe('ACME_ERROR');
    expect(error.message).toContain('nonce');
    expect(ca.orderPosts()).toBe(BAD_NONCE_RETRIES + 1);
  });
});
