import { describe, expect, it } from 'vitest';
import { alertTime, alertWindowMs, expiringDecision, failureSeverity } from '../../../src/plan/alerts.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

describe('alertWindowMs', () => {
  it('defaults to 7 days for long lifetimes', () => {
    expect(alertWindowMs(90 * DAY)).toBe(7 * DAY);
    expect(alertWindowMs(70 * DAY)).toBe(7 * DAY);
  });

  it('defaults to a tenth of the lifetime when that is smaller (short-lived certificates)', () => {
    expect(alertWindowMs(45 * DAY)).toBeCloseTo(4.5 * DAY); // Let's Encrypt tlsserver profile
    expect(alertWindowMs(6 * DAY)).toBeCloseTo(0.6 * DAY);
    expect(alertWindowMs(160 * HOUR)).toBeCloseTo(16 * HOUR);
    expect(alertWindowMs(120_000)).toBe(12_000);
  });

  it('uses a configured percentage of the lifetime', () => {
    expect(alertWindowMs(90 * DAY, { kind: 'fraction', fraction: 0.2 })).toBeCloseTo(18 * DAY);
  });

  it('uses a configured duration shorter than the lifetime, and falls back to 10% otherwise', () => {
    expect(alertWindowMs(90 * DAY, { kind: 'duration', ms: 14 * DAY })).toBe(14 * DAY);
    expect(alertWindowMs(6 * DAY, { kind: 'duration', ms: 7 * DAY })).toBeCloseTo(0.6 * DAY);
  });

  it('alertTime is notAfter minus the window', () => {
    expect(alertTime(new Date('2026-01-01T00:00:00Z'), new Date('2026-04-01T00:00:00Z')).toISOString()).toBe('2026-03-25T00:00:00.000Z');
  });
});

describe('failureSeverity', () => {
  const notBefore = new Date('2026-01-01T00:00:00Z');
  const notAfter = new Date('2026-04-01T00:00:00Z'); // 90 days: window opens 2026-03-25

  it('no-certificate: warning while nothing was ever issued', () => {
    const result = failureSeverity({ notBefore: null, notAfter: null, now: new Date('2026-01-02T00:00:00Z'), consecutiveFailures: 9 });
    expect(result).toMatchObject({ severity: 'warning', reason: 'no-certificate' });
  });

  it('outside-window: warning while the current certificate has time left', () => {
    const result = failureSeverity({ notBefore, notAfter, now: new Date('2026-03-01T00:00:00Z'), consecutiveFailures: 5 });
    expect(result).toMatchObject({ severity: 'warning', reason: 'outside-window' });
    expect(result.message).toContain('5 times in a row');
  });

  it('critical-window: critical once a failing certificate is inside its alert window', () => {
    const result = failureSeverity({ notBefore, notAfter, now: new Date('2026-03-25T00:00:00Z'), consecutiveFailures: 3 });
    expect(result).toMatchObject({ severity: 'critical', reason: 'critical-window' });
  });

  it('critical-window follows a configured alertBefore', () => {
    const now = new Date('2026-03-10T00:00:00Z');
    expect(failureSeverity({ notBefore, notAfter, now, consecutiveFailures: 2 }).severity).toBe('warning');
    expect(failureSeverity({ notBefore, notAfter, now, consecutiveFailures: 2, alertBefore: { kind: 'fraction', fraction: 0.33 } }).severity).toBe('critical');
  });

  it('expired: critical once the current certificate has expired', () => {
    const result = failureSeverity({ notBefore, notAfter, now: new Date('2026-04-02T00:00:00Z'), consecutiveFailures: 1 });
    expect(result).toMatchObject({ severity: 'critical', reason: 'expired' });
    expect(result.message).toContain('failed once');
  });
});

describe('expiringDecision', () => {
  const notBefore = new Date('2026-01-01T00:00:00Z');
  const notAfter = new Date('2026-04-01T00:00:00Z');

  it('no-certificate: nothing to expire', () => {
    expect(expiringDecision({ notBefore: null, notAfter: null, now: notBefore })).toMatchObject({ expiring: false, reason: 'no-certificate', alertAt: null });
  });

  it('not-yet: before the window, with the time to check again', () => {
    const result = expiringDecision({ notBefore, notAfter, now: new Date('2026-03-01T00:00:00Z') });
    expect(result).toMatchObject({ expiring: false, reason: 'not-yet' });
    expect(result.alertAt?.toISOString()).toBe('2026-03-25T00:00:00.000Z');
  });

  it('in-window: expiring and critical inside the window', () => {
    const result = expiringDecision({ notBefore, notAfter, now: new Date('2026-03-31T12:00:00Z') });
    expect(result).toMatchObject({ expiring: true, reason: 'in-window', severity: 'critical' });
    expect(result.message).toContain('in 12 h');
  });

  it('expired: expiring and critical after notAfter', () => {
    expect(expiringDecision({ notBefore, notAfter, now: new Date('2026-04-01T00:00:00Z') })).toMatchObject({
      expiring: true,
      reason: 'expired',
      severity: 'critical',
    });
  });

  it('a short-lived certificate gets a window proportional to its lifetime', () => {
    const start = new Date('2026-01-01T00:00:00Z');
    const end = new Date(start.getTime() + 120_000); // 2 minutes: window 12 s
    expect(expiringDecision({ notBefore: start, notAfter: end, now: new Date(start.getTime() + 107_000) }).expiring).toBe(false);
    expect(expiringDecision({ notBefore: start, notAfter: end, now: new Date(start.getTime() + 108_000) }).expiring).toBe(true);
  });
});
