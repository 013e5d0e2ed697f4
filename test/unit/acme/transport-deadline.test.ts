// The transport's overall deadline against "slowloris" servers on 127.0.0.1 that send a byte a
// second forever: never idle long enough for the socket timeout, never done. The request must
// fail with DEADLINE_EXCEEDED at the deadline, not be retried, and close the connection.

import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AcmeTransport } from '../../../src/acme/transport.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { ManualClock } from '../../helpers/clock.js';

const servers: net.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    (server as http.Server).closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  }
});

interface Slowloris {
  url: string;
  /** Requests (or connections) received. */
  received: number;
  /** Connections the client closed. */
  closed: number;
}

async function listen(server: net.Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** Answers 200 with JSON headers at once, then a space a second in the body. */
async function drippingBody(): Promise<Slowloris> {
  const state: Slowloris = { url: '', received: 0, closed: 0 };
  const server = http.createServer((request, response) => {
    state.received++;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.write(' ');
    const drip = setInterval(() => response.write(' '), 1000);
    response.on('close', () => {
      clearInterval(drip);
      state.closed++;
    });
  });
  state.url = `http://127.0.0.1:${await listen(server)}/acme/chall/1`;
  return state;
}

/** Sends the status line itself one byte a second: the response never even starts. */
async function drippingStatusLine(): Promise<Slowloris> {
  const state: Slowloris = { url: '', received: 0, closed: 0 };
  const server = net.createServer((socket) => {
    state.received++;
    const line = Buffer.from('HTTP/1.1 200 OK\r\nX-Padding: ' + 'a'.repeat(1000));
    let sent = 0;
    const drip = setInterval(() => socket.write(line.subarray(sent, ++sent)), 1000);
    socket.on('close', () => {
      clearInterval(drip);
      state.closed++;
    });
    socket.on('error', () => {});
  });
  state.url = `http://127.0.0.1:${await listen(server)}/acme/finalize/1`;
  return state;
}

function transport(options: { deadlineMs?: number; onRequest?: (status: number | undefined) => void } = {}): AcmeTransport {
  // Idle timeout far above the drip interval: only the overall deadline can end these requests.
  return new AcmeTransport({ clock: new ManualClock(), logger: silentLogger, idleTimeoutMs: 30_000, retries: 2, ...options });
}

async function failureOf(promise: Promise<unknown>): Promise<CertkeeperError> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(CertkeeperError);
  return outcome as CertkeeperError;
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('the overall request deadline', () => {
  it('ends a POST whose answer body trickles in, without retrying it, and closes the connection', async () => {
    const server = await drippingBody();
    const statuses: (number | undefined)[] = [];
    const client = transport({ deadlineMs: 2_000, onRequest: (status) => statuses.push(status) });
    const error = await failureOf(client.request(server.url, 'post', { data: { payload: '' } }));
    client.close();
    expect(error.code).toBe('DEADLINE_EXCEEDED');
    expect(error.retryable).toBe(true);
    expect(error.details).toMatchObject({ scope: 'request', deadlineMs: 2_000, url: server.url });
    expect(error.message).toContain('POST /acme/chall/1');
    expect(server.received).toBe(1);
    expect(statuses).toEqual([undefined]);
    await until(() => server.closed === 1);
  }, 20_000);

  it('ends a request whose status line trickles in', async () => {
    const server = await drippingStatusLine();
    const client = transport({ deadlineMs: 2_000 });
    try {
      const error = await failureOf(client.request(server.url, 'post', { data: { payload: '' } }));
      expect(error.code).toBe('DEADLINE_EXCEEDED');
      expect(error.details?.scope).toBe('request');
      expect(server.received).toBe(1);
      await until(() => server.closed === 1);
    } finally {
      client.close();
    }
  }, 20_000);

  it('leaves prompt answers alone', async () => {
    const server = http.createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{"ok":true}');
    });
    const url = `http://127.0.0.1:${await listen(server)}/dir`;
    const client = transport({ deadlineMs: 2_000 });
    try {
      expect((await client.request(url, 'get')).data).toEqual({ ok: true });
      expect((await client.request(url, 'get')).status).toBe(200);
    } finally {
      client.close();
    }
  });
});
