// Two `certkeeper run` processes sharing one Lease on the Kubernetes API stand-in, against real
// Pebble + BIND with short-lived certificates: exactly one of them (the leader) orders and writes
// the Secret while the other only serves health and metrics; when the leader is killed with
// SIGKILL (no release), the follower takes the lease over once it expires and carries on.

import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/devstack/ports.js';
import { startStack, type Stack } from '../../../src/devstack/stack.js';
import { CLI, history, orders, workDir, writeConfig } from '../../helpers/cli.js';
import { startK8sStandin, type K8sStandin } from '../../helpers/k8s-standin.js';

const VALIDITY_SECONDS = 30;
const LEASE_SECONDS = 3;
let stack: Stack;
let k8s: K8sStandin;
const daemons: ChildProcess[] = [];

beforeAll(async () => {
  [stack, k8s] = await Promise.all([startStack({ pebble: { validityPeriodSeconds: VALIDITY_SECONDS } }), startK8sStandin()]);
});
afterEach(() => {
  for (const child of daemons.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
afterAll(async () => {
  await stack?.stop();
  await k8s?.stop();
});

interface Replica {
  identity: string;
  config: string;
  base: string;
  child: ChildProcess;
  output: () => string;
}

async function startReplica(identity: string): Promise<Replica> {
  const dir = workDir(stack, `ck-ha-${identity}-`);
  const port = await freePort();
  const kubeconfig = k8s.kubeconfig(dir, 'web');
  const config = writeConfig(dir, stack, {
    extra: [
      `http: { listen: "127.0.0.1:${port}" }`,
      'backoff: [1s, 2s]',
      `ha: { kubernetes: { leaseName: certkeeper, namespace: certkeeper, identity: ${identity}, leaseDuration: ${LEASE_SECONDS}s, renewInterval: 1s } }`,
    ].join('\n'),
    sinks: '  k8s:\n    type: kubernetes-secret\n    secretName: "{cert}-tls"',
    certificates: '  - { name: shared, domains: [ha.example.test], dns: bind, sinks: [k8s], renewBefore: 50% }',
  });
  const child = spawn(process.execPath, [CLI, '--config', config, 'run'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', KUBECONFIG: kubeconfig },
  });
  daemons.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { identity, config, base: `http://127.0.0.1:${port}`, child, output: () => output };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, replicas: Replica[]): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      const logs = replicas.map((r) => `--- ${r.identity} ---\n${r.output().slice(-3000)}`).join('\n');
      throw new Error(`timed out waiting for ${what}\n${logs}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function leaderMetric(replica: Replica): Promise<number | undefined> {
  const text = await (await fetch(`${replica.base}/metrics`)).text();
  const match = /^certkeeper_leader (\d)$/m.exec(text);
  return match ? Number(match[1]) : undefined;
}

const successfulOrders = async (replica: Replica): Promise<number> => orders(await history(replica.config)).filter((line) => line.result === 'success').length;

describe('certkeeper run with ha.kubernetes', () => {
  it('exactly one replica renews and writes the Secret; the other takes over after the leader is killed', { timeout: 180_000 }, async () => {
    const a = await startReplica('replica-a');
    await until('replica-a to lead', async () => ((await leaderMetric(a)) === 1 ? true : undefined), 30_000, [a]);
    const b = await startReplica('replica-b');
    const both = [a, b];
    await until('replica-b to follow', async () => ((await leaderMetric(b)) === 0 ? true : undefined), 30_000, both);

    // The leader issues and renews (30 s certificates, renewed at half-life); the follower never orders.
    await until('two orders by the leader', async () => ((await successfulOrders(a)) >= 2 ? true : undefined), VALIDITY_SECONDS * 2_000, both);
    expect(await successfulOrders(b)).toBe(0);
    expect(await leaderMetric(b)).toBe(0);
    expect((await fetch(`${b.base}/readyz`)).status).toBe(200); // followers are ready: they serve health and metrics
    expect(k8s.object('leases', 'certkeeper', 'certkeeper')!.spec!.holderIdentity).toBe('replica-a');
    const leaseWritersBefore = new Set(k8s.requests.filter((r) => r.kind === 'leases' && r.method !== 'GET' && r.status < 300).map((r) => r.holder));
    expect(leaseWritersBefore).toEqual(new Set(['replica-a']));
    const secret = k8s.object('secrets', 'web', 'shared-tls'); // the kubeconfig context's namespace
    expect(secret?.type).toBe('kubernetes.io/tls');
    const serialsByA = orders(await history(a.config))
      .filter((l) => l.result === 'success')
      .map((l) => l.serial);
    expect(serialsByA).toContain(secret!.metadata.annotations!['certkeeper.io/serial']);

    // SIGKILL: no release. The follower takes over once the lease has not changed for its duration.
    const killedAt = Date.now();
    a.child.kill('SIGKILL');
    await until('replica-b to lead', async () => ((await leaderMetric(b)) === 1 ? true : undefined), LEASE_SECONDS * 1000 * 5, both);
    const takeoverMs = Date.now() - killedAt;
    const lease = k8s.object('leases', 'certkeeper', 'certkeeper')!;
    expect(lease.spec).toMatchObject({ holderIdentity: 'replica-b', leaseTransitions: 1, leaseDurationSeconds: LEASE_SECONDS });
    expect(String(lease.spec!.renewTime)).toMatch(/\.\d{6}Z$/);

    // The new leader orders (its own state is empty) and writes the Secret.
    await until('an order by replica-b', async () => ((await successfulOrders(b)) >= 1 ? true : undefined), 60_000, both);
    const serialsByB = orders(await history(b.config))
      .filter((l) => l.result === 'success')
      .map((l) => l.serial);
    await until(
      "the Secret to hold replica-b's certificate",
      async () => (serialsByB.includes(k8s.object('secrets', 'web', 'shared-tls')?.metadata.annotations?.['certkeeper.io/serial'] ?? '') ? true : undefined),
      30_000,
      both,
    );
    expect(b.output()).toContain('leader lease expired; taking it over');
    console.log(`takeover after SIGKILL: ${takeoverMs} ms (lease duration ${LEASE_SECONDS} s)`);

    // A clean stop releases the lease.
    b.child.kill('SIGTERM');
    await new Promise((resolve) => b.child.once('exit', resolve));
    expect(k8s.object('leases', 'certkeeper', 'certkeeper')!.spec!.holderIdentity).toBe('');
  });
});
