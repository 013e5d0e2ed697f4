// bench/multi-agent.sh: N due certificates (never issued) for `certkeeper run` agents sharing one
// PostgreSQL store, each with its own files sink, against one agent alone on a store of its own;
// real Pebble (no validation sleep, no authorization reuse) behind a counting proxy, real BIND.
// Wall time runs from starting the agents until every agent's sink holds all N certificates;
// "issued" is when the store holds all N. The CA's order count must be exactly N in every run.
//
// node bench/lib/multi-agent.mjs [N=300] [AGENTS=3]

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { benchDir, CLI, fmt, startBenchStack, writeCertkeeperConfig } from './common.mjs';
import { startOrderProxy } from './order-proxy.mjs';
import { startPostgres } from './postgres.mjs';

const n = Number(process.argv[2] ?? 300);
const fleetSize = Number(process.argv[3] ?? 3);
if (!Number.isInteger(n) || n < 1 || !Number.isInteger(fleetSize) || fleetSize < 2) throw new Error('usage: bench/multi-agent.sh [N=300] [AGENTS=3]');
const TIMEOUT_MS = 20 * 60_000;
const runId = Date.now().toString(36);

const stack = await startBenchStack();
const proxy = await startOrderProxy(stack.pebble);
const db = await startPostgres();
let failed = false;
try {
  const alone = await run('alone', 1, 'solo');
  const fleet = await run('fleet', fleetSize, 'flt');
  console.log(
    `speed-up ${fleetSize} agents / 1 agent (deployed everywhere) = ${fmt(alone.wallMs / fleet.wallMs)}x; issued = ${fmt(alone.issuedMs / fleet.issuedMs)}x`,
  );
  failed = alone.orders !== n || fleet.orders !== n;
  console.log(failed ? `FAILED: the CA saw ${alone.orders} and ${fleet.orders} orders, not ${n} each` : `orders at the CA: exactly ${n} in each run`);
} finally {
  await proxy.stop();
  await db.stop();
  await stack.stop();
}
process.exitCode = failed ? 1 : 0;

/** Starts `count` agents on a fresh schema, waits until each sink has all N, stops them. */
async function run(label, count, tag) {
  const schema = `bench_${tag}_${runId}`;
  const names = Array.from({ length: n }, (_, i) => `${tag}${i}-${runId}.example.test`);
  const ids = Array.from({ length: count }, (_, i) => String.fromCharCode(97 + i));
  const dirs = ids.map((id) => {
    const dir = benchDir(stack, `ck-bench-${tag}-${id}-`);
    const file = writeCertkeeperConfig(dir, stack, names);
    writeFileSync(path.join(dir, 'pebble-ca.pem'), `${stack.pebble.caBundlePem}${proxy.caBundlePem}`);
    const state = `state:\n  type: postgres\n  url: ${db.url}\n  schema: ${schema}\n  localDir: ./state\nagent: { id: ${id} }\n`;
    writeFileSync(
      file,
      readFileSync(file, 'utf8')
        .replace(/^stateDir: \.\/state\n/m, state)
        .replace(`directory: ${stack.pebble.directoryUrl}`, `directory: ${proxy.directoryUrl}`),
    );
    return dir;
  });

  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const started = process.hrtime.bigint();
  const elapsedMs = () => Number(process.hrtime.bigint() - started) / 1e6;
  const agents = dirs.map((dir) => {
    const child = spawn(process.execPath, [CLI, '--config', path.join(dir, 'certkeeper.yaml'), 'run'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...(process.env.NODE_OPTIONS ? { NODE_OPTIONS: process.env.NODE_OPTIONS } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const agent = { child, obtained: 0, tail: '' };
    // The log (JSON lines): who issued what, and the last words if an agent dies.
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream.on('data', (chunk) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop();
        for (const line of lines) if (line.includes('"event":"obtained"')) agent.obtained++;
        agent.tail = (agent.tail + chunk).slice(-2000);
      });
    }
    return agent;
  });
  const deployed = (dir) => names.reduce((sum, _, i) => sum + (existsSync(path.join(dir, 'out', `c${i}`, 'cert.pem')) ? 1 : 0), 0);
  let issuedMs;
  let wallMs;
  const doneMs = dirs.map(() => undefined);
  try {
    for (;;) {
      dirs.forEach((dir, i) => {
        if (doneMs[i] === undefined && deployed(dir) === n) doneMs[i] = elapsedMs();
      });
      if (issuedMs === undefined) {
        const stored = await client.query(`SELECT count(*)::int AS n FROM ${schema}.kv WHERE key LIKE 'certs/%/current'`).catch(() => ({ rows: [{ n: 0 }] }));
        if (stored.rows[0].n >= n) issuedMs = elapsedMs();
      }
      if (issuedMs !== undefined && doneMs.every((ms) => ms !== undefined)) {
        wallMs = elapsedMs();
        break;
      }
      if (agents.some((agent) => agent.child.exitCode !== null)) throw new Error(`an agent exited early:\n${agents.map((a) => a.tail).join('\n')}`);
      if (elapsedMs() > TIMEOUT_MS) throw new Error(`${label}: not done after ${TIMEOUT_MS / 60_000} min (deployed: ${dirs.map(deployed).join(', ')})`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    for (const agent of agents) agent.cpuS = cpuSeconds(agent.child.pid);
    for (const agent of agents) agent.child.kill('SIGTERM');
    await Promise.all(agents.map((agent) => (agent.child.exitCode !== null ? undefined : new Promise((resolve) => agent.child.once('exit', resolve)))));
    await client.end();
  }
  const orders = names.reduce((sum, name) => sum + proxy.ordersFor(name), 0);
  const twice = names.filter((name) => proxy.ordersFor(name) > 1).length;
  const result = { label, count, wallMs, issuedMs, orders };
  console.log(
    `${label.padEnd(6)} agents=${count} N=${n} wall_s=${fmt(wallMs / 1000)} issued_s=${fmt(issuedMs / 1000)} per_cert_ms=${fmt(wallMs / n, 0)} ca_orders=${orders}${twice ? ` ordered_twice=${twice}` : ''} issued_by=${agents.map((a, i) => `${ids[i]}:${a.obtained}`).join(',')} sink_done_s=${doneMs.map((ms) => fmt(ms / 1000, 1)).join(',')} agent_cpu_s=${agents.map((a) => fmt(a.cpuS, 1)).join(',')}`,
  );
  return result;
}

/** CPU time (user + system) a process has used so far, from /proc (Linux); NaN elsewhere. */
function cpuSeconds(pid) {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}
