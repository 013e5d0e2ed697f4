import { describe, expect, it } from 'vitest';
import type { HistoryEntry } from '../../../src/core/types.js';
import { duplicateBudget, orderAdmission, ordersFromHistory, paceOrder, type LedgerOrder, type OrderAdmissionRequest } from '../../../src/plan/budget.js';

const now = new Date('2026-06-10T00:00:00Z');
const line = (daysAgo: number, extra: Partial<HistoryEntry> = {}): HistoryEntry => ({
  at: new Date(now.getTime() - daysAgo * 86_400_000).toISOString(),
  cert: 'www',
  action: 'renew',
  result: 'success',
  serial: 'AA',
  notAfter: null,
  durationMs: 1,
  error: null,
  ...extra,
});

describe('duplicateBudget', () => {
  it('counts successful orders of this certificate in the last 7 days', () => {
    const history = [
      line(1),
      line(2, { action: 'issue' }),
      line(3, { result: 'failure' }),
      line(4, { action: 'deploy' }),
      line(5, { cert: 'other' }),
      line(8),
      line(6, { action: 'dry-run' }),
    ];
    expect(duplicateBudget(history, 'www', now)).toMatchObject({ used: 2, limit: 5, lastOne: false });
  });
  it('flags the order that would spend the last one', () => {
    expect(duplicateBudget([line(1), line(1), line(2), line(6)], 'www', now)).toMatchObject({ used: 4, lastOne: true });
    expect(duplicateBudget([line(1), line(1), line(2), line(6)], 'www', now).message).toContain('--force --yes');
  });
});

describe('orderAdmission (new orders per account, failed authorizations per name)', () => {
  const HOUR = 3_600_000;
  const account = { directoryUrl: 'https://ca.test/dir', email: 'ops@example.test' };
  const limits = { newOrders: { limit: 3, windowMs: 3 * HOUR }, failedAuthorizations: { limit: 2, windowMs: HOUR } };
  const order = (minutesAgo: number, extra: Partial<LedgerOrder> = {}): LedgerOrder => ({
    issuer: 'le',
    ...account,
    replaced: false,
    at: now.getTime() - minutesAgo * 60_000,
    ...extra,
  });
  const ask = (orders: LedgerOrder[], extra: Partial<OrderAdmissionRequest> = {}) =>
    orderAdmission(orders, { account, names: ['example.com'], limits, replaces: false, force: false, yes: false, ...extra }, now);

  it('admits while under every budget, and counts only this account inside the window', () => {
    expect(ask([order(10), order(20)])).toEqual({ admit: true });
    const elsewhere = [
      order(1, { email: 'other@example.test' }),
      order(2, { directoryUrl: 'https://other.test/dir' }),
      order(4 * 60),
      order(5, { replaced: true }),
    ];
    expect(ask([order(10), order(20), ...elsewhere])).toEqual({ admit: true });
  });

  it('refuses when the new-order budget is spent, until the oldest counted order leaves the window', () => {
    const verdict = ask([order(10), order(30), order(60)]);
    expect(verdict).toMatchObject({ admit: false, exhausted: true });
    if (verdict.admit) throw new Error('unreachable');
    expect(verdict.until.toISOString()).toBe(new Date(now.getTime() - 60 * 60_000 + 3 * HOUR).toISOString());
    expect(verdict.message).toContain('3 of 3 new orders in the last 3 h');
  });

  it('refuses a name with too many failed authorizations in the last hour (wildcards count as their base name)', () => {
    const failed = [order(5, { failedNames: ['*.example.com'] }), order(50, { failedNames: ['example.com'] })];
    const verdict = ask(failed, { names: ['example.com', 'www.example.com'] });
    expect(verdict).toMatchObject({ admit: false, exhausted: true });
    if (verdict.admit) throw new Error('unreachable');
    expect(verdict.message).toContain('2 of 2 failed authorizations for example.com');
    // One more fits once the older of the two has left the hour.
    expect(verdict.until.getTime()).toBe(now.getTime() - 50 * 60_000 + HOUR);
    // Another name of the same account is not held back; nor are failures older than the hour.
    expect(ask(failed, { names: ['api.example.com'] })).toEqual({ admit: true });
    expect(ask([order(61, { failedNames: ['example.com'] }), order(70, { failedNames: ['example.com'] })])).toEqual({ admit: true });
  });

  it('a forced order may not spend the last unit without --yes; --force --yes orders even past a spent count', () => {
    const two = [order(10), order(20)];
    expect(ask(two, { force: true })).toMatchObject({ admit: false, exhausted: false, message: expect.stringContaining('confirm with --force --yes') });
    expect(ask(two, { force: true, yes: true })).toEqual({ admit: true });
    const spent = [order(10), order(20), order(30)];
    expect(ask(spent, { force: true, yes: true })).toMatchObject({ admit: true, warning: expect.stringContaining('ordering anyway') });
    // --yes alone (no --force) confirms nothing.
    expect(ask(spent, { yes: true })).toMatchObject({ admit: false, exhausted: true });
  });

  it('orders carrying ARI replaces are exempt, and a CA without budgets admits everything', () => {
    const spent = [order(10), order(20), order(30)];
    expect(ask(spent, { replaces: true })).toEqual({ admit: true });
    expect(ask(spent, { limits: undefined })).toEqual({ admit: true });
  });

  it('reads the orders out of history lines', () => {
    const history = [
      line(0, { orders: [{ issuer: 'le', ...account, replaced: false, failedNames: ['example.com'] }] }),
      line(0),
      line(0, { orders: [{ issuer: 'b', ...account, replaced: true }] }),
    ];
    const orders = ordersFromHistory(history);
    expect(orders).toHaveLength(2);
    expect(orders[0]).toMatchObject({ issuer: 'le', failedNames: ['example.com'], at: Date.parse(history[0]!.at) });
  });
});

describe('paceOrder (wait briefly for a spent budget instead of refusing or bursting past it)', () => {
  const MIN = 60_000;
  const account = { directoryUrl: 'https://ca.test/dir', email: 'ops@example.test' };
  const limits = { newOrders: { limit: 3, windowMs: 180 * MIN } };
  const order = (minutesAgo: number, extra: Partial<LedgerOrder> = {}): LedgerOrder => ({
    issuer: 'le',
    ...account,
    replaced: false,
    at: now.getTime() - minutesAgo * MIN,
    ...extra,
  });
  // The oldest of three counted orders is 178 min old: a unit frees in 2 min.
  const spent = [order(178), order(100), order(1)];
  const request = (extra: Partial<OrderAdmissionRequest> = {}): OrderAdmissionRequest => ({
    account,
    names: ['example.com'],
    limits,
    replaces: false,
    force: false,
    yes: false,
    ...extra,
  });

  const table: { name: string; orders: LedgerOrder[]; extra?: Partial<OrderAdmissionRequest>; maxWaitMs: number; expected: string; ms?: number }[] = [
    { name: 'units left: order now', orders: [order(1)], maxWaitMs: 10 * MIN, expected: 'order' },
    { name: 'spent, frees within the bound: wait for it', orders: spent, maxWaitMs: 10 * MIN, expected: 'wait', ms: 2 * MIN },
    { name: 'spent, frees exactly at the bound: wait', orders: spent, maxWaitMs: 2 * MIN, expected: 'wait', ms: 2 * MIN },
    { name: 'spent, frees past the bound: refused as before', orders: spent, maxWaitMs: 2 * MIN - 1, expected: 'refuse' },
    { name: 'no waiting allowed: refused', orders: spent, maxWaitMs: 0, expected: 'refuse' },
    {
      name: 'forced and confirmed, frees soon: waits rather than order past the budget',
      orders: spent,
      extra: { force: true, yes: true },
      maxWaitMs: 10 * MIN,
      expected: 'wait',
      ms: 2 * MIN,
    },
    {
      name: 'forced and confirmed, frees late: orders anyway (as before)',
      orders: spent,
      extra: { force: true, yes: true },
      maxWaitMs: MIN,
      expected: 'order',
    },
    {
      name: 'forced, last unit, not confirmed: refused for the operator, not waited for',
      orders: [order(1), order(2)],
      extra: { force: true },
      maxWaitMs: 10 * MIN,
      expected: 'refuse',
    },
    { name: 'carries replaces: exempt, orders at once', orders: spent, extra: { replaces: true }, maxWaitMs: 10 * MIN, expected: 'order' },
    { name: 'replaced orders do not count', orders: [order(178), order(100), order(1, { replaced: true })], maxWaitMs: 0, expected: 'order' },
  ];
  it.each(table)('$name', ({ orders, extra, maxWaitMs, expected, ms }) => {
    const pace = paceOrder(orders, request(extra), now, maxWaitMs);
    expect(pace.action).toBe(expected);
    if (pace.action === 'wait') expect(pace.ms).toBe(ms);
    if (pace.action === 'refuse') expect(pace.admission).toEqual(orderAdmission(orders, request(extra), now));
  });
});
