// The simulated year (simulated-year.test.ts runs it for 40 certificates, simulated-year.chaos.ts
// for 200): through the real Agent (the daemon's scheduler, the engine, the alert policy):
// a fake clock, a fake CA issuing 30-day certificates to 200 certificates, 10% of orders failing
// at random (seeded), and a 3-day DNS outage. Nothing may expire, and every failure while the
// current certificate is inside its alert window must be a critical alert.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { CertkeeperError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { loadConfigFile, type Config } from '../../src/config/load.js';
import { Agent } from '../../src/engine/agent.js';
import type { EngineDeps } from '../../src/engine/contracts.js';
import type { IssueRequest, Issuer } from '../../src/issuers/contract.js';
import type { AgentEvent } from '../../src/observe/events.js';
import { isAgentEvent } from '../../src/observe/stream.js';
import { alertTime } from '../../src/plan/alerts.js';
import { makeCertificate } from '../helpers/certs.js';
import { MemoryStore } from '../helpers/memory-store.js';
import { realTick, TimerClock } from '../helpers/timer-clock.js';

const DAY = 86_400_000;
const LIFETIME = 30 * DAY;
const START = Date.parse('2027-01-01T00:00:00Z');
const OUTAGE = { from: START + 140 * DAY, to: START + 143 * DAY };

/** mulberry32: a small seeded PRNG, so a failing run can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Issued {
  at: number;
  notBefore: number;
  notAfter: number;
}

class FlakyCa implements Issuer {
  readonly directoryUrl = 'https://ca.test/directory';
  readonly issued = new Map<string, Issued[]>();
  orders = 0;
  failedOrders = 0;
  private readonly keyPem = makeCertificate({ domains: ['key.example.test'] }).keyPem;
  constructor(
    private readonly clock: TimerClock,
    private readonly roll: () => number,
  ) {}
  async issue(request: IssueRequest) {
    this.orders++;
    const record = { fqdn: `_acme-challenge.${request.domains[0]}`, value: 'v', domain: request.domains[0]! };
    await request.dns.presentTxt(record); // throws during the outage
    try {
      if (this.roll() < 0.1) {
        this.failedOrders++;
        throw new CertkeeperError('ACME_ERROR', 'the CA had a bad moment');
      }
      const now = this.clock.now().getTime();
      const notAfter = now + LIFETIME;
      const list = this.issued.get(request.certName) ?? [];
      list.push({ at: now, notBefore: now, notAfter });
      this.issued.set(request.certName, list);
      return { material: makeCertificate({ domains: request.domains, notBefore: new Date(now), notAfter: new Date(notAfter), keyPem: this.keyPem }) };
    } finally {
      await request.dns.cleanupTxt(record);
    }
  }
}

/** The alert window: 30% of the lifetime (9 days), so retries after a failed renewal at ~2/3 can fall inside it. */
const ALERT_FRACTION = 0.3;

/** Runs the year for `CERTS` certificates and asserts what must hold; stops the agent. */
export async function simulateYear(CERTS: number): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-year-'));
  const configFile = path.join(dir, 'certkeeper.yaml');
  const certs = Array.from({ length: CERTS }, (_, i) => `  - { name: c${i}, domains: [c${i}.example.test], dns: corp }`).join('\n');
  writeFileSync(
    configFile,
    `stateDir: ./state\nalertBefore: "${ALERT_FRACTION * 100}%"\nacme: { directory: "https://ca.test/directory" }\ndns: { corp: { type: exec, command: ["/bin/true"] } }\ncertificates:\n${certs}\n`,
  );
  const clock = new TimerClock(new Date(START));
  const ca = new FlakyCa(clock, random(20270101));
  const store = new MemoryStore();
  const events: AgentEvent[] = [];
  let outageHits = 0;
  const dns = {
    name: 'corp',
    presentTxt: async () => {
      const now = clock.now().getTime();
      if (now >= OUTAGE.from && now < OUTAGE.to) {
        outageHits++;
        throw new CertkeeperError('DNS_UPDATE_FAILED', 'the DNS API is down');
      }
    },
    cleanupTxt: async () => {},
  };
  const agent = new Agent({
    clock,
    logger: silentLogger,
    host: 'sim-host',
    loadConfig: () => loadConfigFile(configFile, { env: {} }),
    wire: async (config: Config, onEvent): Promise<EngineDeps> => ({
      config,
      store,
      clock,
      logger: silentLogger,
      issuer: async () => ca,
      dnsProvider: () => dns,
      sink: () => {
        throw new Error('no sinks configured');
      },
      onEvent,
    }),
    onEvent: (event) => {
      if (isAgentEvent(event)) events.push(event); // the alerts; a run's progress is renew's
    },
  });
  try {
    const settle = async (): Promise<void> => {
      await realTick();
      await agent.idle();
      await realTick();
    };
    await agent.start();
    await clock.advance(0, settle);
    for (let day = 0; day < 365; day++) await clock.advance(DAY, settle);
    const end = clock.now().getTime();

    // The faults really happened.
    expect(ca.failedOrders).toBeGreaterThan(CERTS); // ~10% of ~18 orders each
    expect(outageHits).toBeGreaterThan(0);

    // No certificate ever expired: each one was replaced before its predecessor's notAfter, and the
    // last one is still valid at the end of the year.
    const gaps: string[] = [];
    for (let i = 0; i < CERTS; i++) {
      const list = ca.issued.get(`c${i}`) ?? [];
      if (list.length === 0) gaps.push(`c${i}: never issued`);
      for (let k = 1; k < list.length; k++)
        if (list[k]!.at >= list[k - 1]!.notAfter) gaps.push(`c${i}: expired ${new Date(list[k - 1]!.notAfter).toISOString()}`);
      const last = list.at(-1);
      if (last && last.notAfter <= end) gaps.push(`c${i}: expired at the end`);
    }
    expect(gaps).toEqual([]);
    expect(events.filter((e) => e.type === 'expiring' && e.severity === 'critical')).toEqual([]);
    // About 365 / 20 renewals each (renewal at 2/3 of 30 days).
    expect(Math.min(...[...ca.issued.values()].map((l) => l.length))).toBeGreaterThanOrEqual(17);

    // Every failure while the current certificate was inside its alert window was critical;
    // failures before the window were warnings (no alert storm).
    const failures = events.filter((e) => e.type === 'failed');
    expect(failures.length).toBeGreaterThanOrEqual(ca.failedOrders);
    let insideWindow = 0;
    const wrong: string[] = [];
    for (const event of failures) {
      const at = Date.parse(event.at);
      const current = (ca.issued.get(event.cert) ?? []).filter((c) => c.at <= at).at(-1);
      if (!current) continue; // the first issuance: nothing in service yet
      const inWindow = at >= alertTime(new Date(current.notBefore), new Date(current.notAfter), { kind: 'fraction', fraction: ALERT_FRACTION }).getTime();
      if (inWindow) insideWindow++;
      if (inWindow && event.severity !== 'critical') wrong.push(`${event.cert} at ${event.at}: ${event.severity} inside the window`);
      if (!inWindow && event.severity === 'critical') wrong.push(`${event.cert} at ${event.at}: critical outside the window`);
    }
    expect(wrong).toEqual([]);
    // The outage pushed some retries into the alert window, so the check above is not vacuous.
    expect(insideWindow).toBeGreaterThan(0);
  } finally {
    await agent.stop(1000);
  }
}
