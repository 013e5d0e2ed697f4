// High availability for `certkeeper run`: builds the leader elector from the `ha:` config (a
// Kubernetes Lease), and the `certkeeper_leader` gauge. The daemon asks `isLeader()` before
// each batch and the engine before each deploy; followers keep serving health and metrics.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Gauge, type Registry } from 'prom-client';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { openKube } from '../kube/client.js';
import { kubernetesLeaseStore } from './kubernetes-lease.js';
import { LeaderElector } from './leader-elector.js';
import type { HaConfig } from './schema.js';

export { LeaderElector } from './leader-elector.js';
export type { HaConfig } from './schema.js';

export interface LeaderElectionOptions {
  clock: Clock;
  logger: Logger;
  onChange?: (leader: boolean) => void;
  env?: NodeJS.ProcessEnv;
}

/** Host name (the pod name in Kubernetes) plus a random suffix: a restarted pod is a new candidate. */
export function defaultIdentity(): string {
  return `${hostname()}-${randomBytes(3).toString('hex')}`;
}

/** Opens the API, builds the elector and makes its first attempt (so a lone replica leads at once). */
export async function startLeaderElection(config: HaConfig, options: LeaderElectionOptions): Promise<LeaderElector> {
  const ha = config.kubernetes;
  const api = await openKube({ kubeconfig: ha.kubeconfig, context: ha.context, ...(options.env ? { env: options.env } : {}) });
  const { V1MicroTime } = await import('@kubernetes/client-node');
  const namespace = ha.namespace ?? api.namespace;
  const elector = new LeaderElector({
    store: kubernetesLeaseStore(api, V1MicroTime, namespace, ha.leaseName),
    identity: ha.identity ?? defaultIdentity(),
    clock: options.clock,
    logger: options.logger,
    leaseDurationMs: ha.leaseDuration,
    renewIntervalMs: ha.renewInterval,
    ...(options.onChange ? { onChange: options.onChange } : {}),
  });
  options.logger.info(
    { lease: `${namespace}/${ha.leaseName}`, identity: elector.identity, server: api.server, leaseDurationMs: elector.leaseDurationMs },
    'leader election: campaigning',
  );
  await elector.start();
  return elector;
}

/** `certkeeper_leader`: 1 on the replica that holds the lease, 0 on followers. Registered beside the agent's metrics. */
export function leaderGauge(registry: Registry): { set(leader: boolean): void } {
  const gauge = new Gauge({
    name: 'certkeeper_leader',
    help: '1 when this replica holds the leader lease (it orders and deploys); 0 on followers. Absent without ha.',
    registers: [registry],
  });
  return { set: (leader) => gauge.set(leader ? 1 : 0) };
}
