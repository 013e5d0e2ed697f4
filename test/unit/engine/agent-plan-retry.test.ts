// An agent that starts while its store does not answer plans again on its own, after a pause that
// grows, instead of waiting for the next schedule tick hours away.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { loadConfigFile, type Config } from '../../../src/config/load.js';
import { Agent } from '../../../src/engine/agent.js';
import type { EngineDeps } from '../../../src/engine/contracts.js';
import { makeCertificate } from '../../helpers/certs.js';
import { MemoryStore } from '../../helpers/memory-store.js';
import { realTick, TimerClock } from '../../helpers/timer-clock.js';

class DownAtFirstStore extends MemoryStore {
  down = true;
  override async getRecord(name: string) {
    if (this.down) throw new CertkeeperError('STATE_UNREACHABLE', 'connect ECONNREFUSED 127.0.0.1:5432');
    return super.getRecord(name);
  }
}

const agents: Agent[] = [];
afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.stop(1000);
});

it('plans again after 15 s, then 30 s, when the store is down, and once it answers', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-plan-retry-'));
  const file = path.join(dir, 'certkeeper.yaml');
  writeFileSync(
    file,
    `stateDir: ./state\nacme: { directory: "https://ca.test/directory" }\ndns: { corp: { type: exec, command: ["/bin/true"] } }\ncertificates:\n  - { name: www, domains: [www.example.com], dns: corp }\n`,
  );
  const clock = new TimerClock('2026-12-04T00:00:00Z');
  const store = new DownAtFirstStore();
  await store.putCertificate('www', makeCertificate({ domains: ['www.example.com'], notBefore: clock.now(), days: 90 }), {
    directoryUrl: 'https://ca.test/directory',
    issuedAt: clock.now(),
  });
  const agent = new Agent({
    clock,
    logger: silentLogger,
    host: 'h',
    loadConfig: () => loadConfigFile(file, { env: {} }),
    wire: async (config: Config, onEvent): Promise<EngineDeps> => ({
      config,
      store,
      clock,
      logger: silentLogger,
      issuer: async () => ({
        directoryUrl: 'https://ca.test/directory',
        issue: async () => {
          throw new Error('nothing is due');
        },
      }),
      dnsProvider: () => ({ name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} }),
      sink: () => {
        throw new Error('no sinks');
      },
      onEvent,
    }),
  });
  agents.push(agent);
  const idle = async (): Promise<void> => {
    await realTick();
    await agent.idle();
    await realTick();
  };
  await agent.start();
  await clock.advance(0, idle);
  expect(agent.lastPlan).toBeUndefined();
  await clock.advance(15_000, idle); // first retry: still down
  expect(agent.lastPlan).toBeUndefined();
  store.down = false;
  await clock.advance(29_000, idle); // the second waits 30 s
  expect(agent.lastPlan).toBeUndefined();
  await clock.advance(1_000, idle);
  expect(agent.lastPlan).toEqual(clock.now());
  expect(agent.schedule.www).toBeDefined();
});
