// GET / on the agent's HTTP endpoint: the status page with its Content-Security-Policy, a detail
// view per certificate, 404 for an unknown one, and no method that acts.

import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import type { StatusRow } from '../../../src/engine/status.js';
import { startHttpServer, type HttpServerHandle } from '../../../src/observe/http.js';
import { AgentMetrics } from '../../../src/observe/metrics.js';
import { servePage } from '../../../src/observe/page/agent.js';

const row: StatusRow = {
  name: 'www',
  domains: ['www.example.test'],
  serial: '0A1B',
  notBefore: '2026-01-01T00:00:00.000Z',
  notAfter: '2026-04-01T00:00:00.000Z',
  daysLeft: 31,
  renewAt: '2026-03-02T00:00:00.000Z',
  renewReason: 'not-due',
  renewMessage: '',
  state: 'valid',
  pendingSinks: [],
  lastResult: { at: '2026-01-01T00:00:00.000Z', action: 'issue', result: 'success', error: null },
  consecutiveFailures: 0,
  nextAttemptAt: null,
  configChanged: false,
  issuer: 'default',
};

/** One array, as the agent publishes one after each plan: /status and the page see the same set. */
const rows = [row];
const servers: HttpServerHandle[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(withPage: boolean): Promise<string> {
  const server = await startHttpServer({
    listen: '127.0.0.1:0',
    metrics: new AgentMetrics(),
    status: async () => rows,
    ready: () => ({ ready: true, reasons: [] }),
    logger: silentLogger,
    ...(withPage
      ? {
          page: (query: URLSearchParams) =>
            servePage(
              {
                now: () => new Date('2026-03-01T00:00:00.000Z'),
                config: () => ({ agentId: 'a1', certificates: [{ name: 'www', sinks: ['files'] }] as never, watch: undefined }),
                rows: () => rows,
                endpoints: async () => [],
                store: () => ({ readHistory: async () => [] }),
              },
              query,
            ),
        }
      : {}),
  });
  servers.push(server);
  return `http://${server.address}`;
}

describe('GET /', () => {
  it('serves the page self-contained, with a detail view per certificate', async () => {
    const base = await start(true);
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'.*script-src 'sha256-[^']+'.*connect-src 'self'/);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await page.text()).toContain('data-name="www"');
    const detail = await fetch(`${base}/?cert=www`);
    expect(detail.status).toBe(200);
    expect(await detail.text()).toContain('<td>files</td>');
    expect((await fetch(`${base}/?cert=nope`)).status).toBe(404);
    const head = await fetch(`${base}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('answers an unchanged /status with 304 to the ETag the page carries, so polling a large fleet costs no body', async () => {
    const base = await start(true);
    const page = await (await fetch(`${base}/`)).text();
    const etag = /<main id="live" data-etag="([^"]+)"/.exec(page)?.[1]?.replaceAll('&quot;', '"');
    const status = await fetch(`${base}/status`);
    expect(status.headers.get('etag')).toBe(etag);
    expect((await status.json()) as unknown[]).toHaveLength(1);
    const again = await fetch(`${base}/status`, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    expect((await fetch(`${base}/status`, { headers: { 'if-none-match': '"other"' } })).status).toBe(200);
  });

  it('accepts no method that could act, and answers 404 when the agent serves no page', async () => {
    const base = await start(true);
    const post = await fetch(`${base}/`, { method: 'POST', headers: { origin: 'http://evil.example' } });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${await start(false)}/`)).status).toBe(404);
  });
});
