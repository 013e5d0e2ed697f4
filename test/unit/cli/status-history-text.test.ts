// What status and history print for an expired certificate and a cancelled order.

import { expect, it } from 'vitest';
import { daysLeftText, renderStatus } from '../../../src/cli/commands/status.js';
import type { StatusRow } from '../../../src/engine/status.js';

const now = new Date('2026-12-04T12:00:00Z');

it('says how long ago a certificate expired instead of negative days', () => {
  expect(daysLeftText({ daysLeft: -0.1, notAfter: new Date(now.getTime() - 42_000).toISOString() }, now)).toBe('expired 42s ago');
  expect(daysLeftText({ daysLeft: 12.34, notAfter: new Date(now.getTime() + 12.34 * 86_400_000).toISOString() }, now)).toBe('12.3');
  expect(daysLeftText({ daysLeft: null, notAfter: null }, now)).toBe('-');
  const row = {
    name: 'www', domains: ['www.example.com'], serial: 'AB', notBefore: '2026-09-05T12:00:00.000Z', notAfter: new Date(now.getTime() - 42_000).toISOString(),
    daysLeft: -0.0005, renewAt: null, renewReason: 'expired', renewMessage: '', state: 'expired', pendingSinks: [], lastResult: null, consecutiveFailures: 0, nextAttemptAt: null, configChanged: false,
  } as StatusRow;
  expect(renderStatus([row], now)).toContain('expired 42s ago');
  expect(renderStatus([row], now)).not.toContain('-0.0');
});

it('shows a cancelled order as cancelled, not as a failure of the certificate', async () => {
  const { renderHistory } = await import('../../../src/cli/commands/history.js');
  const text = renderHistory([
    { at: '2026-12-04T11:00:00.000Z', cert: 'www', action: 'renew', result: 'failure', serial: null, notAfter: null, durationMs: 900, error: 'cancelled', code: 'CANCELLED' },
    { at: '2026-12-04T10:00:00.000Z', cert: 'api', action: 'renew', result: 'failure', serial: null, notAfter: null, durationMs: 900, error: 'boom', code: 'ACME_ERROR' },
  ]);
  const [www, api] = text.split('\n').filter((line) => line.includes('www') || line.includes('api'));
  expect(www).toContain('cancelled');
  expect(www).not.toContain('failure');
  expect(api).toContain('failure');
});
