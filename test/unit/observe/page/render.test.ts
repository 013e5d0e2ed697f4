// The status page's pure parts: order, attention, timeline geometry, escaping, redaction,
// pagination at 10,000 certificates, and that nothing on it loads from elsewhere or acts.

import { describe, expect, it } from 'vitest';
import type { StatusRow } from '../../../../src/engine/status.js';
import { registerSecrets } from '../../../../src/core/redaction.js';
import type { WatchResult } from '../../../../src/core/endpoint-results.js';
import {
  attentionItems,
  axisFor,
  certSpan,
  endpointSpan,
  paginate,
  position,
  timeline,
  worstFirst,
  type PageData,
} from '../../../../src/observe/page/model.js';
import { renderDetail, renderPage } from '../../../../src/observe/page/render.js';
import { sinkDeploys } from '../../../../src/observe/page/source.js';
import { POLL_SCRIPT, POLL_SCRIPT_HASH } from '../../../../src/observe/page/script.js';
import { createHash } from 'node:crypto';

const NOW = new Date('2026-06-01T00:00:00.000Z');
const DAY = 86_400_000;
const iso = (days: number): string => new Date(NOW.getTime() + days * DAY).toISOString();

function row(name: string, over: Partial<StatusRow> = {}): StatusRow {
  return {
    name,
    domains: [`${name}.example.test`],
    serial: `SERIAL${name.toUpperCase()}`,
    notBefore: iso(-30),
    notAfter: iso(60),
    daysLeft: 60,
    renewAt: iso(30),
    renewReason: 'not-due',
    renewMessage: '',
    renewRule: 'threshold',
    state: 'valid',
    pendingSinks: [],
    lastResult: { at: iso(-30), action: 'issue', result: 'success', error: null },
    consecutiveFailures: 0,
    nextAttemptAt: null,
    configChanged: false,
    issuer: 'default',
    ...over,
  };
}

const failing = row('broken', {
  state: 'failing',
  consecutiveFailures: 3,
  nextAttemptAt: iso(0.1),
  notAfter: iso(5),
  lastResult: { at: iso(-0.01), action: 'renew', result: 'failure', error: 'DNS API said 401 <b>' },
});
const expired = row('old', { state: 'expired', notBefore: iso(-100), notAfter: iso(-10) });
const pending = row('half', { pendingSinks: ['nginx'] });
const valid = row('fine');

function endpoint(over: Partial<WatchResult> = {}): WatchResult {
  const leaf = {
    subject: 'CN=svc',
    issuer: 'CN=inter',
    serial: 'AB',
    notBefore: iso(-10),
    notAfter: iso(80),
    names: ['svc.example.test'],
    fingerprint256: 'x',
  };
  const inter = { ...leaf, subject: 'CN=inter', issuer: 'CN=root', notAfter: iso(4) };
  return {
    endpoint: 'svc:443',
    address: '127.0.0.1:443',
    sni: 'svc.example.test',
    protocol: 'tls',
    reachable: true,
    failure: null,
    error: null,
    at: iso(0),
    durationMs: 3,
    leaf,
    chain: [leaf, inter],
    trusted: true,
    trustError: null,
    nameMatch: true,
    nameError: null,
    ok: false,
    problems: [],
    messages: ['the intermediate CN=inter expires in 4 days'],
    daysLeft: 80,
    alert: { alert: true, reason: 'threshold', severity: 'critical', thresholdDays: 7 },
    drift: null,
    ...over,
  } as WatchResult;
}

const data = (certificates: StatusRow[], endpoints: WatchResult[] = []): PageData => ({
  now: NOW,
  agentId: 'agent-1',
  certificates,
  endpoints,
  alertDays: [21, 7, 1],
});

describe('status page model', () => {
  it('puts failing certificates first, then expired, then by expiry', () => {
    expect(worstFirst([valid, pending, expired, failing]).map((r) => r.name)).toEqual(['broken', 'old', 'fine', 'half']);
  });

  it('lists what needs attention: the failure with its error and next try, the expiry, the pending sink, an endpoint whose intermediate expires', () => {
    const items = attentionItems(data([valid, pending, expired, failing], [endpoint()]));
    expect(items.map((i) => [i.kind, i.subject])).toEqual([
      ['failing', 'broken'],
      ['expired', 'old'],
      ['pending-sinks', 'half'],
      ['endpoint', 'svc:443'],
    ]);
    expect(items[0]).toMatchObject({ detail: 'DNS API said 401 <b>', nextTry: iso(0.1) });
  });

  it('places bars, now, renewAt, the ARI window and thresholds by their dates on a shared axis', () => {
    const axis = { start: NOW.getTime() - 50 * DAY, end: NOW.getTime() + 50 * DAY };
    const line = timeline(
      axis,
      NOW,
      certSpan(row('x', { notBefore: iso(-25), notAfter: iso(25) })),
      { renewAt: iso(5), ari: { start: iso(0), end: iso(10) } },
      [21, 7, 1],
    );
    expect(line.now).toBe(500);
    expect(line.bar).toEqual({ x: 250, width: 500, cutStart: false, cutEnd: false });
    expect(line.renewAt).toBe(550);
    expect(line.ari).toEqual({ x: 500, width: 100 });
    expect(line.thresholds).toEqual([
      { days: 21, x: 540 },
      { days: 7, x: 680 },
      { days: 1, x: 740 },
    ]);
    // A 5-year certificate is cut at the axis instead of squashing the others.
    const long = axisFor([{ start: NOW.getTime(), end: NOW.getTime() + 5 * 365 * DAY }], NOW);
    expect(long.end - NOW.getTime()).toBe(400 * DAY);
    expect(position(long, NOW.getTime() + 5 * 365 * DAY)).toBe(1000);
  });

  it("an endpoint's bar ends at the earliest expiry in its chain and names the intermediate", () => {
    expect(endpointSpan(endpoint())).toEqual({ start: Date.parse(iso(-10)), end: Date.parse(iso(4)), intermediate: 'CN=inter' });
  });

  it('paginates 10,000 certificates, worst first, 100 to a page', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => row(`c${i}`, { notAfter: iso(10 + (i % 80)) }));
    many[9_999] = failing;
    const html = renderPage(data(many), { live: true, page: 1 });
    expect((html.match(/<li class="row"/g) ?? []).length).toBe(100);
    expect(html.indexOf('data-name="broken"')).toBeLessThan(html.indexOf('data-name="c0"'));
    expect(html).toContain('page 1 of 100');
    expect(paginate(many, 500).page).toBe(100);
    expect(paginate(many, Number.NaN).page).toBe(1);
  });

  it('tells each sink where the certificate was last deployed', () => {
    const history = [
      {
        at: iso(-1),
        cert: 'half',
        action: 'deploy' as const,
        result: 'failure' as const,
        serial: 'S2',
        notAfter: null,
        durationMs: 1,
        error: 'x',
        sink: 'nginx',
      },
      {
        at: iso(-2),
        cert: 'half',
        action: 'deploy' as const,
        result: 'success' as const,
        serial: 'S1',
        notAfter: null,
        durationMs: 1,
        error: null,
        sink: 'nginx',
      },
      {
        at: iso(-2),
        cert: 'half',
        action: 'deploy' as const,
        result: 'success' as const,
        serial: 'S2',
        notAfter: null,
        durationMs: 1,
        error: null,
        sink: 'files',
      },
    ];
    expect(sinkDeploys(pending, ['files', 'nginx'], history)).toEqual([
      { name: 'files', serial: 'S2', at: iso(-2), current: true },
      { name: 'nginx', serial: 'S1', at: iso(-2), current: false },
    ]);
  });
});

describe('status page HTML', () => {
  it('escapes every value, redacts known secrets once more, and has nothing that acts or loads from elsewhere', () => {
    registerSecrets(['hunter2-tsig-secret']);
    const sneaky = row('<img src=x onerror=alert(1)>', {
      state: 'failing',
      lastResult: { at: iso(0), action: 'renew', result: 'failure', error: 'auth failed with hunter2-tsig-secret' },
    });
    const html = renderPage(data([sneaky, valid], [endpoint()]), { live: true });
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toContain('hunter2-tsig-secret');
    expect(html).toContain('[REDACTED]');
    expect(html).not.toMatch(/<(form|button|input|iframe|link|img)\b/i);
    expect(html).not.toMatch(/\b(src|href)="(https?:)?\/\//i);
    expect(html).not.toMatch(/@import|url\(/);
    // The one script is allowed by its hash, and only in the live page.
    expect(POLL_SCRIPT_HASH).toBe(`sha256-${createHash('sha256').update(POLL_SCRIPT).digest('base64')}`);
    expect(html).toContain(POLL_SCRIPT_HASH);
    const report = renderPage(data([valid]), { live: false });
    expect(report).not.toContain('<script');
    expect(report).toContain('script-src &#39;none&#39;'); // in the meta CSP, escaped
  });

  it('shows state by word and mark as well as colour', () => {
    const html = renderPage(data([failing, expired, valid]), { live: false });
    expect(html).toMatch(/class="badge s-failing">✖ failing</);
    expect(html).toMatch(/class="badge s-expired">■ expired</);
    expect(html).toMatch(/class="badge s-valid">✔ valid</);
  });

  it('renders a detail view with domains, issuer, serial, sinks and an outcome strip', () => {
    const history = [
      {
        at: iso(-0.01),
        cert: 'broken',
        action: 'renew' as const,
        result: 'failure' as const,
        serial: null,
        notAfter: null,
        durationMs: 1,
        error: 'DNS API said 401',
      },
      {
        at: iso(-30),
        cert: 'broken',
        action: 'deploy' as const,
        result: 'success' as const,
        serial: 'SERIALBROKEN',
        notAfter: null,
        durationMs: 1,
        error: null,
        sink: 'files',
      },
    ];
    const html = renderDetail(
      { row: failing, history, sinks: sinkDeploys(failing, ['files'], history) },
      { now: NOW, agentId: null, endpoints: [], alertDays: [21, 7, 1] },
      { live: true },
    );
    expect(html).toContain('broken.example.test');
    expect(html).toContain('SERIALBROKEN');
    expect(html).toMatch(/<td>files<\/td>/);
    expect((html.match(/<li class="o-/g) ?? []).length).toBe(2);
    expect(html).toContain('DNS API said 401');
  });
});
