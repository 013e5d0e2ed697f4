import { describe, expect, it } from 'vitest';
import { assessEndpoint, driftOf, expiryAlert, nameCovers, overallServing, servingOf } from '../../../src/verify/checks.js';
import type { ProbeResult } from '../../../src/core/endpoint-results.js';

const NOW = new Date('2026-11-22T00:00:00Z');
const DAY = 86_400_000;

function served(overrides: Partial<ProbeResult> = {}, leaf: Partial<NonNullable<ProbeResult['leaf']>> = {}): ProbeResult {
  return {
    endpoint: 'web',
    address: 'web.example.com:443',
    sni: 'web.example.com',
    protocol: 'tls',
    reachable: true,
    failure: null,
    error: null,
    at: NOW.toISOString(),
    durationMs: 5,
    leaf: {
      subject: 'CN=web.example.com',
      issuer: 'CN=Test CA',
      serial: 'AA01',
      notBefore: new Date(NOW.getTime() - 10 * DAY).toISOString(),
      notAfter: new Date(NOW.getTime() + 60 * DAY).toISOString(),
      names: ['web.example.com'],
      fingerprint256: 'x',
      ...leaf,
    },
    chain: [],
    trusted: true,
    trustError: null,
    nameMatch: true,
    nameError: null,
    ...overrides,
  };
}

describe('assessEndpoint', () => {
  it('ok: reachable, trusted, name matches, valid', () => {
    expect(assessEndpoint(served(), NOW)).toMatchObject({ ok: true, problems: [], daysLeft: 60 });
  });
  it('unreachable', () => {
    expect(assessEndpoint(served({ reachable: false, leaf: null, error: 'refused' }), NOW)).toMatchObject({
      ok: false,
      problems: ['unreachable'],
      daysLeft: null,
    });
  });
  it('expired (said once, not also as untrusted)', () => {
    const result = assessEndpoint(served({ trusted: false, trustError: 'CERT_HAS_EXPIRED' }, { notAfter: new Date(NOW.getTime() - DAY).toISOString() }), NOW);
    expect(result.problems).toEqual(['expired']);
    expect(result.daysLeft).toBe(-1);
  });
  it('not yet valid', () => {
    expect(assessEndpoint(served({}, { notBefore: new Date(NOW.getTime() + DAY).toISOString() }), NOW).problems).toEqual(['not-yet-valid']);
  });
  it('untrusted and name mismatch together', () => {
    const result = assessEndpoint(served({ trusted: false, trustError: 'SELF_SIGNED', nameMatch: false, nameError: 'not in the certificate' }), NOW);
    expect(result.problems).toEqual(['untrusted', 'name-mismatch']);
    expect(result.messages.join(' ')).toContain('SELF_SIGNED');
  });
});

describe('expiryAlert (thresholds 21, 7, 1 days)', () => {
  const at = (days: number) => new Date(NOW.getTime() + days * DAY);
  it('no certificate', () => expect(expiryAlert(null, NOW, [21, 7, 1])).toMatchObject({ alert: false, reason: 'no-certificate' }));
  it('outside every threshold', () => expect(expiryAlert(at(30), NOW, [21, 7, 1])).toMatchObject({ alert: false, reason: 'not-yet' }));
  it('inside the widest: warning', () =>
    expect(expiryAlert(at(20), NOW, [21, 7, 1])).toMatchObject({ alert: true, reason: 'threshold', thresholdDays: 21, severity: 'warning' }));
  it('inside a narrower one: critical', () => {
    expect(expiryAlert(at(6), NOW, [21, 7, 1])).toMatchObject({ thresholdDays: 7, severity: 'critical' });
    expect(expiryAlert(at(0.5), NOW, [1, 21, 7])).toMatchObject({ thresholdDays: 1, severity: 'critical' });
  });
  it('expired: critical', () => expect(expiryAlert(at(-1), NOW, [21, 7, 1])).toMatchObject({ alert: true, reason: 'expired', severity: 'critical' }));
  it('a single threshold is critical', () => expect(expiryAlert(at(3), NOW, [5])).toMatchObject({ severity: 'critical', thresholdDays: 5 }));
});

describe('serving', () => {
  it('new, old, unreachable per endpoint; unreachable then old win overall', () => {
    expect(servingOf(served(), 'AA01')).toBe('new');
    expect(servingOf(served(), 'BB02')).toBe('old');
    expect(servingOf(served({ reachable: false, leaf: null }), 'AA01')).toBe('unreachable');
    expect(overallServing(['new', 'new'])).toBe('new');
    expect(overallServing(['new', 'old'])).toBe('old');
    expect(overallServing(['old', 'unreachable'])).toBe('unreachable');
  });
});

describe('drift', () => {
  it('wildcards cover exactly one label', () => {
    expect(nameCovers('*.example.com', 'a.example.com')).toBe(true);
    expect(nameCovers('*.example.com', 'a.b.example.com')).toBe(false);
    expect(nameCovers('*.example.com', 'example.com')).toBe(false);
    expect(nameCovers('Example.com', 'example.COM')).toBe(true);
  });
  it('names the managed certificate covering every served name, and whether it is current', () => {
    const managed = [
      { name: 'api', domains: ['api.example.com'], serial: 'CC03' },
      { name: 'www', domains: ['example.com', '*.example.com'], serial: 'AA01' },
    ];
    expect(driftOf(served(), managed)).toMatchObject({ cert: 'www', current: true });
    expect(driftOf(served({}, { serial: '0F' }), managed)).toMatchObject({ cert: 'www', current: false });
    expect(driftOf(served({}, { names: ['other.test'] }), managed)).toBeUndefined();
    expect(driftOf(served({ reachable: false, leaf: null }), managed)).toBeUndefined();
    expect(driftOf(served(), [{ name: 'www', domains: ['web.example.com'], serial: null }])).toMatchObject({ cert: 'www', current: false });
  });
});
