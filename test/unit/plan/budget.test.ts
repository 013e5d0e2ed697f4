import { describe, expect, it } from 'vitest';
import type { HistoryEntry } from '../../../src/core/types.js';
import { duplicateBudget } from '../../../src/plan/budget.js';

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
    const history = [line(1), line(2, { action: 'issue' }), line(3, { result: 'failure' }), line(4, { action: 'deploy' }), line(5, { cert: 'other' }), line(8), line(6, { action: 'dry-run' })];
    expect(duplicateBudget(history, 'www', now)).toMatchObject({ used: 2, limit: 5, lastOne: false });
  });
  it('flags the order that would spend the last one', () => {
    expect(duplicateBudget([line(1), line(1), line(2), line(6)], 'www', now)).toMatchObject({ used: 4, lastOne: true });
    expect(duplicateBudget([line(1), line(1), line(2), line(6)], 'www', now).message).toContain('--force --yes');
  });
});
