// The agent under leader election (AgentOptions.isLeader): a follower plans and reports status
// but orders nothing and arms no timers; once it leads, a plan starts what is due.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { loadConfigFile, type Config } from '../../../src/config/load.js';
import { Agent } from '../../../src/engine/agent.js';
import type { EngineDeps } from '../../../src/engine/contracts.js';
import type { IssueRequest, Issuer } from '../../../src/issuers/contract.js';
import type { StatusRow } from '../../../src/engine/status.js';
import type { RepositoryStore } from '../../../src/state/repository-store.js';
import { openConfigStore } from '../../helpers/state.js';
import { makeCertificate } from '../../helpers/certs.js';
import { realTick, TimerClock } from '../../helpers/timer-clock.js';

const agents: Agent[] = [];
afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.stop(1000);
});

function harness() {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-agent-leader-'));
  const configFile = path.join(dir, 'certkeeper.yaml');
  writeFileSync(
    configFile,
    `
stateDir: ./state
acme: { directory: "https://ca.test/directory" }
dns: { corp: { type: exec, command: ["/bin/true"] } }
certificates:
  - { name: www, domains: [www.example.com], dns: corp }
`,
  );
  const clock = new TimerClock('2026-11-22T00:00:00Z');
  const leadership = { leader: false };
  const orders: string[] = [];
  const statuses: StatusRow[][] = [];
  const issuer: Issuer = {
    directoryUrl: 'https://ca.test/directory',
    async issue(request: IssueRequest) {
      orders.push(request.certName);
      return { material: makeCertificate({ domains: request.domains, notBefore: clock.now(), days: 90 }) };
    },
  };
  let store: RepositoryStore | undefined;
  const agent = new Agent({
    clock,
    logger: silentLogger,
    host: 'test-host',
    isLeader: () => leadership.leader,
    loadConfig: () => loadConfigFile(configFile, { env: {} }),
    wire: async (config: Config, onEvent): Promise<EngineDeps> => {
      store ??= await openConfigStore(config, clock);
      return {
        config,
        store,
        clock,
        logger: silentLogger,
        issuer: async () => issuer,
        dnsProvider: () => ({ name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} }),
        sink: () => {
          throw new Error('no sinks here');
        },
        onEvent,
        canDeploy: () => leadership.leader,
      };
    },
    onStatus: (rows) => statuses.push(rows),
  });
  agents.push(agent);
  const settle = async (): Promise<void> => {
    await clock.advance(0, async () => {
      await realTick();
      await agent.idle();
      await realTick();
    });
  };
  return { agent, clock, leadership, orders, statuses, settle };
}

describe('the agent with leader election', () => {
  it('as a follower plans and reports status, but orders nothing and arms no timer; as leader it renews at once', async () => {
    const h = harness();
    await h.agent.start();
    await h.settle();
    expect(h.orders).toEqual([]);
    expect(h.agent.schedule).toEqual({});
    expect(h.statuses.at(-1)!.map((row) => [row.name, row.state])).toEqual([['www', 'missing']]);
    expect(h.agent.lastPlan).toBeDefined(); // readiness: a follower is ready

    h.leadership.leader = true;
    await h.agent.plan(); // what run.ts does when the elector reports leadership
    await h.settle();
    expect(h.orders).toEqual(['www']);
    expect(Object.keys(h.agent.schedule)).toEqual(['www']);
  });
});
