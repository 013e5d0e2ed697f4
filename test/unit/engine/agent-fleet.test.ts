// The daemon over a fleet: planning reads certificate details only (no keys), work that fires
// together is handed to the engine in slices of at most MAX_BATCH certificates, so a fleet-wide
// deploy (here: a sink nothing was deployed to yet) never holds every key at once, and one
// wake-up on the clock serves every certificate's timer.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { loadConfigFile, type Config } from '../../../src/config/load.js';
import { Agent, MAX_BATCH } from '../../../src/engine/agent.js';
import type { EngineDeps } from '../../../src/engine/contracts.js';
import type { Issuer } from '../../../src/issuers/contract.js';
import type { StatusRow } from '../../../src/engine/status.js';
import type { Sink } from '../../../src/sinks/contract.js';
import type { CertificateLock, CertificateLockOptions } from '../../../src/state/contract.js';
import type { StreamEvent } from '../../../src/observe/stream.js';
import { makeCertificate } from '../../helpers/certs.js';
import { MemoryStore } from '../../helpers/memory-store.js';
import { realTick, TimerClock } from '../../helpers/timer-clock.js';

const COUNT = MAX_BATCH * 2 + 50;

/**
 * Counts certificates read with their keys inside each engine run, and outside any. A run starts
 * with its planning events (renew announces every planned certificate before it works on any);
 * its reads happen while a certificate's lock is held.
 */
class BatchCountingStore extends MemoryStore {
  private held = 0;
  private planning = false;
  readonly keysPerRun: number[] = [];
  keysOutsideRuns = 0;

  /** Fed the engine's events: a `cert_planned` after anything else begins the next run. */
  observe(event: StreamEvent): void {
    if (event.type === 'cert_planned' && !this.planning) this.keysPerRun.push(0);
    this.planning = event.type === 'cert_planned';
  }

  override async lockCertificate(name: string, options: CertificateLockOptions): Promise<CertificateLock> {
    const lock = await super.lockCertificate(name, options);
    this.held++;
    return {
      ...lock,
      release: async () => {
        this.held--;
        await lock.release();
      },
    };
  }

  override async getCertificate(name: string) {
    if (this.held > 0) this.keysPerRun[this.keysPerRun.length - 1]!++;
    else this.keysOutsideRuns++;
    return super.getCertificate(name);
  }
}

const agents: Agent[] = [];
afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.stop(1000);
});

it(`deploys a fleet in engine runs of at most ${MAX_BATCH} certificates, planning from details only`, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-agent-fleet-'));
  const configFile = path.join(dir, 'certkeeper.yaml');
  const certs = Array.from({ length: COUNT }, (_, i) => `  - { name: c${i}, domains: [c${i}.example.com], dns: corp, sinks: [reload] }`).join('\n');
  writeFileSync(
    configFile,
    `stateDir: ./state
acme: { directory: "https://ca.test/directory" }
dns: { corp: { type: exec, command: ["/bin/true"] } }
sinks: { reload: { type: exec, command: ["/bin/true"] } }
certificates:
${certs}
`,
  );
  const clock = new TimerClock(new Date());
  const store = new BatchCountingStore();
  // Stored and valid, but never deployed to `reload`: every one is due for a deploy at start.
  for (let i = 0; i < COUNT; i++) {
    const material = makeCertificate({ domains: [`c${i}.example.com`], notBefore: clock.now(), days: 90 });
    await store.putCertificate(`c${i}`, material, { directoryUrl: 'https://ca.test/directory', issuedAt: clock.now() });
  }
  const deployed: string[] = [];
  const sink: Sink = {
    name: 'reload',
    type: 'fake',
    deploy: async (request) => {
      deployed.push(request.certName);
      return {};
    },
  };
  const issuer: Issuer = {
    directoryUrl: 'https://ca.test/directory',
    issue: async () => {
      throw new Error('nothing is due for a new certificate');
    },
  };
  const published: number[] = [];
  let latest: StatusRow[] = [];
  const agent = new Agent({
    clock,
    logger: silentLogger,
    host: 'test-host',
    loadConfig: () => loadConfigFile(configFile, { env: {} }),
    wire: async (config: Config, onEvent): Promise<EngineDeps> => ({
      config,
      store,
      clock,
      logger: silentLogger,
      issuer: async () => issuer,
      dnsProvider: () => ({ name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} }),
      sink: () => sink,
      onEvent: (event) => {
        store.observe(event);
        onEvent?.(event);
      },
    }),
    onStatus: (rows) => {
      published.push(rows.length);
      latest = rows;
    },
  });
  agents.push(agent);

  await agent.start();
  await clock.advance(0, async () => {
    await realTick();
    await agent.idle();
    await realTick();
  });

  expect(new Set(deployed).size).toBe(COUNT);
  expect(deployed).toHaveLength(COUNT);
  expect(store.keysPerRun).toEqual([MAX_BATCH, MAX_BATCH, COUNT - 2 * MAX_BATCH]);
  expect(store.keysOutsideRuns).toBe(0); // planning and status read details only
  // Every publication covers the whole fleet, and the last one shows nothing pending.
  expect(published.every((n) => n === COUNT)).toBe(true);
  expect(latest.filter((row) => row.pendingSinks.length > 0)).toEqual([]);
  // A timer each at its next renewal, served by one wake-up on the clock: at the earliest of
  // them, or sooner when that is further than the 6 h a wait is capped at.
  const due = Object.values(agent.schedule).map((at) => at.getTime());
  expect(due).toHaveLength(COUNT);
  expect(clock.pending).toEqual([new Date(Math.min(...due, clock.now().getTime() + 6 * 3_600_000))]);
});
