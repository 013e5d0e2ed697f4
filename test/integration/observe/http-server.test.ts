// The agent's HTTP endpoint over real sockets: every route, status codes, IPv6, and the reload
// control endpoint's loopback-only and browser guards.

import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { isCertkeeperError } from '../../../src/core/errors.js';
import type { Logger } from '../../../src/core/logger.js';
import type { StatusRow } from '../../../src/engine/status.js';
import { isLoopback, startHttpServer, type HttpServerHandle, type HttpServerOptions } from '../../../src/observe/http.js';
import { AgentMetrics } from '../../../src/observe/metrics.js';
import type { Readiness } from '../../../src/observe/readiness.js';

const rows: StatusRow[] = [
  {
    name: 'www',
    domains: ['www.example.test'],
    serial: '0A1B',
    notBefore: '2026-01-01T00:00:00.000Z',
    notAfter: '2026-04-01T00:00:00.000Z',
    daysLeft: 31,
    renewAt: '2026-03-02T00:00:00.000Z',
    renewReason: 'not-due',
    renewMessage: 'due at 2026-03-02T00:00:00.000Z (33% of lifetime before expiry)',
    state: 'valid',
    pendingSinks: [],
    lastResult: { at: '2026-01-01T00:00:00.000Z', action: 'issue', result: 'success', error: null },
    consecutiveFailures: 0,
    nextAttemptAt: null,
    configChanged: false,
    issuer: 'default',
  },
];

const warnings: string[] = [];
const logger: Logger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (obj: unknown, msg?: string) => void warnings.push(`${msg ?? ''} ${JSON.stringify(obj)}`),
  error: () => {},
  child: () => logger,
};

const servers: HttpServerHandle[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
  warnings.length = 0;
});

async function start(
  overrides: Partial<HttpServerOptions> = {},
): Promise<{ server: HttpServerHandle; base: string; metrics: AgentMetrics; readiness: Readiness }> {
  const metrics = new AgentMetrics();
  metrics.updateFromStatus(rows);
  const readiness: Readiness = { ready: true, reasons: [] };
  const server = await startHttpServer({
    listen: '127.0.0.1:0',
    metrics,
    status: async () => rows,
    ready: () => readiness,
    onReload: async () => ({ ok: true }),
    logger,
    ...overrides,
  });
  servers.push(server);
  return { server, base: `http://${server.address}`, metrics, readiness };
}

describe('agent HTTP endpoint', () => {
  it('serves metrics, health, readiness and status', async () => {
    const { server, base, readiness } = await start();
    expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);

    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    expect(text).toContain('certkeeper_certificate_expiration_timestamp_seconds{name="www",issuer="default"} 1775001600');
    expect(text).toContain('process_resident_memory_bytes');

    const health = await fetch(`${base}/healthz`);
    expect([health.status, await health.text()]).toEqual([200, 'ok\n']);

    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    readiness.ready = false;
    readiness.reasons.push('no plan has run yet');
    const unready = await fetch(`${base}/readyz`);
    expect(unready.status).toBe(503);
    expect(await unready.json()).toEqual({ ready: false, reasons: ['no plan has run yet'] });

    const status = await fetch(`${base}/status?ignored=1`);
    expect(status.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await status.json()).toEqual(rows);
  });

  it('answers 404 for unknown paths, 405 with Allow for wrong methods, and HEAD without a body', async () => {
    const { base } = await start();
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    const post = await fetch(`${base}/metrics`, { method: 'POST' });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    const get = await fetch(`${base}/reload`);
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
    const head = await fetch(`${base}/healthz`, { method: 'HEAD' });
    expect([head.status, await head.text()]).toEqual([200, '']);
  });

  it('reports a failing status source as 500 and keeps serving', async () => {
    const { base } = await start({ status: async () => Promise.reject(new Error('state dir unreadable')) });
    const response = await fetch(`${base}/status`);
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: 'internal error' });
    expect(warnings.join('\n')).toContain('state dir unreadable');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('POST /reload runs the reload, shares one reload between concurrent requests, and reports a rejected config', async () => {
    let calls = 0;
    let result = { ok: true } as { ok: boolean; error?: string };
    const { base } = await start({
      onReload: async () => {
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 50));
        return result;
      },
    });
    const [a, b] = await Promise.all([fetch(`${base}/reload`, { method: 'POST' }), fetch(`${base}/reload`, { method: 'POST' })]);
    expect([a.status, b.status, calls]).toEqual([200, 200, 1]);
    expect(await a.json()).toEqual({ ok: true });

    result = { ok: false, error: 'certificates[0].dns: no DNS provider named "nope"' };
    const rejected = await fetch(`${base}/reload`, { method: 'POST' });
    expect(rejected.status).toBe(422);
    expect(await rejected.json()).toEqual({ ok: false, error: 'certificates[0].dns: no DNS provider named "nope"' });
    expect(calls).toBe(2);
  });

  it('POST /reload refuses browsers (an Origin header) and answers 501 when reload is not wired', async () => {
    const { base } = await start();
    const fromPage = await fetch(`${base}/reload`, { method: 'POST', headers: { origin: 'https://evil.example' } });
    expect(fromPage.status).toBe(403);
    const { base: bare } = await start({ onReload: undefined });
    expect((await fetch(`${bare}/reload`, { method: 'POST' })).status).toBe(501);
  });

  it('treats only loopback peers as local for POST /reload (tests stay on loopback, so the check is tested as a function)', () => {
    for (const address of ['127.0.0.1', '127.0.0.2', '::1', '::ffff:127.0.0.1']) expect(isLoopback(address), address).toBe(true);
    for (const address of ['10.0.0.1', '192.0.2.7', '::ffff:192.0.2.7', '2001:db8::1', undefined]) expect(isLoopback(address), String(address)).toBe(false);
  });

  it('listens on IPv6 loopback', async () => {
    const { server } = await start({ listen: '[::1]:0' });
    expect(server.address).toMatch(/^\[::1\]:\d+$/);
    const response = await fetch(`http://${server.address}/healthz`);
    expect(response.status).toBe(200);
    expect((await fetch(`http://${server.address}/reload`, { method: 'POST' })).status).toBe(200);
  });

  it('fails to start with CONFIG_INVALID when the port is taken or the address is not host:port', async () => {
    const { server } = await start();
    const error = await startHttpServer({
      listen: server.address,
      metrics: new AgentMetrics({ processMetrics: false }),
      status: async () => [],
      ready: () => ({ ready: true, reasons: [] }),
      logger,
    }).catch((e: unknown) => e);
    expect(isCertkeeperError(error, 'CONFIG_INVALID')).toBe(true);
    expect((error as Error).message).toContain('EADDRINUSE');
    const bad = await startHttpServer({
      listen: 'not a host',
      metrics: new AgentMetrics({ processMetrics: false }),
      status: async () => [],
      ready: () => ({ ready: true, reasons: [] }),
      logger,
    }).catch((e: unknown) => e);
    expect(isCertkeeperError(bad, 'CONFIG_INVALID')).toBe(true);
  });

  it('close() ends idle keep-alive connections promptly', async () => {
    const { server, base } = await start();
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      http
        .get(`${base}/healthz`, { agent }, (response) => {
          response.resume();
          response.on('end', resolve);
        })
        .on('error', reject);
    });
    const started = performance.now();
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    expect(performance.now() - started).toBeLessThan(1000);
    agent.destroy();
  });

  it('knows loopback addresses', () => {
    expect(['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'].every(isLoopback)).toBe(true);
    expect(['192.0.2.2', '::ffff:10.0.0.1', 'fd00::2', '0.0.0.0', undefined].some(isLoopback)).toBe(false);
  });
});
