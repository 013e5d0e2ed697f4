// `promtool check metrics` on the agent's registry with every series populated: certkeeper's own
// (certificates, endpoints, verifications, leader) and prom-client's process and Node.js defaults.
// promtool comes from the Debian package `prometheus` (installed as root, else the command to run).

import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { leaderGauge } from '../../../src/ha/index.js';
import type { AgentEvent } from '../../../src/observe/events.js';
import { ACME_REQUEST_RESULTS, AgentMetrics, NOTIFICATION_RESULTS, RENEWAL_INFO_RESULTS } from '../../../src/observe/metrics.js';
import { ServedMetrics } from '../../../src/verify/metrics.js';
import type { ProbeResult } from '../../../src/core/endpoint-results.js';
import { judge } from '../../../src/verify/watcher.js';
import { checkMetrics } from '../../helpers/promtool.js';
import { statusRow } from '../../helpers/status-row.js';

const event = (fields: Partial<AgentEvent> & Pick<AgentEvent, 'type' | 'cert'>): AgentEvent => ({
  at: '2026-03-01T00:00:00.000Z',
  domains: [],
  severity: 'info',
  message: 'm',
  ...fields,
});

function probed(endpoint: string, reachable: boolean): ProbeResult {
  const cert = {
    subject: 'CN=www.example.com',
    issuer: 'CN=R11',
    serial: 'AB12',
    notBefore: '2026-01-01T00:00:00.000Z',
    notAfter: '2026-04-01T00:00:00.000Z',
    names: ['www.example.com'],
    fingerprint256: 'AA',
  };
  const intermediate = { ...cert, subject: 'CN=R11', issuer: 'CN=ISRG Root X1', notAfter: '2026-03-15T00:00:00.000Z' };
  return {
    endpoint,
    address: `${endpoint}:443`,
    sni: endpoint,
    protocol: 'tls',
    reachable,
    failure: reachable ? null : 'refused',
    error: reachable ? null : 'connect ECONNREFUSED',
    at: '2026-03-01T00:00:00.000Z',
    durationMs: 5,
    leaf: reachable ? cert : null,
    chain: reachable ? [cert, intermediate] : [],
    trusted: reachable ? true : null,
    trustError: null,
    nameMatch: reachable ? true : null,
    nameError: null,
  };
}

/** The agent's registry as `certkeeper run` builds it, with a value in every series. */
function populated(): Registry {
  const metrics = new AgentMetrics();
  metrics.updateFromStatus([
    statusRow('www'),
    statusRow('api', { state: 'failing', consecutiveFailures: 3, nextAttemptAt: '2026-03-01T01:40:00.000Z', pendingSinks: ['nginx'] }),
  ]);
  for (const fields of [
    { type: 'obtained', cert: 'www', notAfter: '2026-06-01T00:00:00.000Z' },
    { type: 'failed', cert: 'api', severity: 'warning', consecutiveFailures: 3 },
    { type: 'deployed', cert: 'www', sink: 'nginx' },
    { type: 'deploy_failed', cert: 'api', sink: 'nginx', severity: 'warning' },
    { type: 'expired', cert: 'api', severity: 'critical', error: 'DNS API said 401' },
  ] as const) {
    metrics.onEvent(event(fields));
  }
  for (const result of ACME_REQUEST_RESULTS) metrics.acmeRequest(result);
  metrics.acmeResponse(200, { endpoint: 'directory', seconds: 0.05 });
  metrics.acmeResponse(undefined, { endpoint: 'newNonce', seconds: 1.5 });
  metrics.dnsCall('rfc2136', { operation: 'present', result: 'success', seconds: 0.02 });
  metrics.dnsCall('route53', { operation: 'propagation', result: 'error', seconds: 120 });
  metrics.storeOperation({ backend: 'file', operation: 'get', result: 'success', seconds: 0.0005 });
  metrics.storeOperation({ backend: 'file', operation: 'lock', result: 'busy', seconds: 10 });
  metrics.storeLockLost('file');
  for (const result of RENEWAL_INFO_RESULTS) metrics.renewalInfo(result);
  metrics.rehearsal('www', 'success');
  metrics.notificationTargets(['ops']);
  for (const result of NOTIFICATION_RESULTS) metrics.notification('ops', result);
  metrics.planCompleted(new Date('2026-03-01T00:00:00Z'));
  metrics.configLoaded(true, new Date('2026-03-01T00:00:00Z'));

  const served = new ServedMetrics(metrics.registry);
  served.updateEndpoints([
    judge(probed('www.example.com', true), new Date('2026-03-01T00:00:00Z'), [21, 7, 1], []),
    judge(probed('down.example.com', false), new Date('2026-03-01T00:00:00Z'), [21, 7, 1], []),
  ]);
  served.onEvent(event({ type: 'verified', cert: 'www', serving: 'new' }));
  leaderGauge(metrics.registry).set(true);
  return metrics.registry;
}

describe('promtool check metrics', () => {
  it("passes on the agent's registry with every series populated, prom-client's defaults included", async () => {
    const registry = populated();
    // Every certkeeper metric has a sample, so each one is linted, not just its HELP line (prom-client's
    // per-type gauges, such as nodejs_active_requests, are empty while nothing of that type is active).
    const empty = (await registry.getMetricsAsJSON())
      .filter((metric) => metric.name.startsWith('certkeeper_') && metric.values.length === 0)
      .map((metric) => metric.name);
    expect(empty).toEqual([]);
    const exposition = await registry.metrics();
    expect(exposition).toContain('certkeeper_certificate_info{name="www",issuer="letsencrypt",serial="AB12"} 1');
    expect(exposition).toContain('nodejs_active_handles');
    const result = checkMetrics(exposition);
    expect(result.problems).toEqual([]);
    expect(result.status).toBe(0);
  });
});
