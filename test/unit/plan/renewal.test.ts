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
