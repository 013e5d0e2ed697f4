// Several `certkeeper run` agents sharing one PostgreSQL store, as a fleet runs them: one Pebble
// (behind the ACME proxy, which counts orders at the CA), one BIND, one PostgreSQL, and per agent
// its own config (agent id, files sink folder) with the same `state:`. What the shared store
// promises: every certificate ordered once for the fleet and deployed by every agent; a renewal
// by one reaches the others; an agent killed mid-order leaves neither a stuck lock nor a TXT
// record; a database restart costs readiness for a while, never an agent or a record.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/devstack/ports.js';
import { startStack, type Stack } from '../../../src/devstack/stack.js';
import { startAcmeProxy, proxyConfig, type AcmeProxy } from '../../helpers/acme-proxy.js';
import { CLI, history, runCli, txtAt, workDir } from '../../helpers/cli.js';
import { startPostgres, type PostgresCluster } from '../../helpers/postgres.js';

let stack: Stack;
let proxy: AcmeProxy;
let cluster: PostgresCluster;
const daemons: ChildProcess[] = [];

beforeAll(async () => {
  [stack, cluster] = await Promise.all([startStack({ pebble: { authzReusePercent: 0 } }), startPostgres()]);
  proxy = await startAcmeProxy(stack.pebble);
  proxy.ari = false; // Pebble 2.4 has none; the renewal-info lookups would only add noise
});
afterEach(() => {
  proxy.stall = undefined;
  for (const child of daemons.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
afterAll(async () => {
  await proxy?.stop();
  await Promise.allSettled([stack?.stop(), cluster?.stop()]);
});

const AGENTS = ['a', 'b', 'c'] as const;
type AgentId = (typeof AGENTS)[number];

interface Fleet {
  schema: string;
  /** Each agent's config file; its files sink writes to <its dir>/out/<cert>/. */
  configs: Record<AgentId, string>;
  dirs: Record<AgentId, string>;
}

let schemas = 0;

/**
 * One config per agent, differing only in `agent.id` and the folder (so the files sink): the same
 * `state:` (a fresh schema per test), the same certificates.
 */
function fleet(certificates: string[], options: { lockTtl?: string; pollInterval?: string; http?: Partial<Record<AgentId, number>> } = {}): Fleet {
  const schema = `fleet${process.pid}_${++schemas}`;
  const configs = {} as Record<AgentId, string>;
  const dirs = {} as Record<AgentId, string>;
  for (const id of AGENTS) {
    const dir = workDir(stack, `ck-fleet-${id}-`);
    const port = options.http?.[id];
    const file = proxyConfig(dir, stack, proxy, {
      extra: `backoff: [1s, 2s]\nagent: { id: ${id} }\n${port ? `http: { listen: "127.0.0.1:${port}" }\n` : ''}`,
      certificates: certificates.map((name) => `  - { name: ${name}, domains: [${name}.example.test], dns: bind, sinks: [files] }`).join('\n'),
    });
    const state = `state:\n  type: postgres\n  url: ${cluster.url}\n  schema: ${schema}\n  lockTtl: ${options.lockTtl ?? '2m'}\n${options.pollInterval ? `  pollInterval: ${options.pollInterval}\n` : ''}  localDir: ./state\n`;
    const text = readFileSync(file, 'utf8').replace(/^stateDir: \.\/state\n/m, state);
    if (!text.includes('type: postgres')) throw new Error(`could not give ${file} a postgres state`);
    writeFileSync(file, text);
    configs[id] = file;
    dirs[id] = dir;
  }
  return { schema, configs, dirs };
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

function tails(daemons: Daemon[]): string {
  return daemons.map((d) => `\n--- agent ${d.id} (exit ${d.child.exitCode ?? d.child.signalCode ?? 'running'}) ---\n${d.output().slice(-3000)}`).join('');
}

/** Polls `probe` until it returns a value (a generous wait for a condition, never a timing assertion). */
async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, daemons: Daemon[] = []): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await Promise.resolve()
      .then(probe)
      .catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${tails(daemons)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The serial of the certificate an agent's files sink holds, once its key matches; undefined before. */
function deployedSerial(f: Fleet, id: AgentId, cert: string): string | undefined {
  const dir = path.join(f.dirs[id], 'out', cert);
  if (!existsSync(path.join(dir, 'cert.pem')) || !existsSync(path.join(dir, 'privkey.pem'))) return undefined;
  const x509 = new X509Certificate(readFileSync(path.join(dir, 'cert.pem')));
  if (!x509.checkPrivateKey(createPrivateKey(readFileSync(path.join(dir, 'privkey.pem'))))) return undefined;
  return x509.serialNumber;
}

function ordersAtCa(domain: string): number {
  return proxy.orders.filter((order) => order.identifiers.includes(domain)).length;
}

const names = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

// Generous bounds for a busy 2-core machine; the file takes about 40 s.
describe('agents sharing a PostgreSQL store', { timeout: 150_000 }, () => {
  it('three agents order each of 30 certificates once for the fleet, all deploy all, and a forced renewal by one reaches the others', async () => {
    const certs = names('fl', 30);
    const f = fleet(certs);
    const agents = startFleet(f);
    const all = Object.values(agents);

    await until(
      'every agent deploying every certificate',
      () => (AGENTS.every((id) => certs.every((c) => deployedSerial(f, id, c) !== undefined)) ? true : undefined),
      90_000,
      all,
    );
    for (const cert of certs) {
      expect(ordersAtCa(`${cert}.example.test`), `orders of ${cert} at the CA`).toBe(1);
      // One certificate, the same in every agent's sink.
      const serials = new Set(AGENTS.map((id) => deployedSerial(f, id, cert)));
      expect(serials.size, `${cert} deployed with one serial`).toBe(1);
    }
    expect(all.every((d) => d.child.exitCode === null)).toBe(true);

    // A forced renewal run by agent a (the CLI with a's config) reaches b's and c's sinks.
    const target = certs[7]!;
    const before = deployedSerial(f, 'a', target)!;
    const forced = await runCli(['--config', f.configs.a, 'renew', '--force', '--yes', '--cert', target, '--json']);
    expect(forced.code, forced.stderr).toBe(0);
    const renewed = deployedSerial(f, 'a', target)!;
    expect(renewed).not.toBe(before);
    expect(ordersAtCa(`${target}.example.test`)).toBe(2);
    await until(
      `the renewed ${target} in b's and c's sinks`,
      () => (deployedSerial(f, 'b', target) === renewed && deployedSerial(f, 'c', target) === renewed ? true : undefined),
      30_000,
      all,
    );
    // Nobody ordered it again on hearing of it.
    expect(ordersAtCa(`${target}.example.test`)).toBe(2);

    for (const d of all) d.child.kill('SIGTERM');
    expect(await Promise.all(all.map((d) => d.exited))).toEqual([0, 0, 0]);
  });

  it('a renewal whose NOTIFY never reaches a running agent (its listening connection silently dead) is deployed there by the poll', async () => {
    const target = 'poll0';
    const f = fleet([target], { pollInterval: '1s' });
    const b = startDaemon('b', f.configs.b);
    const before = await until(`b deploying ${target}`, () => deployedSerial(f, 'b', target), 60_000, [b]);
    // b's LISTEN connection goes silent: its server process stopped, the socket still open.
    const [listening] = await until(
      'b listening',
      async () => {
        const rows = await cluster.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE query = $1`, [`LISTEN "certkeeper.${f.schema}"`]);
        return rows.length === 1 ? rows : undefined;
      },
      30_000,
      [b],
    );
    execFileSync('kill', ['-STOP', String(listening!.pid)]);
    try {
      const forced = await runCli(['--config', f.configs.a, 'renew', '--force', '--yes', '--cert', target, '--json']);
      expect(forced.code, forced.stderr).toBe(0);
      const renewed = deployedSerial(f, 'a', target)!;
      expect(renewed).not.toBe(before);
      await until(`the renewed ${target} in b's sink`, () => (deployedSerial(f, 'b', target) === renewed ? true : undefined), 30_000, [b]);
      // Found by the poll: the listener never noticed its connection was gone.
      expect(b.output()).not.toContain('notifications resumed');
      // Both ran and said so (the daemon when it planned, `renew` when it was done): the other
      // agents keep their local deploy records (src/state/agent-seen.ts).
      const seen = await cluster.query<{ key: string }>(`SELECT key FROM ${f.schema}.kv WHERE key LIKE 'agents/%/seen' ORDER BY key`);
      expect(seen.map((row) => row.key)).toEqual(['agents/a/seen', 'agents/b/seen']);
    } finally {
      execFileSync('kill', ['-CONT', String(listening!.pid)]);
    }
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
  });

  it('an agent SIGKILLed mid-order: another finishes the certificate once its lease expires, removes the TXT record left behind, and history says why', async () => {
    const victim = 'kill0';
    const fqdn = `_acme-challenge.${victim}.example.test`;
    const f = fleet([victim], { lockTtl: '5s' });
    // The CA never answers the "ready" POST to a challenge: the order stays in flight, its TXT
    // record in DNS and its lock held, until the holder dies.
    let stalling = true;
    const stalledBefore = proxy.stalled.length;
    proxy.stall = (method, url) => stalling && method === 'POST' && /\/chal[^/]*\//.test(url);
    const agents = startFleet(f);
    const all = Object.values(agents);

    await until(
      'the order stalled at the CA with its TXT record in DNS',
      async () => (proxy.stalled.length > stalledBefore && (await txtAt(stack.bind.address, fqdn)).length > 0 ? true : undefined),
      30_000,
      all,
    );
    const [lock] = await cluster.query<{ holder: string }>(`SELECT holder FROM ${f.schema}.locks WHERE name = $1`, [`cert/${victim}`]);
    const holderId = /^([abc]) \(pid /.exec(lock?.holder ?? '')?.[1] as AgentId | undefined;
    expect(holderId, `lock holder ${lock?.holder}`).toBeDefined();
    const holder = agents[holderId!];
    expect(holder.output()).toContain(victim);
    holder.child.kill('SIGKILL');
    await holder.exited;
    stalling = false;
    expect(ordersAtCa(`${victim}.example.test`)).toBe(1);
    expect(await txtAt(stack.bind.address, fqdn)).not.toEqual([]); // the dead agent's record, until someone takes over

    const others = AGENTS.filter((id) => id !== holderId);
    await until(
      `another agent issuing ${victim} and both deploying it`,
      () => (others.every((id) => deployedSerial(f, id, victim) !== undefined) ? true : undefined),
      60_000,
      all,
    );
    expect(await txtAt(stack.bind.address, fqdn)).toEqual([]);
    expect(ordersAtCa(`${victim}.example.test`)).toBeLessThanOrEqual(2);
    // History has both orders the CA saw: the killed agent's, abandoned (written by the agent that
    // took its expired lease over, as the dead one could not), then the taker's.
    const issues = (await history(f.configs[others[0]!], victim)).filter((line) => line.action === 'issue').reverse();
    expect(issues.map((line) => [line.result, line.code ?? null])).toEqual([
      ['failure', 'CANCELLED'],
      ['success', null],
    ]);
    expect(issues[0]!.error).toMatch(/^abandoned: the agent holding the lock stopped/);
    expect(issues[0]!.error).toContain('removed 1 challenge record it left in DNS');
    const [after] = await cluster.query<{ holder: string }>(`SELECT holder FROM ${f.schema}.locks WHERE name = $1`, [`cert/${victim}`]);
    expect(after).toBeUndefined();

    const survivors = all.filter((d) => d !== holder);
    for (const d of survivors) d.child.kill('SIGTERM');
    expect(await Promise.all(survivors.map((d) => d.exited))).toEqual([0, 0]);
  });

  it('a PostgreSQL restart mid-run: the agents stay up (healthz), are not ready while it is down, retry, and lose nothing', async () => {
    const certs = names('pr', 12);
    const port = await freePort();
    const f = fleet(certs, { lockTtl: '5s', http: { a: port } });
    const base = `http://127.0.0.1:${port}`;
    const agents = startFleet(f);
    const all = Object.values(agents);
    // Ready once it has planned (its localDir, which a database store leaves to the agent, included).
    await until('/readyz', async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined), 30_000, all);

    // /healthz is asked throughout: it must answer 200 every time, database or not.
    const health: (number | string)[] = [];
    let probing = true;
    const prober = (async () => {
      while (probing) {
        health.push(
          await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5_000) }).then(
            (r) => r.status,
            (error: unknown) => String(error),
          ),
        );
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();

    // Mid-run: the moment the first certificate is stored, the server goes away (as a crash).
    await until(
      'a first certificate stored',
      async () => ((await cluster.query(`SELECT key FROM ${f.schema}.kv WHERE key LIKE 'certs/%/current'`)).length > 0 ? true : undefined),
      60_000,
      all,
    );
    const earlier = await cluster.query<{ at: Date; subject: string; body: string }>(`SELECT at, subject, body FROM ${f.schema}.log ORDER BY id`);
    await cluster.stopServer();
    try {
      const notReady = await until(
        '/readyz to say the store is unreachable',
        async () => {
          const response = await fetch(`${base}/readyz`);
          return response.status === 503 ? ((await response.json()) as { ready: boolean; reasons: string[] }) : undefined;
        },
        30_000,
        all,
      );
      expect(notReady.ready).toBe(false);
      expect(notReady.reasons.join('\n')).toContain('state store unreachable');
      // A few seconds down: longer than a lock's TTL, so the holders lose their leases.
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      expect(all.map((d) => d.child.exitCode ?? d.child.signalCode)).toEqual([null, null, null]);
    } finally {
      await cluster.startServer();
    }
    await until('/readyz ready again', async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined), 30_000, all);
    await until(
      'every agent deploying every certificate after the restart',
      () => (AGENTS.every((id) => certs.every((c) => deployedSerial(f, id, c) !== undefined)) ? true : undefined),
      90_000,
      all,
    );
    probing = false;
    await prober;
    expect(health.length).toBeGreaterThan(10);
    expect(health.filter((status) => status !== 200)).toEqual([]);
    expect(all.map((d) => d.child.exitCode ?? d.child.signalCode)).toEqual([null, null, null]);

    // Nothing lost: every history entry written before the outage is still there ...
    const later = await cluster.query<{ at: Date; subject: string; body: string }>(`SELECT at, subject, body FROM ${f.schema}.log ORDER BY id`);
    for (const entry of earlier) expect(later).toContainEqual(entry);
    // ... one certificate for each name, the same in every sink ...
    for (const cert of certs) expect(new Set(AGENTS.map((id) => deployedSerial(f, id, cert))).size, cert).toBe(1);
    // ... and the change notifications work again: a forced renewal by a reaches b and c.
    const target = certs[0]!;
    const forced = await runCli(['--config', f.configs.a, 'renew', '--force', '--yes', '--cert', target, '--json']);
    expect(forced.code, forced.stderr).toBe(0);
    const renewed = deployedSerial(f, 'a', target)!;
    await until(
      `the renewed ${target} in b's and c's sinks`,
      () => (deployedSerial(f, 'b', target) === renewed && deployedSerial(f, 'c', target) === renewed ? true : undefined),
      30_000,
      all,
    );
    const lines = await history(f.configs.b);
    expect(lines.length).toBeGreaterThanOrEqual(earlier.length);

    for (const d of all) d.child.kill('SIGTERM');
    expect(await Promise.all(all.map((d) => d.exited))).toEqual([0, 0, 0]);
  });

  it('while PostgreSQL is down, renew and status exit 1 saying the store is unreachable, and deployed files stay untouched', async () => {
    const certs = names('dn', 2);
    const f = fleet(certs);
    const issued = await runCli(['--config', f.configs.a, 'renew']);
    expect(issued.code, issued.stderr).toBe(0);
    const files = certs.flatMap((cert) => ['cert.pem', 'privkey.pem', 'fullchain.pem'].map((name) => path.join(f.dirs.a, 'out', cert, name)));
    const snapshot = (): string[] => files.map((file) => `${readFileSync(file, 'base64')} ${statSync(file).mtimeMs} ${statSync(file).ino}`);
    const before = snapshot();

    await cluster.stopServer();
    try {
      const renewed = await runCli(['--config', f.configs.a, 'renew', '--force', '--yes']);
      expect(renewed.code).toBe(1);
      expect(renewed.stderr).toContain('STATE_UNREACHABLE');
      expect(renewed.stderr).toContain('the state store is unreachable');
      expect(renewed.stderr).not.toContain(cluster.password);
      const status = await runCli(['--config', f.configs.a, 'status']);
      expect(status.code).toBe(1);
      expect(status.stderr).toContain('STATE_UNREACHABLE');
      expect(status.stderr).toMatch(/state store .* is unreachable/);
      expect(status.stderr).not.toContain(cluster.password);
      expect(snapshot()).toEqual(before);
    } finally {
      await cluster.startServer();
    }
    expect(snapshot()).toEqual(before);
    expect(ordersAtCa(`${certs[0]}.example.test`)).toBe(1);
  });
});
