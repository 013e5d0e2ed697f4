import perfHooks from 'node:perf_hooks';
import { describe, expect, it, vi } from 'vitest';
import type { StatusRow } from '../../../src/engine/status.js';
import type { AgentEvent } from '../../../src/observe/events.js';
import { AgentMetrics, acmeRequestResult, acmeRequestStatus, EVENT_LOOP_MONITORING_PRECISION_MS, isReady } from '../../../src/observe/metrics.js';

/** Prometheus text exposition → { 'name{a="b",c="d"}': value } (labels sorted as written). */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    samples.set(match[1]!, Number(match[2]));
  }
  return samples;
}

function row(overrides: Partial<StatusRow> & { name: string }): StatusRow {
  return {
    domains: [`${overrides.name}.example.com`],
    serial: 'AB12',
    notBefore: '2026-01-01T00:00:00.000Z',
    notAfter: '2026-04-01T00:00:00.000Z',
    daysLeft: 30,
    renewAt: '2026-03-02T00:00:00.000Z',
    renewReason: 'not-due',
    renewMessage: '',
    state: 'valid',
    pendingSinks: [],
    lastResult: null,
    consecutiveFailures: 0,
    nextAttemptAt: null,
    configChanged: false,
    issuer: 'le',
    ...overrides,
  };
}

function event(overrides: Partial<AgentEvent> & Pick<AgentEvent, 'type' | 'cert'>): AgentEvent {
  return { at: '2026-03-01T00:00:00.000Z', domains: [], severity: 'info', message: 'm', ...overrides };
}

describe('AgentMetrics', () => {
  it('exposes certificate gauges from status rows', async () => {
    const metrics = new AgentMetrics({ processMetrics: false });
    metrics.updateFromStatus([
      row({ name: 'www', consecutiveFailures: 2, nextAttemptAt: '2026-03-01T01:40:00.000Z' }),
      row({ name: 'api', notAfter: null, notBefore: null, serial: null, renewAt: '2026-03-01T00:00:00.000Z', state: 'missing' }),
    ]);
    const samples = parse(await metrics.render());
    expect(samples.get('certkeeper_certificate_expiration_timestamp_seconds{name="www",issuer="le"}')).toBe(Date.parse('2026-04-01T00:00:00Z') / 1000);
    expect(samples.get('certkeeper_certificate_renewal_timestamp_seconds{name="www",issuer="le"}')).toBe(Date.parse('2026-03-02T00:00:00Z') / 1000);
    expect(samples.get('certkeeper_certificate_ready{name="www",issuer="le"}')).toBe(1);
    expect(samples.get('certkeeper_certificate_consecutive_failures{name="www",issuer="le"}')).toBe(2);
    expect(samples.get('certkeeper_certificate_next_attempt_timestamp_seconds{name="www",issuer="le"}')).toBe(Date.parse('2026-03-01T01:40:00Z') / 1000);
    expect(samples.has('certkeeper_certificate_next_attempt_timestamp_seconds{name="api",issuer="le"}')).toBe(false);
    expect(samples.get('certkeeper_renewals_total{name="www",result="failure"}')).toBe(0);
    // Nothing stored: no expiration series, not ready.
    expect(samples.has('certkeeper_certificate_expiration_timestamp_seconds{name="api",issuer="le"}')).toBe(false);
    expect(samples.get('certkeeper_certificate_ready{name="api",issuer="le"}')).toBe(0);
    expect(samples.get('certkeeper_acme_requests_total{result="success"}')).toBe(0);
  });

  it('counts renewals, deploys and events, and drops series of certificates no longer configured', async () => {
    const metrics = new AgentMetrics({ processMetrics: false });
    metrics.updateFromStatus([row({ name: 'www' }), row({ name: 'old' })]);
    metrics.onEvent(event({ type: 'obtained', cert: 'www', notAfter: '2026-06-01T00:00:00.000Z' }));
    metrics.onEvent(event({ type: 'failed', cert: 'old', severity: 'warning', consecutiveFailures: 4 }));
    metrics.onEvent(event({ type: 'deployed', cert: 'www', sink: 'nginx' }));
    metrics.onEvent(event({ type: 'deploy_failed', cert: 'old', sink: 'haproxy', severity: 'warning' }));
    let samples = parse(await metrics.render());
    expect(samples.get('certkeeper_renewals_total{name="www",result="success"}')).toBe(1);
    expect(samples.get('certkeeper_renewals_total{name="old",result="failure"}')).toBe(1);
    expect(samples.get('certkeeper_certificate_expiration_timestamp_seconds{name="www",issuer="le"}')).toBe(Date.parse('2026-06-01T00:00:00Z') / 1000);
    expect(samples.get('certkeeper_certificate_consecutive_failures{name="old",issuer="le"}')).toBe(4);
    expect(samples.get('certkeeper_deploys_total{name="www",sink="nginx",result="success"}')).toBe(1);
    expect(samples.get('certkeeper_deploys_total{name="old",sink="haproxy",result="failure"}')).toBe(1);
    expect(samples.get('certkeeper_events_total{type="failed",severity="warning"}')).toBe(1);

    metrics.updateFromStatus([row({ name: 'www' })]);
    samples = parse(await metrics.render());
    const leftovers = [...samples.keys()].filter((key) => key.includes('name="old"'));
    expect(leftovers).toEqual([]);
    expect(samples.get('certkeeper_deploys_total{name="www",sink="nginx",result="success"}')).toBe(1);
  });

  it('resets consecutive failures on recovery', async () => {
    const metrics = new AgentMetrics({ processMetrics: false });
    metrics.updateFromStatus([row({ name: 'www' })]);
    metrics.onEvent(event({ type: 'failed', cert: 'www', severity: 'warning', consecutiveFailures: 3 }));
    expect(parse(await metrics.render()).get('certkeeper_certificate_consecutive_failures{name="www",issuer="le"}')).toBe(3);
    metrics.onEvent(event({ type: 'recovered', cert: 'www' }));
    const samples = parse(await metrics.render());
    expect(samples.get('certkeeper_certificate_consecutive_failures{name="www",issuer="le"}')).toBe(0);
    expect(samples.get('certkeeper_consecutive_failures{name="www"}')).toBe(0);
  });

  it('labels the certificate series with the configured issuer, and says serial and issuer in certkeeper_certificate_info', async () => {
    const metrics = new AgentMetrics({ processMetrics: false });
    metrics.updateFromStatus([
      row({ name: 'www', serial: 'AB12' }),
      row({ name: 'api', issuer: 'backup', notAfter: null, notBefore: null, serial: null, state: 'missing' }),
    ]);
    let samples = parse(await metrics.render());
    expect(samples.get('certkeeper_certificate_info{name="www",issuer="le",serial="AB12"}')).toBe(1);
    expect(samples.get('certkeeper_certificate_ready{name="api",issuer="backup"}')).toBe(0);
    expect([...samples.keys()].filter((key) => key.startsWith('certkeeper_certificate_info{name="api"'))).toEqual([]); // nothing stored
    const wwwSeries = (text: Map<string, number>) => [...text.keys()].filter((key) => key.includes('name="www"') && key.startsWith('certkeeper_certificate_'));
    const before = wwwSeries(samples);
    expect(before.length).toBeGreaterThanOrEqual(6);
    for (const key of before) expect(key).toContain('issuer="le"');

    // Renewed through the fallback CA: every series moves to the new issuer, none stays behind.
    metrics.updateFromStatus([
      row({ name: 'www', serial: 'CD34', issuer: 'backup' }),
      row({ name: 'api', issuer: 'backup', notAfter: null, notBefore: null, serial: null, state: 'missing' }),
    ]);
    samples = parse(await metrics.render());
    const after = wwwSeries(samples);
    expect(after).toEqual(before.map((key) => key.replace('issuer="le"', 'issuer="backup"').replace('serial="AB12"', 'serial="CD34"')));
  });

  it('renames consecutive failures to certkeeper_certificate_consecutive_failures and keeps the old name, deprecated, for one minor release', async () => {
    const metrics = new AgentMetrics({ processMetrics: false });
    metrics.updateFromStatus([row({ name: 'www', consecutiveFailures: 2 })]);
    const text = await metrics.render();
    const samples = parse(text);
    expect(samples.get('certkeeper_certificate_consecutive_failures{name="www",issuer="le"}')).toBe(2);
    expect(samples.get('certkeeper_consecutive_failures{name="www"}')).toBe(2); // same labels as before: old dashboards keep working
    expect(text).toMatch(/^# HELP certkeeper_consecutive_failures Deprecated: .*certkeeper_certificate_consecutive_failures/m);
    metrics.updateFromStatus([]);
    expect([...parse(await metrics.render()).keys()].filter((key) => key.includes('name="www"'))).toEqual([]);
  });

  it('records ACME requests, notifications, plans and reloads', async () => {
    const metrics = new AgentMetrics({ processMetrics: false });
    metrics.acmeRequest(acmeRequestResult(200));
    metrics.acmeRequest(acmeRequestResult(201));
    metrics.acmeRequest(acmeRequestResult(429));
    metrics.acmeRequest(acmeRequestResult(undefined));
    metrics.notificationTargets(['ops']);
    metrics.notification('ops', 'delivered');
    metrics.notification('ops', 'retrying');
    metrics.notification('ops', 'suppressed');
    metrics.planCompleted(new Date('2026-03-01T00:00:00Z'));
    metrics.configLoaded(false, new Date('2026-03-01T00:01:00Z'));
    const samples = parse(await metrics.render());
    expect(samples.get('certkeeper_acme_requests_total{result="success"}')).toBe(2);
    expect(samples.get('certkeeper_acme_requests_total{result="rate_limited"}')).toBe(1);
    expect(samples.get('certkeeper_acme_requests_total{result="network_error"}')).toBe(1);
    expect(samples.get('certkeeper_notifications_total{target="ops",result="suppressed"}')).toBe(1);
    expect(samples.get('certkeeper_notifications_total{target="ops",result="delivered"}')).toBe(1);
    expect(samples.get('certkeeper_notifications_total{target="ops",result="retrying"}')).toBe(1);
    // Every outcome of a configured target starts at 0, so rate() sees the first one.
    expect(samples.get('certkeeper_notifications_total{target="ops",result="dropped"}')).toBe(0);
    expect(samples.get('certkeeper_notifications_total{target="ops",result="coalesced"}')).toBe(0);
    expect(samples.get('certkeeper_last_plan_timestamp_seconds')).toBe(Date.parse('2026-03-01T00:00:00Z') / 1000);
    expect(samples.get('certkeeper_config_last_reload_successful')).toBe(0);
  });

  it('keeps the last reload time when a reload is rejected: it says when the running config was loaded', async () => {
    const metrics = new AgentMetrics({ processMetrics: false });
    metrics.configLoaded(true, new Date('2026-03-01T00:00:00Z'));
    metrics.configLoaded(false, new Date('2026-03-01T00:05:00Z'));
    let samples = parse(await metrics.render());
    expect(samples.get('certkeeper_config_last_reload_timestamp_seconds')).toBe(Date.parse('2026-03-01T00:00:00Z') / 1000);
    expect(samples.get('certkeeper_config_last_reload_successful')).toBe(0);
    metrics.configLoaded(true, new Date('2026-03-01T00:10:00Z'));
    samples = parse(await metrics.render());
    expect(samples.get('certkeeper_config_last_reload_timestamp_seconds')).toBe(Date.parse('2026-03-01T00:10:00Z') / 1000);
    expect(samples.get('certkeeper_config_last_reload_successful')).toBe(1);
  });

  it('classifies ACME statuses', () => {
    expect([200, 204, 400, 403, 429, 500, 503, undefined].map(acmeRequestResult)).toEqual([
      'success',
      'success',
      'client_error',
      'client_error',
      'rate_limited',
      'server_error',
      'server_error',
      'network_error',
    ]);
  });

  it('includes process metrics on its own registry, not the global one', async () => {
    const a = new AgentMetrics();
    const b = new AgentMetrics(); // a second instance must not collide with the first
    const text = await a.render();
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
    expect(a.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await b.render()).toContain('process_resident_memory_bytes');
  });

  it("samples event-loop delay once a second, not prom-client's every 10 ms that wakes an idle agent 100 times a second", () => {
    const monitor = vi.spyOn(perfHooks, 'monitorEventLoopDelay');
    try {
      new AgentMetrics();
      expect(monitor).toHaveBeenCalledWith({ resolution: EVENT_LOOP_MONITORING_PRECISION_MS });
      expect(EVENT_LOOP_MONITORING_PRECISION_MS).toBeGreaterThanOrEqual(1_000);
    } finally {
      monitor.mockRestore();
    }
  });

  it("counts a renewal that failed after notAfter (`expired` with an error) as a failure, a plan's `expired` not", async () => {
    const metrics = new AgentMetrics({ processMetrics: false });
    metrics.onEvent(event({ type: 'expired', cert: 'www', severity: 'critical' }));
    metrics.onEvent(event({ type: 'expired', cert: 'www', severity: 'critical', error: 'DNS API said 401', consecutiveFailures: 4 }));
    const samples = parse(await metrics.render());
    expect(samples.get('certkeeper_renewals_total{name="www",result="failure"}')).toBe(1);
    expect(samples.get('certkeeper_events_total{type="expired",severity="critical"}')).toBe(2);
  });

  it('ready means a valid certificate matching the config has reached every sink', () => {
    expect(isReady(row({ name: 'a' }))).toBe(true);
    expect(isReady(row({ name: 'a', state: 'failing', consecutiveFailures: 3 }))).toBe(true);
    expect(isReady(row({ name: 'a', state: 'due', renewReason: 'threshold' }))).toBe(true);
    expect(isReady(row({ name: 'a', state: 'expired' }))).toBe(false);
    expect(isReady(row({ name: 'a', state: 'due', renewReason: 'domains-changed' }))).toBe(false);
    expect(isReady(row({ name: 'a', pendingSinks: ['nginx'] }))).toBe(false);
    expect(isReady(row({ name: 'a', notAfter: null, state: 'missing' }))).toBe(false);
  });
});

describe('AgentMetrics: ARI', () => {
  it("counts renewalInfo lookups by result and exposes each certificate's ARI window", async () => {
    const metrics = new AgentMetrics({ processMetrics: false });
    metrics.renewalInfo('window');
    metrics.renewalInfo('window');
    metrics.renewalInfo('deferred');
    const ari = {
      windowStart: '2026-03-01T00:00:00.000Z',
      windowEnd: '2026-03-03T00:00:00.000Z',
      selectedAt: '2026-03-02T00:00:00.000Z',
      explanationUrl: null,
      nextCheckAt: '2026-02-01T06:00:00.000Z',
    };
    metrics.updateFromStatus([row({ name: 'www', ari }), row({ name: 'api', ari: null })]);
    let samples = parse(await metrics.render());
    expect(samples.get('certkeeper_renewal_info_lookups_total{result="window"}')).toBe(2);
    expect(samples.get('certkeeper_renewal_info_lookups_total{result="deferred"}')).toBe(1);
    expect(samples.get('certkeeper_renewal_info_lookups_total{result="error"}')).toBe(0);
    expect(samples.get('certkeeper_certificate_ari_window_start_timestamp_seconds{name="www",issuer="le"}')).toBe(Date.parse(ari.windowStart) / 1000);
    expect(samples.get('certkeeper_certificate_ari_window_end_timestamp_seconds{name="www",issuer="le"}')).toBe(Date.parse(ari.windowEnd) / 1000);
    expect(samples.has('certkeeper_certificate_ari_window_start_timestamp_seconds{name="api",issuer="le"}')).toBe(false);
    // The window goes with the certificate.
    metrics.updateFromStatus([row({ name: 'api' })]);
    samples = parse(await metrics.render());
    expect(samples.has('certkeeper_certificate_ari_window_start_timestamp_seconds{name="www",issuer="le"}')).toBe(false);
  });
});

describe('ACME, DNS and store call metrics', () => {
  it('times ACME attempts by endpoint and status class, a network failure as error, and counts them by result as before', async () => {
    const metrics = new AgentMetrics({ processMetrics: false });
    metrics.acmeResponse(201, { endpoint: 'newOrder', seconds: 0.3 });
    metrics.acmeResponse(400, { endpoint: 'newOrder', seconds: 0.1 });
    metrics.acmeResponse(429, { endpoint: 'renewalInfo', seconds: 0.1 });
    metrics.acmeResponse(503, { endpoint: 'finalize', seconds: 2 });
    metrics.acmeResponse(undefined, { endpoint: 'directory', seconds: 5 });
    metrics.acmeResponse(200); // a caller without the details: counted, not timed
    const samples = parse(await metrics.render());
    expect(samples.get('certkeeper_acme_request_duration_seconds_count{endpoint="newOrder",status="2xx"}')).toBe(1);
    expect(samples.get('certkeeper_acme_request_duration_seconds_count{endpoint="newOrder",status="4xx"}')).toBe(1);
    expect(samples.get('certkeeper_acme_request_duration_seconds_count{endpoint="renewalInfo",status="429"}')).toBe(1);
    expect(samples.get('certkeeper_acme_request_duration_seconds_count{endpoint="finalize",status="5xx"}')).toBe(1);
    expect(samples.get('certkeeper_acme_request_duration_seconds_count{endpoint="directory",status="error"}')).toBe(1);
    expect(samples.get('certkeeper_acme_request_duration_seconds_sum{endpoint="directory",status="error"}')).toBe(5);
    expect(samples.get('certkeeper_acme_request_duration_seconds_bucket{le="0.5",endpoint="newOrder",status="2xx"}')).toBe(1);
    expect(samples.get('certkeeper_acme_requests_total{result="network_error"}')).toBe(1);
    expect(samples.get('certkeeper_acme_requests_total{result="success"}')).toBe(2);
    expect(samples.get('certkeeper_acme_requests_total{result="rate_limited"}')).toBe(1);
  });

  it('classifies HTTP statuses into a small set', () => {
    expect([200, 204, 301, 400, 404, 429, 500, 503, undefined, 0, 99, 600].map(acmeRequestStatus)).toEqual([
      '2xx',
      '2xx',
      '3xx',
      '4xx',
      '4xx',
      '429',
      '5xx',
      '5xx',
      'error',
      'error',
      'error',
      'error',
    ]);
  });

  it('counts and times DNS calls by provider type and operation', async () => {
    const metrics = new AgentMetrics({ processMetrics: false });
    metrics.dnsCall('route53', { operation: 'batch_present', result: 'success', seconds: 20 });
    metrics.dnsCall('route53', { operation: 'propagation', result: 'error', seconds: 120 });
    metrics.dnsCall('exec', { operation: 'present', result: 'error', seconds: 1 });
    const samples = parse(await metrics.render());
    expect(samples.get('certkeeper_dns_requests_total{provider_type="route53",operation="batch_present",result="success"}')).toBe(1);
    expect(samples.get('certkeeper_dns_requests_total{provider_type="route53",operation="propagation",result="error"}')).toBe(1);
    expect(samples.get('certkeeper_dns_requests_total{provider_type="exec",operation="present",result="error"}')).toBe(1);
    expect(samples.get('certkeeper_dns_request_duration_seconds_count{provider_type="route53",operation="propagation"}')).toBe(1);
    expect(samples.get('certkeeper_dns_request_duration_seconds_bucket{le="120",provider_type="route53",operation="propagation"}')).toBe(1);
  });

  it('never carries a URL or a host in a label', async () => {
    const metrics = new AgentMetrics({ processMetrics: false });
    for (const endpoint of ['directory', 'order', 'other'] as const) metrics.acmeResponse(200, { endpoint, seconds: 0.1 });
    metrics.dnsCall('rfc2136', { operation: 'cleanup', result: 'success', seconds: 0.1 });
    metrics.storeOperation({ backend: 'postgres', operation: 'ping', result: 'error', seconds: 1 });
    const text = await metrics.render();
    expect(text).not.toMatch(/="[^"]*(\/\/|\/)[^"]*"/);
  });
});
