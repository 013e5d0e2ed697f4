import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { loadConfigFile, type Config } from '../../../src/config/load.js';
import { Agent } from '../../../src/engine/agent.js';
import type { EngineDeps } from '../../../src/engine/contracts.js';
import type { IssueRequest, Issuer } from '../../../src/issuers/contract.js';
import type { AgentEvent } from '../../../src/observe/events.js';
import { isAgentEvent } from '../../../src/observe/stream.js';
import { maxJitterMs } from '../../../src/plan/backoff.js';
import type { Sink } from '../../../src/sinks/contract.js';
import type { RepositoryStore } from '../../../src/state/repository-store.js';
import { openConfigStore } from '../../helpers/state.js';
import { makeCertificate } from '../../helpers/certs.js';
import { realTick, TimerClock } from '../../helpers/timer-clock.js';

const MIN = 60_000;
const DAY = 86_400_000;
const LIFETIME = 90 * DAY;

class FakeIssuer implements Issuer {
  readonly directoryUrl = 'https://ca.test/directory';
  calls: { name: string; at: number }[] = [];
  fail: Error | undefined;
  constructor(private readonly clock: TimerClock) {}
  async issue(request: IssueRequest) {
    this.calls.push({ name: request.certName, at: this.clock.now().getTime() });
    if (this.fail) throw this.fail;
    const notBefore = this.clock.now();
    return { material: makeCertificate({ domains: request.domains, notBefore, notAfter: new Date(notBefore.getTime() + LIFETIME) }) };
  }
}

const CONFIG = (certs: string) => `
stateDir: ./state
acme: { directory: "https://ca.test/directory" }
dns: { corp: { type: exec, command: ["/bin/true"] } }
sinks: { reload: { type: exec, command: ["/bin/true"] } }
certificates:
${certs}
`;

interface Harness {
  agent: Agent;
  clock: TimerClock;
  issuer: FakeIssuer;
  events: AgentEvent[];
  configFile: string;
  store: () => RepositoryStore;
}

const agents: Agent[] = [];
afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.stop(1000);
});

/** Set by a test: the next wire() (opening the store of a config) fails with it. */
let wireFailure: Error | undefined;

function harness(
  certs = '  - { name: www, domains: [www.example.com], dns: corp, sinks: [reload] }\n  - { name: api, domains: [api.example.com], dns: corp }',
): Harness {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-agent-'));
  const configFile = path.join(dir, 'certkeeper.yaml');
  writeFileSync(configFile, CONFIG(certs));
  const clock = new TimerClock('2026-11-22T00:00:00Z');
  const issuer = new FakeIssuer(clock);
  const events: AgentEvent[] = [];
  let store: RepositoryStore | undefined;
  const sink: Sink = { name: 'reload', type: 'fake', deploy: async () => ({}) };
  const agent = new Agent({
    clock,
    logger: silentLogger,
    host: 'test-host',
    loadConfig: () => loadConfigFile(configFile, { env: {} }),
    wire: async (config: Config, onEvent): Promise<EngineDeps> => {
      if (wireFailure) throw wireFailure;
      store ??= await openConfigStore(config, clock);
      return {
        config,
        store,
        clock,
        logger: silentLogger,
        issuer: async () => issuer,
        dnsProvider: () => ({ name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} }),
        sink: () => sink,
        onEvent,
      };
    },
    onEvent: (event) => {
      if (isAgentEvent(event)) events.push(event); // the alerts; a run's progress is renew's
    },
  });
  agents.push(agent);
  return { agent, clock, issuer, events, configFile, store: () => store! };
}

/** Between fake-clock steps: let real I/O finish and the agent go idle. */
const idleOf = (h: Harness) => async (): Promise<void> => {
  await realTick();
  await h.agent.idle();
  await realTick();
};

async function settle(h: Harness): Promise<void> {
  await h.clock.advance(0, idleOf(h));
}

async function advance(h: Harness, ms: number): Promise<void> {
  await h.clock.advance(ms, idleOf(h));
}

describe('the agent', () => {
  it('issues missing certificates at start, then arms each timer at renewAt plus a bounded jitter', async () => {
    const h = harness();
    await h.agent.start();
    await settle(h);
    expect(h.issuer.calls.map((c) => c.name).sort()).toEqual(['api', 'www']);
    expect(
      h.events
        .filter((e) => e.type === 'obtained')
        .map((e) => e.cert)
        .sort(),
    ).toEqual(['api', 'www']);
    expect(h.events.filter((e) => e.type === 'deployed').map((e) => `${e.cert}:${e.sink}`)).toEqual(['www:reload']);
    const renewAt = Date.parse('2026-11-22T00:00:00Z') + LIFETIME * 0.67;
    for (const name of ['www', 'api']) {
      const at = h.agent.schedule[name]!.getTime();
      expect(at).toBeGreaterThanOrEqual(renewAt);
      expect(at).toBeLessThan(renewAt + maxJitterMs(LIFETIME));
    }
  });

  it('renews on its own when the timer fires, and re-arms for the next certificate', async () => {
    const h = harness();
    await h.agent.start();
    await settle(h);
    const scheduled = { ...h.agent.schedule };
    const earliest = Math.min(...Object.values(scheduled).map((d) => d.getTime()));
    await advance(h, earliest - h.clock.now().getTime() - 1);
    expect(h.issuer.calls).toHaveLength(2); // not yet
    await advance(h, 61 * MIN); // both are within an hour of their renewAt
    expect(h.issuer.calls).toHaveLength(4);
    // Each renewed exactly at its own armed time, and was re-armed for the next round.
    for (const name of ['www', 'api']) {
      expect(h.issuer.calls.filter((c) => c.name === name).map((c) => c.at)[1]).toBe(scheduled[name]!.getTime());
      expect(h.agent.schedule[name]!.getTime()).toBeGreaterThan(scheduled[name]!.getTime() + LIFETIME * 0.6);
    }
  });

  it('backs off 1 min, 10 min, 100 min, then daily after failures, and reports recovery', async () => {
    const h = harness('  - { name: api, domains: [api.example.com], dns: corp }');
    h.issuer.fail = new CertkeeperError('ACME_ERROR', 'CA is down');
    await h.agent.start();
    await settle(h);
    const start = Date.parse('2026-11-22T00:00:00Z');
    const attempts = (): number[] => h.issuer.calls.map((c) => c.at - start);
    expect(attempts()).toEqual([0]);
    for (const step of [MIN, 10 * MIN, 100 * MIN, DAY, DAY]) {
      await advance(h, step);
    }
    expect(attempts()).toEqual([0, MIN, 11 * MIN, 111 * MIN, 111 * MIN + DAY, 111 * MIN + 2 * DAY]);
    expect(h.events.filter((e) => e.type === 'failed').map((e) => e.consecutiveFailures)).toEqual([1, 2, 3, 4, 5, 6]);
    h.issuer.fail = undefined;
    await advance(h, DAY);
    expect(h.events.at(-1)).toMatchObject({ type: 'recovered', cert: 'api' });
    expect(h.events.find((e) => e.type === 'obtained')).toBeDefined();
  });

  it('honours Retry-After from the CA', async () => {
    const h = harness('  - { name: api, domains: [api.example.com], dns: corp }');
    h.issuer.fail = new CertkeeperError('ACME_RATE_LIMITED', 'slow down', { retryAfterSeconds: 3 * 3600 });
    await h.agent.start();
    await settle(h);
    expect(h.agent.schedule.api!.getTime() - Date.parse('2026-11-22T00:00:00Z')).toBe(3 * 3_600_000);
  });

  it('keeps the running config when a reload finds the new one invalid, and applies a valid one', async () => {
    const h = harness('  - { name: api, domains: [api.example.com], dns: corp }');
    await h.agent.start();
    await settle(h);
    writeFileSync(h.configFile, CONFIG('  - { name: api, domains: [api.example.com], dns: nope }'));
    const bad = await h.agent.reload();
    expect(bad.ok).toBe(false);
    expect(bad.error).toContain('no DNS provider named "nope"');
    expect(h.agent.currentConfig!.certificates.map((c) => c.name)).toEqual(['api']);
    writeFileSync(h.configFile, CONFIG('  - { name: api, domains: [api.example.com], dns: corp }\n  - { name: new, domains: [new.example.com], dns: corp }'));
    expect((await h.agent.reload()).ok).toBe(true);
    await settle(h);
    expect(h.issuer.calls.map((c) => c.name)).toEqual(['api', 'new']);
  });

  it("keeps the running config when a reload cannot open the new config's store, and says so", async () => {
    const h = harness('  - { name: api, domains: [api.example.com], dns: corp }');
    await h.agent.start();
    await settle(h);
    writeFileSync(h.configFile, CONFIG('  - { name: api, domains: [api.example.com], dns: corp }\n  - { name: new, domains: [new.example.com], dns: corp }'));
    wireFailure = new CertkeeperError('STATE_UNREACHABLE', 'the state store postgres://db.internal/certkeeper is unreachable: ECONNREFUSED');
    try {
      const result = await h.agent.reload();
      expect(result).toEqual({ ok: false, error: expect.stringContaining('the state store postgres://db.internal/certkeeper is unreachable') });
    } finally {
      wireFailure = undefined;
    }
    expect(h.agent.currentConfig!.certificates.map((c) => c.name)).toEqual(['api']);
    // The running wiring still works: a later good reload applies.
    expect((await h.agent.reload()).ok).toBe(true);
    await settle(h);
    expect(h.issuer.calls.map((c) => c.name)).toEqual(['api', 'new']);
  });

  it('tries at every tick in an emergency, whatever the backoff', async () => {
    const h = harness('  - { name: api, domains: [api.example.com], dns: corp }');
    await h.agent.start();
    await settle(h);
    h.issuer.fail = new CertkeeperError('ACME_ERROR', 'CA is down');
    await advance(h, 86 * DAY); // its timer fired at ~60 days and failed since, backing off
    const before = h.issuer.calls.length;
    // 4 days left of 90: less than 1/20. Each tick (plan) tries again at once.
    await h.agent.plan();
    await settle(h);
    await h.agent.plan();
    await settle(h);
    expect(h.issuer.calls.length).toBe(before + 2);
  });

  it('does not spin when a whole batch throws (state dir broken)', async () => {
    const h = harness('  - { name: api, domains: [api.example.com], dns: corp }');
    await h.agent.start();
    await settle(h);
    const store = h.store();
    const original = store.lock.bind(store);
    store.lock = async () => {
      throw new CertkeeperError('STATE_IO', 'disk full');
    };
    await h.agent.reload(); // plan again; force it due by changing nothing: use a forced due time
    h.clock; // timers now armed for ~60 days; jump there
    await advance(h, 61 * DAY);
    const attemptsAfterJump = h.clock.pending.length;
    expect(attemptsAfterJump).toBeGreaterThan(0);
    // The next try is a backoff step later, not now.
    expect(h.agent.schedule.api!.getTime()).toBeGreaterThanOrEqual(h.clock.now().getTime() + MIN);
    store.lock = original;
  });

  it('stops: no new work after stop()', async () => {
    const h = harness('  - { name: api, domains: [api.example.com], dns: corp }');
    await h.agent.start();
    await settle(h);
    await h.agent.stop(1000);
    await advance(h, 100 * DAY);
    expect(h.issuer.calls).toHaveLength(1);
    expect(h.agent.schedule).toEqual({});
  });

  it("lifts the backoff when the certificate's config changes (reload)", async () => {
    const h = harness('  - { name: api, domains: [api.example.com], dns: corp }');
    h.issuer.fail = new CertkeeperError('ACME_ERROR', 'wrong domain');
    await h.agent.start();
    await settle(h);
    await advance(h, MIN);
    await advance(h, 10 * MIN);
    await advance(h, 100 * MIN); // now backing off for a day
    const failed = h.issuer.calls.length;
    expect(h.agent.schedule.api!.getTime() - h.clock.now().getTime()).toBeGreaterThan(20 * 3_600_000);
    h.issuer.fail = undefined;
    writeFileSync(h.configFile, CONFIG('  - { name: api, domains: [api.example.com, www.example.com], dns: corp }'));
    expect((await h.agent.reload()).ok).toBe(true);
    await settle(h);
    expect(h.issuer.calls.length).toBe(failed + 1);
    expect(h.events.at(-1)).toMatchObject({ type: 'recovered', cert: 'api' });
  });
});
