// Two agents on one store (here one folder, as two processes on a host or two hosts on a shared
// volume would have it): a certificate one of them orders is deployed by the other to its own
// local sink as soon as the store says so, without a second order; a shared sink gets it once.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { loadConfigFile, type Config } from '../../../src/config/load.js';
import { Agent } from '../../../src/engine/agent.js';
import type { EngineDeps } from '../../../src/engine/contracts.js';
import type { IssueRequest, Issuer } from '../../../src/issuers/contract.js';
import { renew } from '../../../src/engine/renew.js';
import type { Sink } from '../../../src/sinks/contract.js';
import { makeCertificate } from '../../helpers/certs.js';
import { openConfigStore } from '../../helpers/state.js';

const agents: Agent[] = [];
afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.stop(1000);
});

class CountingIssuer implements Issuer {
  readonly directoryUrl = 'https://ca.test/directory';
  orders = 0;
  async issue(request: IssueRequest) {
    this.orders++;
    return { material: makeCertificate({ domains: request.domains, days: 90 }) };
  }
}

function recordingSink(name: string, into: string[]): Sink {
  return { name, type: 'fake', deploy: async (request) => (into.push(`${request.certName}:${request.serial}`), {}) };
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 25));
  expect(check(), what).toBe(true);
}

it('deploys a certificate another agent renewed to its own local sink, and a shared sink once', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-shared-'));
  const file = path.join(dir, 'certkeeper.yaml');
  writeFileSync(
    file,
    `stateDir: ./state
acme: { directory: "https://ca.test/directory" }
dns: { corp: { type: exec, command: ["/bin/true"] } }
sinks:
  web: { type: exec, command: ["/bin/true"] }
  cloud: { type: exec, command: ["/bin/true"], scope: shared }
certificates:
  - { name: www, domains: [www.example.com], dns: corp, sinks: [web, cloud] }
`,
  );
  const issuer = new CountingIssuer();
  const deployed = { a: [] as string[], b: [] as string[], cloud: [] as string[] };
  const wiring =
    (agentId: 'a' | 'b') =>
    async (config: Config, onEvent?: EngineDeps['onEvent']): Promise<EngineDeps> => {
      const mine = { ...config, agentId };
      return {
        config: mine,
        store: await openConfigStore(mine, systemClock),
        clock: systemClock,
        logger: silentLogger,
        issuer: async () => issuer,
        dnsProvider: () => ({ name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} }),
        sink: (name) => (name === 'web' ? recordingSink('web', deployed[agentId]) : recordingSink('cloud', deployed.cloud)),
        ...(onEvent ? { onEvent } : {}),
      };
    };
  const load = () => loadConfigFile(file, { env: {} });

  // Agent a issues at start (nothing stored yet) and deploys both sinks.
  const a = new Agent({ clock: systemClock, logger: silentLogger, host: 'a', loadConfig: load, wire: wiring('a') });
  agents.push(a);
  await a.start();
  await waitFor(() => deployed.a.length === 1 && deployed.cloud.length === 1, 'agent a issued and deployed');
  await a.idle();
  expect(issuer.orders).toBe(1);

  // Agent b starts on the same store: the certificate is there, its local sink lacks it; the shared one has it.
  const b = new Agent({ clock: systemClock, logger: silentLogger, host: 'b', loadConfig: load, wire: wiring('b') });
  agents.push(b);
  await b.start();
  await waitFor(() => deployed.b.length === 1, 'agent b deployed to its local sink');
  await b.idle();
  expect(issuer.orders).toBe(1);
  expect(deployed.b).toEqual(deployed.a);
  expect(deployed.cloud).toHaveLength(1);

  // A forced renewal outside both agents (renew --force on a third host, which deploys the shared
  // sink): both agents deploy it to their local sinks, without an order of their own, and neither
  // deploys the shared sink again.
  const outside = await wiring('a')(load());
  const forced = await renew(
    { force: true, yes: true },
    { ...outside, config: { ...outside.config, agentId: 'c' }, sink: (name) => recordingSink(name, name === 'cloud' ? deployed.cloud : []) },
  );
  expect(forced.succeeded).toBe(1);
  expect(issuer.orders).toBe(2);
  const serial = forced.outcomes[0]!.serial!;
  await waitFor(() => deployed.a.includes(`www:${serial}`) && deployed.b.includes(`www:${serial}`), 'both agents deployed the new serial');
  expect(issuer.orders).toBe(2);
  expect(deployed.cloud.filter((d) => d === `www:${serial}`)).toHaveLength(1);
});
