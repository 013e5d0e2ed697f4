// The engine under leader election (EngineDeps.canDeploy): a follower neither orders nor deploys,
// and a replica that loses the lease mid-order stops before deploying, without counting a
// failure; whoever leads next deploys the stored certificate without a new order.

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
import type { DeployRequest, Sink } from '../../../src/sinks/contract.js';
import { openConfigStore } from '../../helpers/state.js';
import { makeCertificate } from '../../helpers/certs.js';
import { ManualClock } from '../../helpers/clock.js';

async function harness() {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-leader-'));
  const config = parseConfig(
    `
stateDir: ./state
acme: { directory: "https://ca.test/directory" }
dns: { corp: { type: exec, command: ["/bin/true"] } }
sinks: { secret: { type: exec, command: ["/bin/true"] } }
certificates:
  - { name: www, domains: [www.example.com], dns: corp, sinks: [secret] }
`,
    path.join(dir, 'certkeeper.yaml'),
    { env: {} },
  );
  const clock = new ManualClock('2026-11-22T00:00:00Z');
  const store = await openConfigStore(config, clock);
  const leadership = { leader: true, loseDuringOrder: false };
  const orders: IssueRequest[] = [];
  const deploys: DeployRequest[] = [];
  const issuer: Issuer = {
    directoryUrl: 'https://ca.test/directory',
    async issue(request) {
      orders.push(request);
      if (leadership.loseDuringOrder) leadership.leader = false;
      return { material: makeCertificate({ domains: request.domains, notBefore: clock.now(), days: 90 }) };
    },
  };
  const sink: Sink = {
    name: 'secret',
    type: 'fake',
    async deploy(request) {
      deploys.push(request);
      return {};
    },
  };
  const dns: DnsProvider = { name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} };
  const deps: EngineDeps = {
    config,
    store,
    clock,
    logger: silentLogger,
    issuer: async () => issuer,
    dnsProvider: () => dns,
    sink: () => sink,
    canDeploy: () => leadership.leader,
  };
  return { deps, store, leadership, orders, deploys };
}

describe('renew with leader election', () => {
  it('a follower neither orders nor deploys', async () => {
    const h = await harness();
    h.leadership.leader = false;
    const report = await renew({}, h.deps);
    expect(report.outcomes).toMatchObject([{ cert: 'www', result: 'skipped', reason: 'not-leader' }]);
    expect(h.orders).toHaveLength(0);
    expect(h.deploys).toHaveLength(0);
  });

  it('losing the lease mid-order stops before deploying, counts no failure, and the next leader deploys without ordering', async () => {
    const h = await harness();
    h.leadership.loseDuringOrder = true;
    const report = await renew({}, h.deps);
    expect(report.outcomes).toMatchObject([{ cert: 'www', result: 'skipped', reason: 'not-leader' }]);
    expect(report.failed).toBe(0);
    expect(h.orders).toHaveLength(1);
    expect(h.deploys).toHaveLength(0);
    const record = await h.store.getRecord('www');
    expect(record.consecutiveFailures).toBe(0);
    expect(record.deployed).toEqual({});

    h.leadership.loseDuringOrder = false;
    h.leadership.leader = true;
    const next = await renew({}, h.deps);
    expect(next.outcomes).toMatchObject([{ cert: 'www', action: 'deploy', result: 'success' }]);
    expect(h.orders).toHaveLength(1);
    expect(h.deploys).toHaveLength(1);
  });
});
