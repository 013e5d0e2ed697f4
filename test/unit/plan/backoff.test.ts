import { describe, expect, it } from 'vitest';
import { backoffDelayMs, inBackoff, isEmergency, jitterMs, maxJitterMs } from '../../../src/plan/backoff.js';

const MIN = 60_000;
const DAY = 86_400_000;

describe('backoff', () => {
  it('goes 1 min, 10 min, 100 min, then daily', () => {
    expect([1, 2, 3, 4, 5, 9].map((n) => backoffDelayMs(n))).toEqual([MIN, 10 * MIN, 100 * MIN, DAY, DAY, DAY]);
  });
  it('honours a longer Retry-After from the CA, never a shorter one', () => {
    expect(backoffDelayMs(1, undefined, 3600)).toBe(3_600_000);
    expect(backoffDelayMs(4, undefined, 5)).toBe(DAY);
  });
  it('uses configured steps, the last one repeating', () => {
    expect([1, 2, 3].map((n) => backoffDelayMs(n, [1000, 5000]))).toEqual([1000, 5000, 5000]);
  });
  it('knows when a backoff still holds', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    expect(inBackoff(null, now)).toBe(false);
    expect(inBackoff('2026-01-01T00:00:01Z', now)).toBe(true);
    expect(inBackoff('2026-01-01T00:00:00Z', now)).toBe(false);
  });
});

describe('emergency rule', () => {
  const notBefore = new Date('2026-01-01T00:00:00Z');
  const notAfter = new Date(notBefore.getTime() + 100 * DAY);
  it('starts once less than 1/20 of the lifetime remains', () => {
    expect(isEmergency(notBefore, notAfter, new Date(notBefore.getTime() + 94 * DAY))).toBe(false);
    expect(isEmergency(notBefore, notAfter, new Date(notBefore.getTime() + 95.5 * DAY))).toBe(true);
    expect(isEmergency(notBefore, notAfter, new Date(notAfter.getTime() + 1))).toBe(true);
  });
});

describe('jitter', () => {
  it('is at most ~2% of the lifetime and never more than an hour', () => {
    expect(maxJitterMs(120_000)).toBe(2400); // a 2-minute certificate: 2.4 s
    expect(maxJitterMs(6 * DAY)).toBe(3_600_000); // 6 days: capped at an hour (2% would be ~2.9 h)
    expect(maxJitterMs(90 * DAY)).toBe(3_600_000);
  });
  it('is stable for a seed and spread across seeds', () => {
    expect(jitterMs(90 * DAY, 'host-a/www/01')).toBe(jitterMs(90 * DAY, 'host-a/www/01'));
    const values = new Set(Array.from({ length: 50 }, (_, i) => jitterMs(90 * DAY, `host-${i}/www/01`)));
    expect(values.size).toBeGreaterThan(45);
    for (const value of values) expect(value).toBeGreaterThanOrEqual(0);
    for (const value of values) expect(value).toBeLessThan(3_600_000);
  });
});
