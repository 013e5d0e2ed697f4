// An expired certificate that keeps failing is tried again at least hourly, however far its
// backoff has grown (the last step is a day, the schedule tick twelve hours).

import { expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { Agent, EXPIRED_RETRY_MS } from '../../../src/engine/agent.js';
import type { StatusRow } from '../../../src/engine/status.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const now = new Date('2026-12-04T12:00:00Z');

function row(notAfter: Date, nextAttemptAt: Date | null): StatusRow {
  return {
    name: 'www',
    domains: ['www.example.com'],
    serial: 'AB',
    notBefore: new Date(notAfter.getTime() - 90 * DAY).toISOString(),
    notAfter: notAfter.toISOString(),
    daysLeft: (notAfter.getTime() - now.getTime()) / DAY,
    renewAt: new Date(notAfter.getTime() - 30 * DAY).toISOString(),
    renewReason: 'due',
    renewMessage: '',
    state: 'failing',
    pendingSinks: [],
    lastResult: { at: now.toISOString(), action: 'renew', result: 'failure', error: 'boom' },
    consecutiveFailures: 6,
    nextAttemptAt: nextAttemptAt?.toISOString() ?? null,
    configChanged: false,
  };
}

const agent = new Agent({
  clock: systemClock,
  logger: silentLogger,
  host: 'h',
  loadConfig: () => {
    throw new Error('unused');
  },
  wire: async () => {
    throw new Error('unused');
  },
});

it('tries an expired certificate within the hour even when its backoff says a day', () => {
  const expired = row(new Date(now.getTime() - 5 * 60_000), new Date(now.getTime() + DAY));
  expect(agent.fireTime(expired, now)).toBe(now.getTime() + EXPIRED_RETRY_MS);
  expect(EXPIRED_RETRY_MS).toBe(HOUR);
});

it('keeps a shorter backoff, and leaves a certificate that has not expired to its backoff', () => {
  expect(agent.fireTime(row(new Date(now.getTime() - 60_000), new Date(now.getTime() + 10 * 60_000)), now)).toBe(now.getTime() + 10 * 60_000);
  expect(agent.fireTime(row(new Date(now.getTime() + 2 * DAY), new Date(now.getTime() + DAY)), now)).toBe(now.getTime() + DAY);
});
