// The daemon and ARI: planning asks the CA for each certificate's window (cached by Retry-After,
// at least twice a day) and arms the timer inside it; a renewal then carries `replaces`.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { loadConfigFile, type Config } from '../../../src/config/load.js';
import { Agent } from '../../../src/engine/agent.js';
import type { EngineDeps } from '../../../src/engine/contracts.js';
import type { IssueRequest, Issuer, RenewalInfoAnswer } from '../../../src/issuers/contract.js';
import { maxJitterMs } from '../../../src/plan/backoff.js';
import type { RepositoryStore } from '../../../src/state/repository-store.js';
import { openConfigStore } from '../../helpers/state.js';
import { makeCertificate } from '../../helpers/certs.js';
import { realTick, TimerClock } from '../../helpers/timer-clock.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const LIFETIME = 90 * DAY;
const START = Date.parse('2026-11-22T00:00:00Z');

const agents: Agent[] = [];
afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.stop(1000);
});

it('arms the timer inside the ARI window, re-checks it at the next plan, and renews with replaces', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-agent-ari-'));
  const configFile = path.join(dir, 'certkeeper.yaml');
  writeFileSync(
    configFile,
    `stateDir: ./state
acme: { directory: "https://ca.test/directory" }
dns: { corp: { type: exec, command: ["/bin/true"] } }
certificates:
  - { name: www, domains: [www.example.com], dns: corp }
`,
  );
  const clock = new TimerClock(new Date(START));
  const calls: IssueRequest[] = [];
  const issuer: Issuer = {
    directoryUrl: 'https://ca.test/directory',
    async issue(request) {
      calls.push(request);
      const notBefore = clock.now();
      return { material: makeCertificate({ domains: request.domains, notBefore, notAfter: new Date(notBefore.getTime() + LIFETIME) }) };
    },
  };
  let window = { start: new Date(START + 10 * DAY), end: new Date(START + 11 * DAY) };
  let asked = 0;
  const renewalInfo = async (): Promise<RenewalInfoAnswer> => {
    asked++;
    return { supported: true, certId: 'aki.serial', info: { ...window, explanationUrl: null, retryAfterSeconds: 6 * 3600 } };
  };
  let store: RepositoryStore | undefined;
  const agent = new Agent({
    clock,
    logger: silentLogger,
    host: 'test-host',
    loadConfig: () => loadConfigFile(configFile, { env: {} }),
    wire: async (config: Config, onEvent): Promise<EngineDeps> => {
      store ??= await openConfigStore(config, clock);
      return {
        config,
        store,
        clock,
        logger: silentLogger,
        issuer: async () => issuer,
        renewalInfo,
        dnsProvider: () => ({ name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} }),
        sink: () => {
          throw new Error('no sinks');
        },
        onEvent,
      };
    },
  });
  agents.push(agent);
  const idle = async (): Promise<void> => {
    await realTick();
    await agent.idle();
    await realTick();
  };

  await agent.start();
  await clock.advance(0, idle);
  expect(calls).toHaveLength(1); // issued at start; ARI is asked about stored certificates only
  await agent.plan();
  await clock.advance(0, idle);
  expect(asked).toBe(1);
  const armed = agent.schedule.www!.getTime();
  expect(armed).toBeGreaterThanOrEqual(window.start.getTime());
  expect(armed).toBeLessThan(window.end.getTime() + maxJitterMs(LIFETIME));

  // Half a day later the next plan asks again (Retry-After 6 h), and follows a moved window.
  window = { start: new Date(START + 13 * HOUR), end: new Date(START + 14 * HOUR) };
  await clock.advance(12 * HOUR, idle);
  await agent.plan();
  await clock.advance(0, idle);
  expect(asked).toBe(2);
  expect(agent.schedule.www!.getTime()).toBeLessThan(START + 14 * HOUR + maxJitterMs(LIFETIME));

  await clock.advance(2 * HOUR + maxJitterMs(LIFETIME), idle);
  expect(calls).toHaveLength(2);
  expect(calls[1]!.replaces).toEqual({ id: 'aki.serial', directoryUrl: 'https://ca.test/directory' });
});
