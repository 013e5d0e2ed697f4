// Concurrency by stage (issue 18): certificates waiting on DNS or the CA hold no slot of
// maxConcurrent, so many orders are in flight at once, while the CPU-bound steps (key generation,
// CSR, parsing: IssueRequest.cpu) never run more than maxConcurrent at a time. A forced run's
// --reason reaches every order's history line.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { parseConfig } from '../../../src/config/load.js';
import type { DnsProvider } from '../../../src/dns/contract.js';
import type { EngineDeps } from '../../../src/engine/contracts.js';
import type { IssueRequest, Issuer } from '../../../src/issuers/contract.js';
import { renew } from '../../../src/engine/renew.js';
import { openConfigStore } from '../../helpers/state.js';
import { makeCertificate } from '../../helpers/certs.js';
import { ManualClock } from '../../helpers/clock.js';

const DAY = 86_400_000;
const dns: DnsProvider = { name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} };

/** Every order waits (as on DNS propagation) until `count` orders are in flight together. */
class GatheringIssuer implements Issuer {
  readonly directoryUrl = 'https://ca.test/directory';
  inFlight = 0;
  maxInFlight = 0;
  cpuNow = 0;
  maxCpu = 0;
  private arrived = 0;
  private release!: () => void;
  private readonly gathered = new Promise<void>((resolve) => (this.release = resolve));
  constructor(
    private readonly clock: ManualClock,
    private readonly count: number,
  ) {}
  async issue(request: IssueRequest) {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    if (++this.arrived === this.count) this.release();
    await this.gathered; // the DNS and CA waits: no slot held
    const cpu = request.cpu ?? ((work) => work());
    const material = await cpu(async () => {
      this.cpuNow++;
      this.maxCpu = Math.max(this.maxCpu, this.cpuNow);
      await new Promise((resolve) => setImmediate(resolve));
      const notBefore = this.clock.now();
      const issued = makeCertificate({ domains: request.domains, notBefore, notAfter: new Date(notBefore.getTime() + 90 * DAY), keyType: request.keyType });
      this.cpuNow--;
      return issued;
    });
    this.inFlight--;
    return { material };
  }
}

async function harness(count: number, maxConcurrent: number) {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-stages-'));
  const certificates = Array.from({ length: count }, (_, i) => `  - { name: c${i}, domains: [c${i}.example.com], dns: corp, sinks: [hook] }`).join('\n');
  const config = parseConfig(
    `
stateDir: ./state
maxConcurrent: ${maxConcurrent}
acme: { directory: "https://ca.test/directory", email: ops@example.com }
dns: { corp: { type: exec, command: ["/bin/true"] } }
sinks:
  hook: { type: exec, command: ["/bin/true"] }
certificates:
${certificates}
`,
    path.join(dir, 'certkeeper.yaml'),
    { env: {} },
  );
  const clock = new ManualClock('2026-11-22T00:00:00Z');
  const store = await openConfigStore(config, clock);
  const issuer = new GatheringIssuer(clock, count);
  const deps: EngineDeps = {
    config,
    store,
    clock,
    logger: silentLogger,
    issuer: async () => issuer,
    dnsProvider: () => dns,
    sink: () => ({ name: 'hook', type: 'fake', deploy: async () => ({}) }),
  };
  return { deps, issuer, store };
}

describe('renew: concurrency by stage', () => {
  it('keeps 40 orders in flight with maxConcurrent 2, and never more than 2 in a CPU-bound step', async () => {
    const { deps, issuer } = await harness(40, 2);
    const report = await renew({}, deps);
    expect(report).toMatchObject({ succeeded: 40, failed: 0 });
    // Had each order held one of the two slots while it waited, the first two would wait forever.
    expect(issuer.maxInFlight).toBe(40);
    expect(issuer.maxCpu).toBeLessThanOrEqual(2);
    expect(issuer.maxCpu).toBeGreaterThan(0);
  });

  it('records the operator’s --reason in every forced order’s history line', async () => {
    const { deps, store } = await harness(3, 1);
    await renew({}, deps);
    (deps.clock as ManualClock).advance(DAY);
    const second = new GatheringIssuer(deps.clock as ManualClock, 1);
    deps.issuer = async () => second;
    const report = await renew({ force: true, yes: true, note: 'INC-1234 CA revocation' }, deps);
    expect(report.succeeded).toBe(3);
    const history = await store.readHistory({});
    const forced = history.filter((entry) => entry.action === 'renew');
    expect(forced).toHaveLength(3);
    expect(forced.every((entry) => entry.note === 'INC-1234 CA revocation')).toBe(true);
    expect(history.filter((entry) => entry.action === 'issue').every((entry) => entry.note === undefined)).toBe(true);
  });
});
