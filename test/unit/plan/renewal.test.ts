import { describe, expect, it } from 'vitest';
import type { CertificateInfo, CertificateSpec } from '../../../src/core/types.js';
import { certState, pendingSinks, renewalDecision, renewalTime } from '../../../src/plan/renewal.js';
import { emptyRecord } from '../../../src/state/contract.js';

const day = 86_400_000;
const notBefore = new Date('2026-01-01T00:00:00Z');
const notAfter = new Date(notBefore.getTime() + 90 * day);

const spec: CertificateSpec = {
  name: 'www',
  domains: ['example.com', '*.example.com'],
  dns: 'corp',
  sinks: ['web', 'reload'],
  renewBefore: { kind: 'fraction', fraction: 1 / 3 },
  keyType: 'ecdsa-p256',
  reuseKey: false,
};
const stored: CertificateInfo = { serial: 'AB', notBefore, notAfter, domains: ['*.example.com', 'example.com'], keyType: 'ecdsa-p256', issuer: 'CN=test' };
const at = (days: number): Date => new Date(notBefore.getTime() + days * day);

describe('renewalTime', () => {
  it('renews with a third of the lifetime left, or a fixed duration before expiry', () => {
    expect(renewalTime(notBefore, notAfter, { kind: 'fraction', fraction: 1 / 3 })).toEqual(at(60));
    expect(renewalTime(notBefore, notAfter, { kind: 'duration', ms: 30 * day })).toEqual(at(60));
  });
  it('falls back to a third when the duration is longer than the lifetime', () => {
    expect(renewalTime(notBefore, notAfter, { kind: 'duration', ms: 120 * day })).toEqual(at(60));
  });
});

describe('renewalDecision', () => {
  it('issues when nothing is stored', () => {
    expect(renewalDecision(undefined, spec, at(0))).toMatchObject({ due: true, reason: 'missing', renewAt: null });
  });
  it('is not due before the threshold, whatever the order of names', () => {
    expect(renewalDecision(stored, spec, at(59))).toMatchObject({ due: false, reason: 'not-due', renewAt: at(60) });
  });
  it('is due at the threshold', () => {
    expect(renewalDecision(stored, spec, at(60))).toMatchObject({ due: true, reason: 'threshold' });
  });
  it('is due when expired', () => {
    expect(renewalDecision(stored, spec, at(91))).toMatchObject({ due: true, reason: 'expired' });
  });
  it('is due when the names change', () => {
    expect(renewalDecision(stored, { ...spec, domains: ['example.com'] }, at(1))).toMatchObject({ due: true, reason: 'domains-changed' });
  });
  it('is due when the key type changes', () => {
    expect(renewalDecision(stored, { ...spec, keyType: 'rsa-2048' }, at(1))).toMatchObject({ due: true, reason: 'key-type-changed' });
  });
  it('is due when forced', () => {
    expect(renewalDecision(stored, spec, at(1), { force: true })).toMatchObject({ due: true, reason: 'forced' });
  });
});

describe('pendingSinks and certState', () => {
  it('lists the sinks that lack the current serial, in order', () => {
    expect(pendingSinks(spec, 'AB', { ...emptyRecord(), deployed: { web: 'AB', reload: 'AA' } })).toEqual(['reload']);
  });
  it('ranks expired over failing over due over valid', () => {
    const failing = { ...emptyRecord(), consecutiveFailures: 2, lastResult: { at: '', action: 'renew', result: 'failure' as const, error: 'x' } };
    expect(certState(stored, renewalDecision(stored, spec, at(91)), failing, at(91))).toBe('expired');
    expect(certState(stored, renewalDecision(stored, spec, at(70)), failing, at(70))).toBe('failing');
    expect(certState(stored, renewalDecision(stored, spec, at(70)), emptyRecord(), at(70))).toBe('due');
    expect(certState(stored, renewalDecision(stored, spec, at(10)), emptyRecord(), at(10))).toBe('valid');
    expect(certState(undefined, renewalDecision(undefined, spec, at(10)), emptyRecord(), at(10))).toBe('missing');
  });
});

describe('renewal rules: ARI, emergency, short lifetimes, loop guard', () => {
  const window = (startDay: number, endDay: number, selectedDay: number) => ({
    start: at(startDay),
    end: at(endDay),
    selectedAt: at(selectedDay),
    explanationUrl: 'https://ca.example/why',
  });

  it('lets an ARI window move renewal earlier than the threshold', () => {
    const decision = renewalDecision(stored, spec, at(20), { ari: window(19, 22, 21) });
    expect(decision).toMatchObject({ due: false, reason: 'not-due', rule: 'ari', renewAt: at(21) });
    expect(decision.message).toContain('https://ca.example/why');
    expect(renewalDecision(stored, spec, at(21), { ari: window(19, 22, 21) })).toMatchObject({ due: true, reason: 'ari', rule: 'ari' });
  });

  it('follows ARI later than the threshold, but never past the emergency rule (1/20 left)', () => {
    expect(renewalDecision(stored, spec, at(70), { ari: window(75, 80, 78) })).toMatchObject({ due: false, rule: 'ari', renewAt: at(78) });
    const late = renewalDecision(stored, spec, at(86), { ari: window(88, 89, 88.5) });
    expect(late).toMatchObject({ due: true, reason: 'emergency', rule: 'emergency', renewAt: at(85.5) });
  });

  it('renews at half the lifetime under 10 days with the default policy only', () => {
    const shortAfter = new Date(notBefore.getTime() + 6 * day);
    const short: CertificateInfo = { ...stored, notAfter: shortAfter };
    const byDefault = { ...spec, renewBefore: { kind: 'fraction' as const, fraction: 0.33, shortLifetimeFraction: 0.5 } };
    expect(renewalDecision(short, byDefault, at(1)).renewAt).toEqual(at(3));
    expect(renewalDecision(short, byDefault, at(1)).message).toContain('50% of a lifetime under 10 days');
    // 90 days: the default third.
    expect(renewalDecision(stored, byDefault, at(1)).renewAt).toEqual(new Date(notAfter.getTime() - 0.33 * 90 * day));
    // An explicit fraction is kept as written.
    expect(renewalDecision(short, spec, at(1)).renewAt).toEqual(at(4));
  });

  it('refuses to replace a certificate younger than a fifth of its lifetime by threshold', () => {
    const eager = { ...spec, renewBefore: { kind: 'fraction' as const, fraction: 0.95 } };
    expect(renewalDecision(stored, eager, at(10))).toMatchObject({ due: false, reason: 'loop-guard', rule: 'loop-guard', renewAt: at(18) });
    expect(renewalDecision(stored, eager, at(2))).toMatchObject({ due: false, reason: 'not-due', rule: 'loop-guard' });
    expect(renewalDecision(stored, eager, at(18))).toMatchObject({ due: true, reason: 'threshold', rule: 'loop-guard' });
    // ARI, the operator and a changed config are not held back.
    expect(renewalDecision(stored, eager, at(10), { ari: window(9, 10, 9.5) })).toMatchObject({ due: true, reason: 'ari' });
    expect(renewalDecision(stored, eager, at(10), { force: true })).toMatchObject({ due: true, reason: 'forced' });
    expect(renewalDecision(stored, { ...eager, keyType: 'rsa-2048' }, at(10))).toMatchObject({ due: true, reason: 'key-type-changed' });
  });
});
