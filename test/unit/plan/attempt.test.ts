// What certkeeper does with a certificate now, and why: one row per reason of the attempt chain
// (src/plan/attempt.ts), in the chain's order. This table is the documentation of those reasons.

import { describe, expect, it } from 'vitest';
import { ATTEMPT_CHECKS, configChanged, EXPIRED_RETRY_MS, planAttempt, type AttemptFacts, type AttemptPlan } from '../../../src/plan/attempt.js';
import type { BudgetCheck } from '../../../src/plan/budget.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const notBefore = new Date('2026-01-01T00:00:00Z');
const notAfter = new Date(notBefore.getTime() + 90 * DAY);
const day = (n: number): Date => new Date(notBefore.getTime() + n * DAY);

const notDue = { due: false, reason: 'not-due', message: 'due at …', renewAt: day(60) };
const dueByThreshold = { due: true, reason: 'threshold', message: 'due since …', renewAt: day(60) };
const lastOne: BudgetCheck = { used: 4, limit: 5, lastOne: true, message: '4 of 5 certificates for these names in the last 7 days' };
const budgetLeft: BudgetCheck = { used: 1, limit: 5, lastOne: false, message: '1 of 5' };

/** A certificate stored on day 0, looked at on day 30 by a run: nothing to do. */
function facts(overrides: Partial<AttemptFacts> = {}): AttemptFacts {
  return {
    now: day(30),
    trigger: 'run',
    stored: { notBefore, notAfter, issuedAt: notBefore },
    renewal: notDue,
    backoff: { failures: 0, nextAttemptAt: null, configChanged: false },
    pendingSinks: [],
    ...overrides,
  };
}
const failing = (until: Date, configChanged = false) => ({ failures: 3, nextAttemptAt: until.toISOString(), configChanged });

interface Row {
  reason: string;
  when: string;
  facts: AttemptFacts;
  expect: Partial<AttemptPlan>;
}

const table: Row[] = [
  {
    reason: 'dry-run',
    when: 'renew --dry-run: the whole ACME and DNS path, nothing written, due or not',
    facts: facts({ request: { dryRun: true } }),
    expect: { action: 'dry-run' },
  },
  {
    reason: 'renewed-concurrently',
    when: 'a forced run waited for the lock and another run issued the certificate meanwhile',
    facts: facts({ now: day(0.5), stored: { notBefore, notAfter, issuedAt: day(0.4) }, request: { force: true, startedAt: day(0.3) } }),
    expect: { action: 'skip' },
  },
  {
    reason: 'emergency-tick',
    when: "at the daemon's schedule tick, less than 1/20 of the lifetime left: now, whatever the backoff",
    facts: facts({ trigger: 'tick', now: day(86), renewal: dueByThreshold, backoff: failing(day(87)) }),
    expect: { action: 'renew', at: day(86) },
  },
  {
    reason: 'rate-budget',
    when: 'a forced order would spend the last of the 5 certificates per 7 days, without --yes',
    facts: facts({ renewal: { ...dueByThreshold, reason: 'forced' }, request: { force: true, duplicateBudget: lastOne } }),
    expect: { action: 'skip' },
  },
  {
    reason: 'backoff',
    when: 'due, but the last failure backs off until later',
    facts: facts({ now: day(61), renewal: dueByThreshold, backoff: failing(day(62)) }),
    expect: { action: 'skip', at: day(62) },
  },
  {
    reason: 'missing',
    when: 'nothing stored yet: issue',
    facts: facts({ stored: null, renewal: { due: true, reason: 'missing', message: 'no certificate yet', renewAt: null } }),
    expect: { action: 'issue' },
  },
  {
    reason: 'threshold',
    when: "due for renewal.ts's reason (threshold, ARI, expired, names or key type changed, forced)",
    facts: facts({ now: day(61), renewal: dueByThreshold }),
    expect: { action: 'renew' },
  },
  {
    reason: 'deploy-pending',
    when: 'not due, but a sink does not have the current certificate: deploy, no order',
    facts: facts({ pendingSinks: ['web', 'reload'] }),
    expect: { action: 'deploy', message: 'not due; deploying to web, reload' },
  },
  { reason: 'not-due', when: 'nothing to do until the renewal time', facts: facts(), expect: { action: 'skip', at: day(60) } },
  {
    reason: 'loop-guard',
    when: 'past renewBefore, but too young to be replaced again (renewal.ts)',
    facts: facts({ now: day(12), renewal: { due: false, reason: 'loop-guard', message: '…', renewAt: day(18) } }),
    expect: { action: 'skip', at: day(18) },
  },
];

describe('planAttempt: one row per reason', () => {
  it.each(table)('$reason: $when', (row) => {
    const plan = planAttempt(row.facts);
    expect(plan).toMatchObject({ reason: row.reason, at: row.facts.now, ...row.expect });
  });

  it('the table covers every check of the chain, in its order', () => {
    const checks = ATTEMPT_CHECKS.map((c) => c.name);
    // The last two checks answer with renewal.ts's reasons: 'due' (e.g. missing, threshold) and 'not-due' (also loop-guard).
    const covered = table.map((row) => (['missing', 'threshold'].includes(row.reason) ? 'due' : row.reason === 'loop-guard' ? 'not-due' : row.reason));
    expect([...new Set(covered)]).toEqual(checks);
  });
});

describe('what lifts a backoff', () => {
  const due = { now: day(61), renewal: dueByThreshold, backoff: failing(day(62)) };
  it.each([
    ['--force', facts({ ...due, request: { force: true, duplicateBudget: budgetLeft } })],
    ['--cert NAME', facts({ ...due, request: { overrideBackoff: true } })],
    ['a config changed since the failure', facts({ ...due, backoff: failing(day(62), true) })],
    ['an emergency, when the engine runs', facts({ ...due, now: day(86), backoff: failing(day(87)) })],
  ])('%s', (_what, lifted) => {
    expect(planAttempt(lifted)).toMatchObject({ action: 'renew', reason: 'threshold' });
  });

  it('a backoff that has passed holds nothing', () => {
    expect(planAttempt(facts({ ...due, backoff: failing(day(61)) }))).toMatchObject({ action: 'renew' });
  });

  it('an emergency does not lift it when the daemon re-arms after a failure (tried at every tick, not in a tight loop)', () => {
    const rearmed = facts({ ...due, trigger: 'rearm', now: day(86), backoff: failing(day(87)) });
    expect(planAttempt(rearmed)).toMatchObject({ action: 'skip', reason: 'backoff', at: day(87) });
  });

  it('an expired certificate is tried again within the hour, however long the backoff', () => {
    const now = day(90.5);
    const expired = { ...dueByThreshold, reason: 'expired' };
    const inTenMinutes = new Date(now.getTime() + 600_000);
    const dayLong = facts({ trigger: 'rearm', now, renewal: expired, backoff: failing(day(91.5)) });
    expect(planAttempt(dayLong)).toMatchObject({ reason: 'backoff', at: new Date(now.getTime() + EXPIRED_RETRY_MS) });
    expect(planAttempt(facts({ trigger: 'rearm', now, renewal: expired, backoff: failing(inTenMinutes) }))).toMatchObject({ at: inTenMinutes });
  });

  it("a pending deploy waits out the backoff on the daemon's timer; a run that is asked deploys", () => {
    const pending = { pendingSinks: ['web'], backoff: failing(day(31)) };
    expect(planAttempt(facts({ ...pending, trigger: 'rearm' }))).toMatchObject({ action: 'skip', reason: 'backoff', at: day(31) });
    expect(planAttempt(facts(pending))).toMatchObject({ action: 'deploy', reason: 'deploy-pending' });
  });

  it('a changed config is one whose fingerprint differs from the one recorded at the failure', () => {
    expect(configChanged({ configFingerprint: null }, 'a')).toBe(false);
    expect(configChanged({ configFingerprint: 'a' }, 'a')).toBe(false);
    expect(configChanged({ configFingerprint: 'a' }, 'b')).toBe(true);
    expect(configChanged({ configFingerprint: 'a' }, null)).toBe(true);
  });
});

describe('facts read only when the chain needs them', () => {
  it('asks for the renewal decision (ARI) only past the checks that need none', () => {
    expect(planAttempt(facts({ renewal: undefined }))).toEqual({ needs: 'renewal' });
    expect(planAttempt(facts({ renewal: undefined, request: { dryRun: true } }))).toMatchObject({ action: 'dry-run' });
  });

  it('asks for the duplicate budget only for a forced order that is not confirmed and carries no ARI replaces', () => {
    const forced = { now: day(10), renewal: { ...dueByThreshold, reason: 'forced' } };
    expect(planAttempt(facts({ ...forced, request: { force: true } }))).toEqual({ needs: 'duplicate-budget' });
    expect(planAttempt(facts({ ...forced, request: { force: true, yes: true } }))).toMatchObject({ action: 'renew', reason: 'forced' });
    expect(planAttempt(facts({ ...forced, request: { force: true, replaces: true } }))).toMatchObject({ action: 'renew', reason: 'forced' });
    expect(planAttempt(facts({ ...forced, request: { force: true, duplicateBudget: budgetLeft } }))).toMatchObject({ action: 'renew', reason: 'forced' });
  });
});
