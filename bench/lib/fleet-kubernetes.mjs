// bench/fleet.sh with FLEET_STATE=kubernetes: the kubernetes store at 1,000 certificates on the
// Kubernetes API stand-in (test/helpers/k8s-standin.ts, transpiled here; loopback HTTPS, so the
// figures are the agent's side: requests made and objects read, not a real API server's
// latency). `certkeeper status --json` wall time and its API calls; then the daemon idle: API
// calls per idle minute by verb and resource, which shows the watch (one long request per kind,
// resumed every 4 minutes) where a poll would list every object of the fleet.
//
// Seeded through the production code: 100 certificates through RepositoryStore.putCertificate
// (recorded as deployed), each cloned by copying the keys the repositories wrote.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { CLI, fmt, measure, REPO } from './common.mjs';
import { populate } from './populate.mjs';

const COUNT = Number(process.argv[2] ?? 1_000);
const IDLE_S = Number(process.argv[3] ?? 60);
const RUNS = Number(process.env.FLEET_RUNS ?? 3);
const TEMPLATES = Math.min(100, COUNT);
const AGENT = 'bench';
const NAMESPACE = 'certkeeper';

const dir = mkdtempSync(path.join(tmpdir(), 'ck-fleet-k8s-'));
const k8s = await startStandin();
try {
  await bench();
} finally {
  await k8s.stop();
  if (process.env.KEEP) console.log(`  kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}

/** The test suite's API stand-in, transpiled (it and the certificate helper it imports). */
async function startStandin() {
  const out = path.join(dir, 'standin');
  mkdirSync(out);
  for (const file of ['k8s-standin.ts', 'certs.ts']) {
    const source = readFileSync(path.join(REPO, 'test/helpers', file), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
    });
    writeFileSync(path.join(out, file.replace(/\.ts$/, '.js')), outputText);
  }
  const { startK8sStandin } = await import(path.join(out, 'k8s-standin.js'));
  return startK8sStandin();
}

/** `verb resource` → count, for requests[from..to). */
function calls(from, to = k8s.requests.length) {
  const counts = new Map();
  for (const r of k8s.requests.slice(from, to)) counts.set(`${r.verb} ${r.kind}`, (counts.get(`${r.verb} ${r.kind}`) ?? 0) + 1);
  return (
    [...counts]
      .sort((a, b) => b[1] - a[1])
      .map(([what, n]) => `${what}=${n}`)
      .join(' ') || 'none'
  );
}

async function bench() {
  const kubeconfig = k8s.kubeconfig(dir, NAMESPACE);
  const names = Array.from({ length: COUNT }, (_, i) => ({ name: `c${i}`, domain: `t${i % TEMPLATES}.example.test` }));
  const seedStart = performance.now();
  await seed(names, kubeconfig);
  const objects = k8s.objects('secrets', NAMESPACE).length + k8s.objects('configmaps', NAMESPACE).length;
  console.log(
    `seeded kubernetes (stand-in): ${COUNT} certificates in ${fmt((performance.now() - seedStart) / 1000, 1)} s; ${objects} objects (Secrets + ConfigMaps)`,
  );
  mkdirSync(path.join(dir, 'local'), { mode: 0o700 });
  writeFileSync(
    path.join(dir, 'certkeeper.yaml'),
    `state: { type: kubernetes, kubeconfig: ${kubeconfig}, namespace: ${NAMESPACE}, localDir: ./local }
agent: { id: ${AGENT} }
acme: { directory: "https://127.0.0.1:9/dir", email: bench@example.test }
schedule: "0 3 * * *"
dns:
  bind: { type: rfc2136, server: "127.0.0.1:9", tsigKeyName: k, tsigSecret: "c2VjcmV0" }
sinks:
  files: { type: files, dir: "./out/{cert}" }
certificates:
${names.map((c) => `  - { name: ${c.name}, domains: [${c.domain}], dns: bind, sinks: [files] }`).join('\n')}
`,
  );
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...(process.env.NODE_OPTIONS ? { NODE_OPTIONS: process.env.NODE_OPTIONS } : {}) };
  const config = path.join(dir, 'certkeeper.yaml');
  const cli = (...args) => measure(process.execPath, [CLI, '--config', config, ...args], { env, cwd: dir });
  const median = (runs) => [...runs].sort((a, b) => a.wallMs - b.wallMs)[runs.length >> 1];

  const runs = [];
  let statusCalls = '';
  for (let i = 0; i < RUNS; i++) {
    const before = k8s.requests.length;
    const r = await cli('status', '--json');
    if (r.code !== 0) throw new Error(`status exited ${r.code}: ${r.stderr.slice(-2000)}`);
    const rows = JSON.parse(r.stdout);
    if (rows.length !== COUNT || rows.some((row) => row.state !== 'valid'))
      throw new Error(`expected ${COUNT} valid rows, got ${rows.length} (${rows.find((row) => row.state !== 'valid')?.state})`);
    statusCalls = `${k8s.requests.length - before} (${calls(before)})`;
    runs.push(r);
  }
  const status = median(runs);
  console.log(
    `kubernetes status --json certs=${COUNT} runs=${RUNS} wall_s_median=${fmt(status.wallMs / 1000, 3)} (all: ${runs.map((r) => fmt(r.wallMs / 1000, 2)).join(' ')}) cpu_s=${fmt(status.cpuS, 2)} peak_rss_mb=${fmt(status.peakRssKb / 1024, 1)} api_calls=${statusCalls}`,
  );

  // The daemon: plans the fleet (nothing due), then idles; count its API calls per idle minute.
  const started = k8s.requests.length;
  const daemon = spawn(process.execPath, [CLI, '--config', config, 'run'], { env, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  daemon.stderr.on('data', (c) => (log = (log + c).slice(-20_000)));
  // Planned and settled: no request for 5 s (at most 120 s).
  let last = k8s.requests.length;
  let quiet = 0;
  for (let t = 0; t < 480 && quiet < 20; t++) {
    await new Promise((r) => setTimeout(r, 250));
    if (daemon.exitCode !== null) throw new Error(`the daemon exited early: ${log.slice(-2000)}`);
    quiet = k8s.requests.length === last ? quiet + 1 : 0;
    last = k8s.requests.length;
  }
  const settled = k8s.requests.length;
  console.log(`kubernetes daemon start-up (plan ${COUNT}, open the watch): api_calls=${settled - started} (${calls(started, settled)})`);
  await new Promise((r) => setTimeout(r, IDLE_S * 1000));
  const idle = k8s.requests.length - settled;
  const watchers = k8s.watchers;
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.once('close', r));
  console.log(
    `kubernetes daemon idle ${IDLE_S} s: api_calls=${idle} (${calls(settled, settled + idle)}) = ${fmt((idle * 60) / IDLE_S, 1)} per idle minute; open watches=${watchers}; ` +
      `a poll instead would list ${objects} objects per poll (2 lists), every 20 s (the contract's default) = 6 lists per minute`,
  );
}

async function seed(names, kubeconfig) {
  const { stateSchema } = await import(path.join(REPO, 'dist/state/schema.js'));
  const { openStateStore } = await import(path.join(REPO, 'dist/state/open.js'));
  const { systemClock } = await import(path.join(REPO, 'dist/core/clock.js'));
  const { silentLogger } = await import(path.join(REPO, 'dist/core/logger.js'));
  const { mapLimit } = await import(path.join(REPO, 'dist/core/concurrency.js'));
  mkdirSync(path.join(dir, 'seed-local'), { mode: 0o700 });
  const state = stateSchema.parse({ type: 'kubernetes', kubeconfig, namespace: NAMESPACE, localDir: path.join(dir, 'seed-local') });
  const store = await openStateStore({ state, agentId: 'bench-seed', clock: systemClock, logger: silentLogger });
  try {
    const templates = Array.from({ length: TEMPLATES }, (_, i) => ({ name: `t${i}`, domains: [`t${i}.example.test`] }));
    await populate(store, templates, { days: 90, deployedTo: [`files@${AGENT}`] });
    const written = await mapLimit(templates, 8, async (t) => {
      const prefix = `certs/${t.name}/`;
      const keys = await store.storage.list(prefix);
      return Promise.all(keys.map(async (key) => ({ rest: key.slice(prefix.length), value: (await store.storage.get(key)).value })));
    });
    await mapLimit(names, 8, async (c, i) => {
      for (const { rest, value } of written[i % TEMPLATES]) await store.storage.put(`certs/${c.name}/${rest}`, value);
    });
  } finally {
    await store.storage.close();
  }
}
