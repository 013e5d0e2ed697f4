// A watched endpoint whose intermediate expires before its leaf: the metric already reports the
// earliest expiry in the served chain (as blackbox_exporter does); the watch's alert must too, and
// say which certificate it is.

import { expect, it } from 'vitest';
import type { ProbeResult, ServedCertificate } from '../../../src/core/endpoint-results.js';
import { judge } from '../../../src/verify/watcher.js';

const now = new Date('2026-12-04T12:00:00Z');
const DAY = 86_400_000;
const cert = (subject: string, issuer: string, days: number): ServedCertificate => ({
  subject,
  issuer,
  serial: subject.toUpperCase().replace(/[^A-Z0-9]/g, ''),
  notBefore: new Date(now.getTime() - 30 * DAY).toISOString(),
  notAfter: new Date(now.getTime() + days * DAY).toISOString(),
  names: [],
  fingerprint256: '00',
});

function served(chain: ServedCertificate[]): ProbeResult {
  return {
    endpoint: 'www.example.test:443',
    address: 'www.example.test:443',
    sni: 'www.example.test',
    protocol: 'tls',
    reachable: true,
    failure: null,
    error: null,
    at: now.toISOString(),
    durationMs: 5,
    leaf: chain[0]!,
    chain,
    trusted: true,
    trustError: null,
    nameMatch: true,
    nameError: null,
  };
}

it('alerts on an intermediate that expires before the leaf, naming it', () => {
  const result = judge(
    served([cert('CN=www.example.test', 'CN=Intermediate R9', 60), cert('CN=Intermediate R9', 'CN=Root X1', 5), cert('CN=Root X1', 'CN=Root X1', 1)]),
    now,
    [21, 7, 1],
    [],
  );
  expect(result.alert).toEqual({ alert: true, reason: 'threshold', severity: 'critical', thresholdDays: 7 });
  expect(result.ok).toBe(false);
  expect(result.messages.at(-1)).toMatch(/^the intermediate CN=Intermediate R9 expires at .* \(5 days left, under 7 days\)$/);
});

it("keeps the leaf's own wording when the leaf expires first, and leaves a served root out", () => {
  const result = judge(
    served([cert('CN=www.example.test', 'CN=Intermediate R9', 6), cert('CN=Intermediate R9', 'CN=Root X1', 300), cert('CN=Root X1', 'CN=Root X1', 1)]),
    now,
    [21, 7, 1],
    [],
  );
  expect(result.alert.thresholdDays).toBe(7);
  expect(result.messages.at(-1)).toMatch(/^expires at .* \(6 days left, under 7 days\)$/);
});
