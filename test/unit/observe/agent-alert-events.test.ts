// What the agent's failure events tell the notifiers: the cause they share (DNS provider, CA,
// code), and `expired` (not `failed` or `expiring`) once a failing certificate is past notAfter.

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
import { MemoryStore } from '../../helpers/memory-store.js';
import { makeCertificate } from '../../helpers/certs.js';
import { realTick, TimerClock } from '../../helpers/timer-clock.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const LIFETIME = 10 * DAY;

const agents: Agent[] = [];
afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.stop(1000);
});

function harness(config: string) {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-agent-alerts-'));
  const file = path.join(dir, 'certkeeper.yaml');
  writeFileSync(file, config);
  const clock = new TimerClock('2026-11-22T00:00:00Z');
  const state = { fail: undefined as Error | undefined };
  const issuer: Issuer = {
    directoryUrl: 'https://ca.test/directory',
    async issue(request: IssueRequest) {
      if (state.fail) throw state.fail;
      const notBefore = clock.now();
      return { material: makeCertificate({ domains: request.domains, notBefore, notAfter: new Date(notBefore.getTime() + LIFETIME) }) };
    },
  };
  const events: AgentEvent[] = [];
  const store = new MemoryStore();
  const agent = new Agent({
    clock,
    logger: silentLogger,
    host: 'test-host',
    loadConfig: () => loadConfigFile(file, { env: {} }),
    wire: async (next: Config, onEvent): Promise<EngineDeps> => ({
      config: next,
      store,
      clock,
      logger: silentLogger,
      issuer: async () => issuer,
      dnsProvider: () => ({ name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} }),
      sink: () => ({ name: 'none', type: 'fake', deploy: async () => ({}) }),
      onEvent,
    }),
    onEvent: (event) => {
      if (isAgentEvent(event)) events.push(event); // the alerts; a run's progress is renew's
    },
  });
  agents.push(agent);
  const settle = async (): Promise<void> => {
    await realTick();
    await agent.idle();
    await realTick();
  };
  return { agent, clock, state, events, settle, advance: (ms: number) => clock.advance(ms, settle) };
}

describe('agent failure events for notifiers', () => {
  it('name the DNS provider and the CA (issuer names) with the code', async () => {
    const h = harness(`stateDir: ./state
issuers:
  - { name: le, directory: "https://ca.test/directory" }
  - { name: backup, directory: "https://ca2.test/directory" }
dns: { corp: { type: exec, command: ["/bin/true"] } }
certificates:
  - { name: www, domains: [www.example.com], dns: corp }
  - { name: api, domains: [api.example.com], dns: corp, issuers: [backup] }
`);
    h.state.fail = new CertkeeperError('DNS_UPDATE_FAILED', 'DNS API said 401');
    await h.agent.start();
    await h.advance(0);
    const failed = h.events.filter((e) => e.type === 'failed');
    expect(failed.map((e) => [e.cert, e.provider, e.issuer, e.code]).sort()).toEqual([
      ['api', 'corp', 'backup', 'DNS_UPDATE_FAILED'],
      ['www', 'corp', 'le,backup', 'DNS_UPDATE_FAILED'],
    ]);
  });

  it('say `expired` once a failing certificate is past notAfter: from a failed renewal (with its error) and from a plan', async () => {
    const h = harness(`stateDir: ./state
acme: { directory: "https://ca.test/directory" }
dns: { corp: { type: exec, command: ["/bin/true"] } }
certificates:
  - { name: www, domains: [www.example.com], dns: corp }
`);
    await h.agent.start();
    await h.advance(0);
    const issuedAt = h.clock.now().getTime();
    h.state.fail = new CertkeeperError('DNS_UPDATE_FAILED', 'DNS API said 401');
    await h.advance(LIFETIME - 2 * HOUR); // renewal failing since ~2/3 of the lifetime
    const beforeExpiry = h.events.length;
    expect(h.events.some((e) => e.type === 'failed' && e.severity === 'critical')).toBe(true);
    await h.agent.plan();
    await h.settle();
    expect(h.events.slice(beforeExpiry).map((e) => e.type)).toContain('expiring');
    await h.advance(2 * DAY); // past notAfter; emergency and backoff attempts keep failing
    await h.agent.plan();
    await h.settle();
    const after = h.events.filter((e) => Date.parse(e.at) >= issuedAt + LIFETIME);
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((e) => e.type === 'failed' || e.type === 'expiring')).toEqual([]);
    const fromRenewal = after.find((e) => e.type === 'expired' && e.error !== undefined)!;
    expect(fromRenewal).toMatchObject({ severity: 'critical', code: 'DNS_UPDATE_FAILED', provider: 'corp', issuer: 'default' });
    expect(fromRenewal.message).toMatch(/^www expired at .* and its renew failed \(\d+x\): DNS API said 401$/);
    const fromPlan = after.find((e) => e.type === 'expired' && e.error === undefined)!;
    expect(fromPlan.message).toMatch(/^www expired at .* and was not renewed$/);
  });
});
