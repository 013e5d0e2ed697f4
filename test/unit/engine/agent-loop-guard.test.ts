// A certificate held by the renewal-loop guard (renewBefore would replace it while too young) is
// not due: the agent's timer waits for the end of the hold, as for any renewal time. It used to
// fire at once, and the engine skipped it, again and again: a busy loop for days.

import { expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { Agent } from '../../../src/engine/agent.js';
import type { StatusRow } from '../../../src/engine/status.js';
import { maxJitterMs } from '../../../src/plan/backoff.js';

const DAY = 86_400_000;
const notBefore = new Date('2026-12-01T00:00:00Z');
const day = (n: number): Date => new Date(notBefore.getTime() + n * DAY);

function row(renewReason: string, renewAt: Date): StatusRow {
  return {
    name: 'www',
    domains: ['www.example.com'],
    serial: 'AB',
    notBefore: notBefore.toISOString(),
    notAfter: day(90).toISOString(),
    daysLeft: 78,
    renewAt: renewAt.toISOString(),
    renewReason,
    renewMessage: 'renewBefore (80d) would replace the certificate when it is only 11.1% old; loop guard: not before …',
    renewRule: 'loop-guard',
    state: 'valid',
    pendingSinks: [],
    lastResult: null,
    consecutiveFailures: 0,
    nextAttemptAt: null,
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

it('arms a loop-guard hold for its end (plus jitter), at a tick and after a batch alike, as a renewal time', () => {
  const now = day(12);
  for (const tick of [true, false]) {
    const at = agent.fireTime(row('loop-guard', day(18)), now, { tick });
    expect(at).toBeGreaterThanOrEqual(day(18).getTime());
    expect(at).toBeLessThanOrEqual(day(18).getTime() + maxJitterMs(90 * DAY));
    expect(at).toBe(agent.fireTime(row('not-due', day(18)), now, { tick }));
  }
});
