// A status row as the agent's /status serves it: one valid certificate with an ARI window, for tests
// that feed rows to the metrics registry (the Grafana dashboard's and promtool's).

import type { StatusRow } from '../../src/engine/status.js';

export const statusRow = (name: string, over: Partial<StatusRow> = {}): StatusRow => ({
  name,
  domains: ['www.example.com'],
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
  issuer: 'letsencrypt',
  ari: {
    windowStart: '2026-03-01T00:00:00.000Z',
    windowEnd: '2026-03-03T00:00:00.000Z',
    selectedAt: '2026-03-02T00:00:00.000Z',
    explanationUrl: null,
    nextCheckAt: '2026-02-01T06:00:00.000Z',
  },
  ...over,
});
