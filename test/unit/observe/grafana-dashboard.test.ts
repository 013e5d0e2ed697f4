// examples/grafana/certkeeper.json against the agent's real registry: every metric a panel's query
// names is in the /metrics exposition of a populated registry (so renaming a metric fails here,
// not on someone's dashboard), the dashboard is valid JSON Grafana imports (datasource variable,
// unique panel ids, a query per panel), and the chart ships the same file.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { leaderGauge } from '../../../src/ha/index.js';
import type { AgentEvent } from '../../../src/observe/events.js';
import { ACME_REQUEST_RESULTS, AgentMetrics, NOTIFICATION_RESULTS, RENEWAL_INFO_RESULTS } from '../../../src/observe/metrics.js';
import { ServedMetrics } from '../../../src/verify/metrics.js';
import type { ProbeResult } from '../../../src/core/endpoint-results.js';
import { judge } from '../../../src/verify/watcher.js';
import { REPO } from '../../helpers/cli.js';
import { statusRow } from '../../helpers/status-row.js';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string; refId: string }[];
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown; definition?: string }[] };
}

const DASHBOARD = path.join(REPO, 'examples/grafana/certkeeper.json');
/** Series Prometheus makes itself, not the agent. */
const PROMETHEUS_SERIES = new Set(['up']);
/** PromQL words that look like metric names. */
const PROMQL_WORDS = new Set([
  'sum',
  'by',
  'count',
  'rate',
  'increase',
  'sort',
  'time',
  'or',
  'vector',
  'label_values',
  'instance',
  'and',
  'unless',
  'on',
  'without',
  'max',
  'min',
  'avg',
]);

const row = statusRow;
const event = (fields: Partial<AgentEvent> & Pick<AgentEvent, 'type' | 'cert'>): AgentEvent => ({
  at: '2026-03-01T00:00:00.000Z',
  domains: [],
  severity: 'info',
  message: 'm',
  ...fields,
});

function probed(endpoint: string): ProbeResult {
  const cert = {
    subject: 'CN=www.example.com',
    issuer: 'CN=R11',
    serial: 'AB12',
    notBefore: '2026-01-01T00:00:00.000Z',
    notAfter: '2026-04-01T00:00:00.000Z',
    names: ['www.example.com'],
    fingerprint256: 'AA',
  };
  return {
    endpoint,
    address: `${endpoint}:443`,
    sni: endpoint,
    protocol: 'tls',
    reachable: true,
    failure: null,
    error: null,
    at: '2026-03-01T00:00:00.000Z',
    durationMs: 5,
    leaf: cert,
    chain: [cert],
    trusted: true,
    trustError: null,
    nameMatch: true,
    nameError: null,
  };
}

/** The exposition of the registry `certkeeper run` builds, every series with a value. */
async function exposition(): Promise<string> {
  const metrics = new AgentMetrics();
  metrics.updateFromStatus([
    row('www'),
    row('api', { state: 'failing', consecutiveFailures: 3, nextAttemptAt: '2026-03-01T01:40:00.000Z', pendingSinks: ['nginx'] }),
  ]);
  for (const fields of [
    { type: 'obtained', cert: 'www', notAfter: '2026-06-01T00:00:00.000Z' },
    { type: 'failed', cert: 'api', severity: 'warning', consecutiveFailures: 3 },
    { type: 'deployed', cert: 'www', sink: 'nginx' },
    { type: 'deploy_failed', cert: 'api', sink: 'nginx', severity: 'warning' },
  ] as const)
    metrics.onEvent(event(fields));
  for (const result of ACME_REQUEST_RESULTS) metrics.acmeRequest(result);
  metrics.acmeResponse(201, { endpoint: 'newOrder', seconds: 0.2 });
  metrics.acmeResponse(undefined, { endpoint: 'finalize', seconds: 30 });
  metrics.dnsCall('route53', { operation: 'batch_present', result: 'success', seconds: 12 });
  metrics.dnsCall('route53', { operation: 'propagation', result: 'error', seconds: 120 });
  metrics.storeOperation({ backend: 'postgres', operation: 'put', result: 'conflict', seconds: 0.004 });
  for (const result of RENEWAL_INFO_RESULTS) metrics.renewalInfo(result);
  metrics.rehearsal('www', 'success');
  metrics.notificationTargets(['ops']);
  for (const result of NOTIFICATION_RESULTS) metrics.notification('ops', result);
  metrics.planCompleted(new Date('2026-03-01T00:00:00Z'));
  metrics.configLoaded(true, new Date('2026-03-01T00:00:00Z'));
  const served = new ServedMetrics(metrics.registry);
  served.updateEndpoints([judge(probed('www.example.com'), new Date('2026-03-01T00:00:00Z'), [21, 7, 1], [])]);
  served.onEvent(event({ type: 'verified', cert: 'www', serving: 'new' }));
  leaderGauge(metrics.registry).set(true);
  return metrics.registry.metrics();
}

/**
 * The exposed metric (its `# TYPE` name) a series name in a query belongs to, or undefined. A
 * counter's TYPE line names it without _total in OpenMetrics, with it in prom-client's text
 * format; a histogram's series are its name with _bucket, _sum and _count.
 */
export function exposedAs(types: ReadonlyMap<string, string>, series: string): string | undefined {
  if (types.has(series)) return series;
  const counter = series.replace(/_total$/, '');
  if (counter !== series && types.get(counter) === 'counter') return counter;
  const histogram = series.replace(/_(bucket|sum|count)$/, '');
  if (histogram !== series && types.get(histogram) === 'histogram') return histogram;
  return undefined;
}

/** Metric names in a PromQL expression: identifiers not inside {…} or [...], not followed by "(", not keywords. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(/"[^"]*"/g, '""');
  const names = new Set<string>();
  for (const match of bare.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)) {
    const name = match[1]!;
    if (PROMQL_WORDS.has(name) || /^\d/.test(name)) continue;
    // "by (result)" and "sum by (sink, result)": label lists, not metrics.
    const before = bare.slice(0, match.index);
    if (/\b(by|without|on|ignoring)\s*\([^)]*$/.test(before)) continue;
    names.add(name);
  }
  return [...names];
}

describe('the Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
  const queries = [
    ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ where: `panel "${panel.title}" ${target.refId}`, expr: target.expr }))),
    ...dashboard.templating.list.filter((v) => v.type === 'query').map((v) => ({ where: `variable ${v.name}`, expr: v.definition ?? '' })),
  ];

  it('uses only metrics the agent exposes', async () => {
    const text = await exposition();
    const types = new Map(
      text
        .split('\n')
        .filter((line) => line.startsWith('# TYPE '))
        .map((line) => [line.split(' ')[2]!, line.split(' ')[3]!] as const),
    );
    const used = new Set(queries.flatMap((q) => metricNames(q.expr).map((name) => ({ ...q, name }))).map((u) => `${u.name}\t${u.where}`));
    const missing = [...used].filter((entry) => {
      const name = entry.split('\t')[0]!;
      return !PROMETHEUS_SERIES.has(name) && exposedAs(types, name) === undefined;
    });
    expect(missing).toEqual([]);
    // The metrics the issue names are all on it.
    // By the metric each series belongs to (a histogram's _bucket is the histogram; a counter keeps _total as written).
    const names = new Set(
      [...used].map((entry) => entry.split('\t')[0]!).map((name) => (/_(bucket|sum|count)$/.test(name) ? (exposedAs(types, name) ?? name) : name)),
    );
    for (const name of [
      'certkeeper_certificate_expiration_timestamp_seconds',
      'certkeeper_certificate_consecutive_failures',
      'certkeeper_renewals_total',
      'certkeeper_acme_requests_total',
      'certkeeper_endpoint_expiration_timestamp_seconds',
      'certkeeper_leader',
      'certkeeper_last_plan_timestamp_seconds',
      'certkeeper_acme_request_duration_seconds',
      'certkeeper_dns_request_duration_seconds',
      'certkeeper_dns_requests_total',
      'certkeeper_store_operations_total',
      'certkeeper_store_operation_duration_seconds',
      'certkeeper_store_up',
    ]) {
      expect(names, name).toContain(name);
    }
    expect(names).not.toContain('certkeeper_consecutive_failures'); // the deprecated name
    // The latency panels ask for quantiles over a histogram's buckets, which must exist as such.
    for (const name of ['certkeeper_acme_request_duration_seconds', 'certkeeper_dns_request_duration_seconds', 'certkeeper_store_operation_duration_seconds']) {
      expect(types.get(name), name).toBe('histogram');
      expect(
        queries.some((q) => q.expr.includes(`histogram_quantile(0.95, sum by (`) && q.expr.includes(`${name}_bucket{`)),
        name,
      ).toBe(true);
      expect(text).toMatch(new RegExp(`^${name}_count\\{[^}]*\\} [1-9]`, 'm'));
    }
  });

  it('names a series by the metric it belongs to: _total of a counter, _bucket/_sum/_count of a histogram', () => {
    const types = new Map([
      ['a_total', 'counter'],
      ['b_seconds', 'histogram'],
      ['c', 'gauge'],
    ]);
    expect(exposedAs(types, 'a_total')).toBe('a_total');
    expect(exposedAs(new Map([['a', 'counter']]), 'a_total')).toBe('a');
    for (const suffix of ['_bucket', '_sum', '_count']) expect(exposedAs(types, `b_seconds${suffix}`)).toBe('b_seconds');
    expect(exposedAs(types, 'b_seconds')).toBe('b_seconds');
    expect(exposedAs(types, 'c_count')).toBeUndefined(); // a gauge has no _count series
    expect(exposedAs(types, 'd')).toBeUndefined();
  });

  it('finds metric names in PromQL and nothing else', () => {
    expect(metricNames('sum by (sink, result) (increase(certkeeper_deploys_total{instance=~"$instance",x="a_b"}[$__rate_interval]))')).toEqual([
      'certkeeper_deploys_total',
    ]);
    expect(metricNames('count(a_metric == 0) or vector(0)')).toEqual(['a_metric']);
  });

  it('imports: a datasource variable, unique panel ids, a query on every panel', () => {
    expect(dashboard.uid).toBe('certkeeper');
    expect(dashboard.templating.list.find((v) => v.type === 'datasource')?.name).toBe('datasource');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    // Laid out on Grafana's 24-column grid with no two panels on the same cells.
    for (const panel of dashboard.panels) expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
    const overlaps = dashboard.panels.flatMap((a, i) =>
      dashboard.panels
        .slice(i + 1)
        .filter(
          (b) =>
            a.gridPos.x < b.gridPos.x + b.gridPos.w &&
            b.gridPos.x < a.gridPos.x + a.gridPos.w &&
            a.gridPos.y < b.gridPos.y + b.gridPos.h &&
            b.gridPos.y < a.gridPos.y + a.gridPos.h,
        )
        .map((b) => `${a.title} / ${b.title}`),
    );
    expect(overlaps).toEqual([]);
  });

  it('ships in the chart as the same file, in a ConfigMap for the sidecar that is off by default', () => {
    const chart = path.join(REPO, 'charts/certkeeper');
    expect(readFileSync(path.join(chart, 'dashboards/certkeeper.json'), 'utf8')).toBe(readFileSync(DASHBOARD, 'utf8'));
    const template = readFileSync(path.join(chart, 'templates/grafana-dashboard.yaml'), 'utf8');
    expect(template).toMatch(/^\{\{- if \.Values\.grafanaDashboard\.enabled \}\}$/m);
    expect(template).toContain('grafana_dashboard: "1"');
    expect(template).toContain('.Files.Get "dashboards/certkeeper.json"');
    expect(readFileSync(path.join(chart, 'values.yaml'), 'utf8')).toMatch(/^grafanaDashboard:\n {2}enabled: false$/m);
  });
});
