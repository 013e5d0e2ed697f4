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
    name: 'www',
    domains: ['www.example.com'],
    serial: 'AB',
    notBefore: '2026-09-05T12:00:00.000Z',
    notAfter: new Date(now.getTime() - 42_000).toISOString(),
    daysLeft: -0.0005,
    renewAt: null,
    renewReason: 'expired',
    renewMessage: '',
    state: 'expired',
    pendingSinks: [],
    lastResult: null,
    consecutiveFailures: 0,
    nextAttemptAt: null,
    configChanged: false,
  } as StatusRow;
  expect(renderStatus([row], now)).toContain('expired 42s ago');
  expect(renderStatus([row], now)).not.toContain('-0.0');
});

it('shows a cancelled order as cancelled, not as a failure of the certificate', async () => {
  const { renderHistory } = await import('../../../src/cli/commands/history.js');
  const text = renderHistory([
    {
      at: '2026-12-04T11:00:00.000Z',
      cert: 'www',
      action: 'renew',
      result: 'failure',
      serial: null,
      notAfter: null,
      durationMs: 900,
      error: 'cancelled',
      code: 'CANCELLED',
    },
    {
      at: '2026-12-04T10:00:00.000Z',
      cert: 'api',
      action: 'renew',
      result: 'failure',
      serial: null,
      notAfter: null,
      durationMs: 900,
      error: 'boom',
      code: 'ACME_ERROR',
    },
  ]);
  const [www, api] = text.split('\n').filter((line) => line.includes('www') || line.includes('api'));
  expect(www).toContain('cancelled');
  expect(www).not.toContain('failure');
  expect(api).toContain('failure');
});

it('fits the default status into 80 columns, the most urgent rows first; --wide keeps every column', async () => {
  const { renderCompactStatus } = await import('../../../src/cli/commands/status.js');
  const day = 86_400_000;
  const at = (ms: number): string => new Date(now.getTime() + ms).toISOString();
  const base = {
    domains: ['a.example.com', 'b.example.com', 'c.example.com'],
    serial: '0A1B2C3D4E5F60718293',
    notBefore: at(-30 * day),
    pendingSinks: [],
    consecutiveFailures: 0,
    nextAttemptAt: null,
    configChanged: false,
    renewMessage: '',
  };
  const rows = [
    {
      ...base,
      name: 'fine',
      notAfter: at(60 * day),
      daysLeft: 60,
      renewAt: at(30 * day),
      renewReason: 'not-due',
      state: 'valid',
      lastResult: { at: at(-30 * day), action: 'issue', result: 'success', error: null },
    },
    { ...base, name: 'soon', notAfter: at(20 * day), daysLeft: 20, renewAt: at(-day), renewReason: 'threshold', state: 'due', lastResult: null },
    {
      ...base,
      name: 'broken',
      notAfter: at(5 * day),
      daysLeft: 5,
      renewAt: at(-10 * day),
      renewReason: 'threshold',
      state: 'failing',
      consecutiveFailures: 3,
      nextAttemptAt: at(2 * 3_600_000),
      lastResult: {
        at: at(-3_600_000),
        action: 'renew',
        result: 'failure',
        error: `the DNS provider route53 refused the change: ${'AccessDenied '.repeat(20)}`,
      },
    },
    { ...base, name: 'gone', notAfter: at(-42_000), daysLeft: -0.0005, renewAt: null, renewReason: 'expired', state: 'expired', lastResult: null },
    {
      ...base,
      name: 'new',
      serial: null,
      notBefore: null,
      notAfter: null,
      daysLeft: null,
      renewAt: null,
      renewReason: 'missing',
      state: 'missing',
      lastResult: null,
    },
  ] as StatusRow[];

  const text = renderCompactStatus(rows, now, 80);
  const lines = text.trimEnd().split('\n');
  for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(80);
  expect(lines[0]).toMatch(/^NAME\s+STATE\s+EXPIRES\s+RENEWS\s+LAST$/);
  expect(lines.slice(1, 6).map((line) => line.split(/\s+/)[0])).toEqual(['gone', 'broken', 'soon', 'new', 'fine']);
  expect(lines[1]).toMatch(/^gone\s+expired\s+42s ago\s+now\s+-$/);
  expect(lines[2]).toMatch(/^broken\s+failing\s+in 5d\s+retry in 2h\s+renew failed 3x: the DNS provider.*…$/);
  expect(lines[2]).toHaveLength(80);
  expect(lines[5]).toMatch(/^fine\s+valid\s+in 60d\s+in 30d\s+issue success /);
  expect(lines.at(-1)).toBe('5 certificates: 1 expired, 1 failing, 1 due, 1 missing, 1 valid');
  // The wide table has what the compact one leaves out.
  const wide = renderStatus(rows, now);
  expect(wide.split('\n')[0]).toMatch(/^NAME\s+STATE\s+DAYS LEFT\s+NOT BEFORE\s+NOT AFTER\s+RENEW AT\s+SERIAL\s+DOMAINS\s+LAST$/);
  expect(wide).toContain('a.example.com b.example.com c.example.com');
});
