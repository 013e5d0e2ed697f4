import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { loadConfigFile } from '../../../src/config/load.js';
import { wire } from '../../../src/cli/wiring.js';
import { dryRunTarget } from '../../../src/engine/rehearse.js';
import { nextRehearsalAt, rehearsalDirectory, rehearsalOffsetMs, rehearsalSeverity, STAGING_TWINS } from '../../../src/plan/rehearsal.js';
import { ManualClock } from '../../helpers/clock.js';

const DAY = 86_400_000;
const LE = 'https://acme-v02.api.letsencrypt.org/directory';
const LE_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';

describe('rehearsalDirectory', () => {
  it("sends Let's Encrypt dry runs to its staging directory", () => {
    expect(rehearsalDirectory(LE)).toEqual({ url: LE_STAGING, source: 'known-twin' });
  });
  it('prefers a configured stagingDirectory over a known twin', () => {
    expect(rehearsalDirectory(LE, 'https://other.test/dir')).toEqual({ url: 'https://other.test/dir', source: 'configured' });
  });
  it('keeps the directory of a CA without a staging twin (Pebble, a private CA)', () => {
    expect(rehearsalDirectory('https://127.0.0.1:14000/dir')).toEqual({ url: 'https://127.0.0.1:14000/dir', source: 'same' });
    expect(rehearsalDirectory(LE_STAGING)).toEqual({ url: LE_STAGING, source: 'same' }); // staging is its own rehearsal
  });
  it('lists only twins that differ from their production directory', () => {
    for (const [production, staging] of Object.entries(STAGING_TWINS)) expect(staging).not.toBe(production);
  });
});

describe('rehearsalOffsetMs', () => {
  it('is stable per certificate, inside the period, and spreads certificates out', () => {
    const week = 7 * DAY;
    const offsets = Array.from({ length: 50 }, (_, i) => rehearsalOffsetMs(week, `cert-${i}`));
    expect(rehearsalOffsetMs(week, 'cert-1')).toBe(offsets[1]);
    expect(offsets.every((o) => o >= 0 && o < week)).toBe(true);
    expect(new Set(offsets).size).toBe(50);
    // Both halves of the week get some.
    expect(offsets.some((o) => o < week / 2) && offsets.some((o) => o >= week / 2)).toBe(true);
  });
});

describe('nextRehearsalAt', () => {
  const startedAt = new Date('2026-11-22T00:00:00Z');
  it('first falls one offset after the start, then one period after the last', () => {
    const everyMs = 7 * DAY;
    expect(nextRehearsalAt({ everyMs, seed: 'www', startedAt, lastAt: null, now: startedAt }).getTime()).toBe(
      startedAt.getTime() + rehearsalOffsetMs(everyMs, 'www'),
    );
    const lastAt = new Date('2026-11-25T00:00:00Z');
    expect(nextRehearsalAt({ everyMs, seed: 'www', startedAt, lastAt, now: new Date('2026-11-26T00:00:00Z') })).toEqual(new Date('2026-12-02T00:00:00Z'));
  });
  it('treats a last rehearsal in the future (clock moved back) as now', () => {
    const now = new Date('2026-11-20T00:00:00Z');
    expect(nextRehearsalAt({ everyMs: DAY, seed: 'www', startedAt, lastAt: new Date('2027-01-01T00:00:00Z'), now })).toEqual(new Date('2026-11-21T00:00:00Z'));
  });
});

describe('rehearsalSeverity', () => {
  const notBefore = new Date('2026-01-01T00:00:00Z');
  const notAfter = new Date(notBefore.getTime() + 90 * DAY);
  const policy = { kind: 'fraction', fraction: 1 / 3 } as const; // due at day 60
  it('is a warning while the real renewal is still ahead', () => {
    expect(rehearsalSeverity({ notBefore, notAfter }, policy, new Date(notBefore.getTime() + 10 * DAY))).toMatchObject({
      severity: 'warning',
      reason: 'renewal-far',
    });
  });
  it('is critical once the real renewal is due', () => {
    expect(rehearsalSeverity({ notBefore, notAfter }, policy, new Date(notBefore.getTime() + 61 * DAY))).toMatchObject({
      severity: 'critical',
      reason: 'renewal-near',
    });
  });
  it('is critical without a certificate (the first issuance would fail the same way)', () => {
    expect(rehearsalSeverity(undefined, policy, notBefore)).toMatchObject({ severity: 'critical', reason: 'no-certificate' });
  });
});

describe('the issuer for a dry run (wiring)', () => {
  function configWith(acme: string) {
    const dir = mkdtempSync(path.join(tmpdir(), 'ck-rehearse-wiring-'));
    const file = path.join(dir, 'certkeeper.yaml');
    writeFileSync(file, `stateDir: ./state\nacme: ${acme}\ndns: { corp: { type: exec, command: ["/bin/true"] } }\n`);
    return loadConfigFile(file, { env: {} });
  }
  it("routes dry runs to Let's Encrypt staging and real orders to production", async () => {
    const deps = await wire(configWith('{ directory: letsencrypt }'), { clock: new ManualClock(), logger: silentLogger });
    expect((await deps.issuer()).directoryUrl).toBe(LE);
    expect((await deps.issuer({ dryRun: true })).directoryUrl).toBe(LE_STAGING);
    expect((await deps.issuer({ dryRun: false })).directoryUrl).toBe(LE);
  });
  it('routes dry runs to acme.stagingDirectory when set', async () => {
    const deps = await wire(configWith('{ directory: "https://ca.test/dir", stagingDirectory: "https://staging.ca.test/dir" }'), {
      clock: new ManualClock(),
      logger: silentLogger,
    });
    expect((await deps.issuer({ dryRun: true })).directoryUrl).toBe('https://staging.ca.test/dir');
    expect((await deps.issuer()).directoryUrl).toBe('https://ca.test/dir');
  });
  it("with issuers:, uses the certificate's first issuer and its stagingDirectory", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ck-rehearse-issuers-'));
    const file = path.join(dir, 'certkeeper.yaml');
    writeFileSync(
      file,
      `stateDir: ./state
issuers:
  - { name: main, directory: letsencrypt }
  - { name: private, directory: "https://ca.corp.test/dir", stagingDirectory: "https://staging.ca.corp.test/dir" }
dns: { corp: { type: exec, command: ["/bin/true"] } }
certificates:
  - { name: public, domains: [www.example.com], dns: corp }
  - { name: internal, domains: [app.corp.test], dns: corp, issuers: [private, main] }
`,
    );
    const config = loadConfigFile(file, { env: {} });
    expect(dryRunTarget(config, 'public').directoryUrl).toBe(LE_STAGING);
    expect(dryRunTarget(config, 'internal').directoryUrl).toBe('https://staging.ca.corp.test/dir');
    expect(dryRunTarget(config).directoryUrl).toBe(LE_STAGING);
    const deps = await wire(config, { clock: new ManualClock(), logger: silentLogger });
    expect((await deps.issuer({ dryRun: true, cert: 'internal' })).directoryUrl).toBe('https://staging.ca.corp.test/dir');
    expect((await deps.issuer({ dryRun: true, cert: 'public' })).directoryUrl).toBe(LE_STAGING);
  });
  it('rejects a stagingDirectory that is not a URL', () => {
    expect(() => configWith('{ directory: letsencrypt, stagingDirectory: "not a url" }')).toThrow(/stagingDirectory.*http\(s\) URL/);
  });
});
