// The daemon's side of deploy verification: a reload hook that does nothing becomes a
// verify_failed agent event, which the default notify filter delivers.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { loadConfigFile, type Config } from '../../../src/config/load.js';
import { Agent } from '../../../src/engine/agent.js';
import type { EngineDeps } from '../../../src/engine/contracts.js';
import type { IssueRequest } from '../../../src/issuers/contract.js';
import type { AgentEvent } from '../../../src/observe/events.js';
import { isAgentEvent } from '../../../src/observe/stream.js';
import type { Alert } from '../../../src/observe/notify/alert.js';
import { Dispatcher } from '../../../src/observe/notify/dispatcher.js';
import { notifySchema } from '../../../src/observe/notify/schema.js';
import { buildNotifyTargets } from '../../../src/observe/notify/registry.js';
import type { Sink } from '../../../src/sinks/contract.js';
import type { RepositoryStore } from '../../../src/state/repository-store.js';
import { makeCertificate } from '../../helpers/certs.js';
import { openConfigStore } from '../../helpers/state.js';
import { startTlsServer, type TestTlsServer } from '../../helpers/tls-server.js';
import { realTick, TimerClock } from '../../helpers/timer-clock.js';

const DAY = 86_400_000;
let agent: Agent | undefined;
let server: TestTlsServer | undefined;
afterEach(async () => {
  await agent?.stop(1000);
  await server?.close();
});

it('a deploy whose reload hook does nothing: the hook runs twice, then verify_failed goes out', async () => {
  server = await startTlsServer(makeCertificate({ domains: ['www.example.com'], serial: '01D0' }));
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-agent-verify-'));
  const configFile = path.join(dir, 'certkeeper.yaml');
  writeFileSync(
    configFile,
    `stateDir: ./state
acme: { directory: "https://ca.test/directory" }
dns: { corp: { type: exec, command: ["/bin/true"] } }
sinks: { reload: { type: exec, command: ["/bin/true"] } }
certificates:
  - { name: www, domains: [www.example.com], dns: corp, sinks: [reload], verify: [{ address: "${server.address}", sni: www.example.com, settle: 0s }] }
`,
  );
  const clock = new TimerClock('2026-11-22T00:00:00Z');
  let reloads = 0;
  const reload: Sink = { name: 'reload', type: 'exec', reloads: true, deploy: async () => ((reloads += 1), {}) }; // "reloads" nothing
  const events: AgentEvent[] = [];
  let store: RepositoryStore | undefined;
  agent = new Agent({
    clock,
    logger: silentLogger,
    host: 'test-host',
    loadConfig: () => loadConfigFile(configFile, { env: {} }),
    wire: async (config: Config, onEvent): Promise<EngineDeps> => {
      store ??= await openConfigStore(config, clock);
      const issuer = {
        directoryUrl: 'https://ca.test/directory',
        issue: async (request: IssueRequest) => ({
          material: makeCertificate({ domains: request.domains, notBefore: clock.now(), notAfter: new Date(clock.now().getTime() + 90 * DAY) }),
        }),
      };
      return {
        config,
        store,
        clock,
        logger: silentLogger,
        issuer: async () => issuer,
        dnsProvider: () => ({ name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} }),
        sink: () => reload,
        onEvent,
      };
    },
    onEvent: (event) => {
      if (isAgentEvent(event)) events.push(event); // the alerts; a run's progress is renew's
    },
  });
  await agent.start();
  await clock.advance(0, async () => {
    await realTick();
    await agent!.idle();
    await realTick();
  });
  expect(reloads).toBe(2);
  const failed = events.find((e) => e.type === 'verify_failed');
  expect(failed).toMatchObject({ cert: 'www', severity: 'warning', serving: 'old', code: 'VERIFY_FAILED' });
  expect(failed!.message).toContain('re-run: reload');
  expect(agent.status[0]).toMatchObject({ name: 'www', serving: 'old' });

  // The default notify filter takes it.
  const delivered: AgentEvent[] = [];
  const notify = notifySchema.parse({ ops: { type: 'webhook', url: 'http://127.0.0.1:9/hook' } });
  const [target] = buildNotifyTargets(notify, { logger: silentLogger });
  const dispatcher = new Dispatcher({
    targets: [{ ...target!, notifier: { name: 'ops', type: 'test', send: async (alert: Alert) => void delivered.push(...alert.events) } }],
    clock,
    logger: silentLogger,
  });
  expect(dispatcher.dispatch(failed!)).toMatchObject([{ action: 'queued' }]);
  await dispatcher.flush();
  expect(delivered.map((e) => e.type)).toEqual(['verify_failed']);
});
