// Three `certkeeper run` agents with `state.type: kubernetes` on the API stand-in, as three pods of
// a Deployment (or three pods with a sidecar each): one Pebble (behind the ACME proxy, which counts
// orders at the CA), one BIND, and per agent its own config (agent id, files sink folder: the
// pod's emptyDir) with the same `state:`. The stand-in grants exactly the chart's Role
// (charts/certkeeper/templates/rbac.yaml), so a verb the store needs and the Role lacks fails
// here. What the issue promises: each certificate ordered once, each pod's sink gets it; the lock
// holder SIGKILLed mid-order, another finishes; three rolling restarts onto empty pods order
// nothing again.

import { spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../../src/devstack/stack.js';
import { leaseName } from '../../../src/state/storage/kubernetes/names.js';
import { startAcmeProxy, proxyConfig, type AcmeProxy } from '../../helpers/acme-proxy.js';
import { chartStoreRules } from '../../helpers/chart-rbac.js';
import { CLI, txtAt, workDir } from '../../helpers/cli.js';
import { startK8sStandin, type K8sStandin } from '../../helpers/k8s-standin.js';

let stack: Stack;
let proxy: AcmeProxy;
let k8s: K8sStandin;
let kubeconfig: string;
const daemons: ChildProcess[] = [];

beforeAll(async () => {
  [stack, k8s] = await Promise.all([startStack({ pebble: { authzReusePercent: 0 } }), startK8sStandin()]);
  proxy = await startAcmeProxy(stack.pebble);
  proxy.ari = false; // Pebble 2.4 has none
  kubeconfig = k8s.kubeconfig(workDir(stack, 'ck-kube-'), 'default');
  // Exactly what the chart's Role grants; everything else is 403.
  k8s.allow(chartStoreRules());
});
afterEach(() => {
  proxy.stall = undefined;
  for (const child of daemons.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
afterAll(async () => {
  await proxy?.stop();
  await Promise.allSettled([stack?.stop(), k8s?.stop()]);
});

const AGENTS = ['a', 'b', 'c'] as const;
type AgentId = (typeof AGENTS)[number];

interface Fleet {
  namespace: string;
  configs: Record<AgentId, string>;
  dirs: Record<AgentId, string>;
}

let namespaces = 0;

function fleet(certificates: string[], options: { lockTtl?: string } = {}): Fleet {
  const namespace = `fleet-${++namespaces}`;
  const configs = {} as Record<AgentId, string>;
  const dirs = {} as Record<AgentId, string>;
  for (const id of AGENTS) {
    const dir = workDir(stack, `ck-kfleet-${id}-`);
    const file = proxyConfig(dir, stack, proxy, {
      extra: `backoff: [1s, 2s]\nagent: { id: ${id} }\n`,
      certificates: certificates.map((name) => `  - { name: ${name}, domains: [${name}.example.test], dns: bind, sinks: [files] }`).join('\n'),
    });
    const state = `state:\n  type: kubernetes\n  kubeconfig: ${kubeconfig}\n  namespace: ${namespace}\n  lockTtl: ${options.lockTtl ?? '2m'}\n  localDir: ./state\n`;
    const text = readFileSync(file, 'utf8').replace(/^stateDir: \.\/state\n/m, state);
    if (!text.includes('type: kubernetes')) throw new Error(`could not give ${file} a kubernetes state`);
    writeFileSync(file, text);
    configs[id] = file;
    dirs[id] = dir;
  }
  return { namespace, configs, dirs };
}

interface Daemon {
  id: AgentId;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startDaemon(id: AgentId, config: string): Daemon {
  const child = spawn(process.execPath, [CLI, '--config', config, 'run'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  daemons.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { id, child, output: () => output, exited };
}

function startFleet(f: Fleet): Record<AgentId, Daemon> {
  return Object.fromEntries(AGENTS.map((id) => [id, startDaemon(id, f.configs[id])])) as Record<AgentId, Daemon>;
}

function tails(list: Daemon[]): string {
  return list.map((d) => `\n--- agent ${d.id} (exit ${d.child.exitCode ?? d.child.signalCode ?? 'running'}) ---\n${d.output().slice(-3000)}`).join('');
}

/** Polls `probe` until it returns a value (a generous wait for a condition, never a timing assertion). */
async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, list: Daemon[] = []): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await Promise.resolve()
      .then(probe)
      .catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${tails(list)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function deployedSerial(f: Fleet, id: AgentId, cert: string): string | undefined {
  const dir = path.join(f.dirs[id], 'out', cert);
  if (!existsSync(path.join(dir, 'cert.pem')) || !existsSync(path.join(dir, 'privkey.pem'))) return undefined;
  const x509 = new X509Certificate(readFileSync(path.join(dir, 'cert.pem')));
  if (!x509.checkPrivateKey(createPrivateKey(readFileSync(path.join(dir, 'privkey.pem'))))) return undefined;
  return x509.serialNumber;
}

const ordersAtCa = (domain: string): number => proxy.orders.filter((order) => order.identifiers.includes(domain)).length;
const names = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i}`);
const forbidden = (): number => k8s.requests.filter((r) => r.status === 403).length;

// Generous bounds for a busy 2-core machine.
describe('three agents on the kubernetes store (API stand-in, the chart Role)', { timeout: 600_000 }, () => {
  it('orders each certificate once for the fleet, every pod deploys it, and three rolling restarts onto empty pods order nothing again', async () => {
    const certs = names('kf', 6);
    const f = fleet(certs);
    let agents = startFleet(f);
    let all = Object.values(agents);
    await until(
      'every agent deploying every certificate',
      () => (AGENTS.every((id) => certs.every((c) => deployedSerial(f, id, c) !== undefined)) ? true : undefined),
      120_000,
      all,
    );
    const serials = new Map(certs.map((cert) => [cert, deployedSerial(f, 'a', cert)]));
    for (const cert of certs) {
      expect(ordersAtCa(`${cert}.example.test`), `orders of ${cert} at the CA`).toBe(1);
      expect(new Set(AGENTS.map((id) => deployedSerial(f, id, cert))).size, `${cert} deployed with one serial`).toBe(1);
    }
    const ordersBefore = proxy.orders.length;

    for (let rollout = 1; rollout <= 3; rollout++) {
      for (const d of all) d.child.kill('SIGTERM');
      expect(await Promise.all(all.map((d) => d.exited)), `rollout ${rollout}: clean exits`).toEqual([0, 0, 0]);
      // New pods: new names (the agent id, as a pod's host name), their emptyDirs (sink folder,
      // local state) start empty; the cluster keeps the rest.
      for (const id of AGENTS) {
        rmSync(path.join(f.dirs[id], 'out'), { recursive: true, force: true });
        rmSync(path.join(f.dirs[id], 'state'), { recursive: true, force: true });
        const config = readFileSync(f.configs[id], 'utf8').replace(/^agent: \{ id: [^ ]+ \}$/m, `agent: { id: ${id}-rollout${rollout} }`);
        if (!config.includes(`rollout${rollout}`)) throw new Error(`could not rename agent ${id}`);
        writeFileSync(f.configs[id], config);
      }
      agents = startFleet(f);
      all = Object.values(agents);
      await until(
        `rollout ${rollout}: every new pod deploying every certificate`,
        () => (AGENTS.every((id) => certs.every((c) => deployedSerial(f, id, c) === serials.get(c))) ? true : undefined),
        120_000,
        all,
      );
      expect(proxy.orders.length, `rollout ${rollout}: orders at the CA`).toBe(ordersBefore);
    }
    for (const d of all) d.child.kill('SIGTERM');
    expect(await Promise.all(all.map((d) => d.exited))).toEqual([0, 0, 0]);
    expect(forbidden(), 'requests the chart Role refused').toBe(0);
    // Objects in the cluster: a Secret and a ConfigMap per certificate (besides accounts and agents' own).
    const secrets = k8s.objects('secrets', f.namespace).map((o) => o.metadata.name);
    for (const cert of certs) expect(secrets).toContain(`certkeeper-cert-${cert}`);
    expect(k8s.objects('secrets', f.namespace).find((o) => o.metadata.name === `certkeeper-cert-${certs[0]}`)?.type).toBe('kubernetes.io/tls');
  });

  it('the lock holder SIGKILLed mid-order: another agent finishes the certificate once its Lease expires, and removes the TXT record left behind', async () => {
    const victim = 'kkill0';
    const fqdn = `_acme-challenge.${victim}.example.test`;
    const f = fleet([victim], { lockTtl: '5s' });
    let stalling = true;
    const stalledBefore = proxy.stalled.length;
    proxy.stall = (method, url) => stalling && method === 'POST' && /\/chal[^/]*\//.test(url);
    const agents = startFleet(f);
    const all = Object.values(agents);

    await until(
      'the order stalled at the CA with its TXT record in DNS',
      async () => (proxy.stalled.length > stalledBefore && (await txtAt(stack.bind.address, fqdn)).length > 0 ? true : undefined),
      60_000,
      all,
    );
    const lease = k8s.object('leases', f.namespace, leaseName('certkeeper', `cert/${victim}`));
    const holderId = /^([abc]) \(pid /.exec(String(lease?.spec?.holderIdentity ?? ''))?.[1] as AgentId | undefined;
    expect(holderId, `lease holder ${String(lease?.spec?.holderIdentity)}`).toBeDefined();
    const holder = agents[holderId!];
    holder.child.kill('SIGKILL');
    await holder.exited;
    stalling = false;
    expect(ordersAtCa(`${victim}.example.test`)).toBe(1);

    const others = AGENTS.filter((id) => id !== holderId);
    await until(
      `another agent issuing ${victim} and both deploying it`,
      () => (others.every((id) => deployedSerial(f, id, victim) !== undefined) ? true : undefined),
      90_000,
      all,
    );
    expect(await txtAt(stack.bind.address, fqdn)).toEqual([]);
    expect(ordersAtCa(`${victim}.example.test`)).toBeLessThanOrEqual(2);
    // The taker says it took an expired lease over, and the Lease is free again after.
    const takers = others.map((id) => agents[id].output()).join('\n');
    expect(takers).toMatch(/lock lease expired; taken over/);
    await until(
      'the Lease released',
      () => (k8s.object('leases', f.namespace, leaseName('certkeeper', `cert/${victim}`))?.spec?.holderIdentity === '' ? true : undefined),
      30_000,
      all,
    );

    const survivors = all.filter((d) => d !== holder);
    for (const d of survivors) d.child.kill('SIGTERM');
    expect(await Promise.all(survivors.map((d) => d.exited))).toEqual([0, 0]);
    expect(forbidden(), 'requests the chart Role refused').toBe(0);
  });
});
