// Pacing a mass re-issue to the CA's budgets (issue 18), through the engine, the real issuer chain
// and the file store: orders without `replaces` go out at the new-orders budget's pace (waiting on
// the test clock, never on real time), and forced renewals of certificates whose CA offers ARI
// carry `replaces`, which exempts them from the budget.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createIssuerChain } from '../../../src/engine/issuer-chain.js';
import { rateLimitsIn } from '../../../src/state/issuer-state.js';
import type { AcmeIssuer } from '../../../src/acme/issuer.js';
import type { IssueRequest } from '../../../src/issuers/contract.js';
import { silentLogger } from '../../../src/core/logger.js';
import { parseConfig } from '../../../src/config/load.js';
import type { DnsProvider } from '../../../src/dns/contract.js';
import type { EngineDeps } from '../../../src/engine/contracts.js';
import { renew } from '../../../src/engine/renew.js';
import { openConfigStore } from '../../helpers/state.js';
import { makeCertificate } from '../../helpers/certs.js';
import { ManualClock } from '../../helpers/clock.js';

const MIN = 60_000;
const dns: DnsProvider = { name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} };

/** A CA that issues at once and reports each order, with or without `replaces`, and when it came. */
class ScriptedCa implements AcmeIssuer {
  orders: { at: number; cert: string; replaces: string | undefined }[] = [];
  constructor(
    readonly directoryUrl: string,
    private readonly clock: ManualClock,
  ) {}
  async issue(request: IssueRequest) {
    const replaces = request.replaces?.directoryUrl === this.directoryUrl ? request.replaces.id : undefined;
    this.orders.push({ at: this.clock.now().getTime(), cert: request.certName, replaces });
    request.onOrder?.({ type: 'created', replaced: replaces !== undefined });
    const notBefore = this.clock.now();
    return {
      material: makeCertificate({ domains: request.domains, notBefore, notAfter: new Date(notBefore.getTime() + 90 * 86_400_000) }),
      orderUrl: 'o',
      accountUrl: 'a',
      directoryUrl: this.directoryUrl,
      replaced: replaces !== undefined,
    };
  }
}

async function harness(certs: number, ari: boolean) {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-pacing-'));
  const names = Array.from({ length: certs }, (_, i) => `c${i}`);
  const config = parseConfig(
    `
stateDir: ./state
issuers:
  - { name: ca, directory: "https://ca.test/dir", email: ops@example.com, rateLimits: { newOrders: { limit: 2, window: 2m } } }
dns: { corp: { type: exec, command: ["/bin/true"] } }
certificates:
${names.map((n) => `  - { name: ${n}, domains: [${n}.example.com], dns: corp }`).join('\n')}
`,
    path.join(dir, 'certkeeper.yaml'),
    { env: {} },
  );
  const clock = new ManualClock('2026-11-22T00:00:00Z');
  const store = await openConfigStore(config, clock);
  const ca = new ScriptedCa(config.issuers[0]!.directoryUrl, clock);
  const chain = createIssuerChain({ issuers: config.issuers, issuerFor: async () => ca, rateLimits: rateLimitsIn(store), clock, logger: silentLogger });
  const deps: EngineDeps = {
    config,
    store,
    clock,
    logger: silentLogger,
    issuer: async () => chain,
    dnsProvider: () => dns,
    sink: () => {
      throw new Error('no sinks');
    },
    ...(ari
      ? {
          renewalInfo: async (cert) => ({
            supported: true as const,
            certId: `aki.${cert.info.serial}`,
            info: {
              start: new Date(clock.now().getTime() + 30 * 86_400_000),
              end: new Date(clock.now().getTime() + 40 * 86_400_000),
              explanationUrl: null,
              retryAfterSeconds: 6 * 3600,
            },
          }),
        }
      : {}),
  };
  return { deps, clock, ca, names };
}

/** The most orders inside any window of `windowMs` (orders at the window's edge have left it). */
function busiestWindow(times: number[], windowMs: number): number {
  return Math.max(...times.map((start) => times.filter((t) => t >= start && t < start + windowMs).length));
}

describe('pacing orders to the CA', () => {
  it('N forced orders against a small new-orders budget go out at its pace: none refused, never more than the budget in a window', async () => {
    const h = await harness(7, false);
    const report = await renew({ force: true, yes: true }, h.deps);
    expect(report.outcomes.map((o) => [o.cert, o.result])).toEqual(h.names.map((n) => [n, 'success']));
    expect(report.outcomes.some((o) => o.code === 'RATE_BUDGET')).toBe(false);
    expect(h.ca.orders).toHaveLength(7);
    // Paced on the test clock: 2 orders per 2 minutes, so the 7th went out 6 minutes after the first.
    const times = h.ca.orders.map((o) => o.at);
    expect(busiestWindow(times, 2 * MIN)).toBe(2);
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(6 * MIN);
  });

  it('a budget that frees later than the bound is still refused (RATE_BUDGET), as before', async () => {
    const h = await harness(3, false);
    // A 3 h window: the spent budget frees long after the 10-minute bound on waiting.
    h.deps.config.issuers[0]!.rateLimits = { newOrders: { limit: 2, windowMs: 3 * 60 * MIN } };
    const report = await renew({}, h.deps);
    expect(report.outcomes.filter((o) => o.result === 'success')).toHaveLength(2);
    expect(report.outcomes.filter((o) => o.code === 'RATE_BUDGET')).toHaveLength(1);
    expect(h.ca.orders).toHaveLength(2);
  });

  it('a wait for the budget ends with the run: Ctrl-C while paced orders nothing more', async () => {
    const h = await harness(4, false);
    const controller = new AbortController();
    // The first wait for a unit to free up is where the operator presses Ctrl-C.
    const sleep = h.clock.sleep.bind(h.clock);
    let waits = 0;
    h.clock.sleep = async (ms, signal) => {
      // Only the pacing waits are this long here (a unit frees 2 minutes after an order).
      if (ms >= 30_000) {
        waits++;
        controller.abort();
      }
      return sleep(ms, signal);
    };
    const report = await renew({ force: true, yes: true, signal: controller.signal }, h.deps);
    expect(waits).toBeGreaterThan(0);
    expect(h.ca.orders).toHaveLength(2);
    expect(report.outcomes.filter((o) => o.result === 'success')).toHaveLength(2);
    expect(report.outcomes.some((o) => o.code === 'RATE_BUDGET')).toBe(false);
  });

  it('forced renewals of certificates whose CA offers ARI carry `replaces` and are neither counted nor paced', async () => {
    const h = await harness(5, true);
    // First issue: no certificate to replace, so paced (5 orders, 2 per 2 minutes).
    const first = await renew({}, h.deps);
    expect(first.outcomes.every((o) => o.result === 'success')).toBe(true);
    expect(h.ca.orders.every((o) => o.replaces === undefined)).toBe(true);
    // The budget is spent now; a forced re-issue of everything (an incident) is exempt: at once.
    const before = h.clock.now().getTime();
    const forced = await renew({ force: true, yes: true }, h.deps);
    expect(forced.outcomes.map((o) => [o.cert, o.result])).toEqual(h.names.map((n) => [n, 'success']));
    const renewals = h.ca.orders.slice(5);
    expect(renewals).toHaveLength(5);
    expect(renewals.every((o) => o.replaces?.startsWith('aki.'))).toBe(true);
    // No order waited for the budget: the test clock did not move to free a unit.
    expect(Math.max(...renewals.map((o) => o.at))).toBeLessThan(before + MIN);
  });
});
