// bench/coldstart.sh: `certkeeper renew` with 100 certificates configured, all stored and none
// due: wall time and peak RSS of the whole process, and which heavy modules it loaded.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CLI, fmt, measure, REPO } from './common.mjs';
import { populate } from './populate.mjs';

const COUNT = Number(process.argv[2] ?? 100);
const RUNS = Number(process.argv[3] ?? 7);
const dir = mkdtempSync(path.join(tmpdir(), 'ck-coldstart-'));
const certs = Array.from({ length: COUNT }, (_, i) => ({ name: `c${i}`, domains: [`c${i}.example.test`] }));
await populate(path.join(dir, 'state'), certs, { days: 90 });
// Nothing is due, so neither the CA nor the DNS server below is ever contacted.
writeFileSync(
  path.join(dir, 'certkeeper.yaml'),
  `stateDir: ./state
acme: { directory: "https://127.0.0.1:9/dir", email: bench@example.test }
dns:
  bind: { type: rfc2136, server: "127.0.0.1:9", tsigKeyName: k, tsigSecret: "c2VjcmV0" }
sinks:
  files: { type: files, dir: "./out/{cert}" }
certificates:
${certs.map((c) => `  - { name: ${c.name}, domains: [${c.domains[0]}], dns: bind, sinks: [files] }`).join('\n')}
`,
);
const env = { PATH: process.env.PATH, HOME: process.env.HOME };
const args = [CLI, '--config', path.join(dir, 'certkeeper.yaml'), 'renew'];
// Not measured: the first run deploys the stored certificates to the files sink, as the run that
// issued them would have; after it nothing is left to do.
const warmup = await measure(process.execPath, args, { env, cwd: dir });
if (warmup.code !== 0) throw new Error(`renew exited ${warmup.code}: ${warmup.stderr.slice(-2000)}`);
const runs = [];
for (let i = 0; i < RUNS; i++) {
  const r = await measure(process.execPath, args, { env, cwd: dir });
  if (r.code !== 0) throw new Error(`renew exited ${r.code}: ${r.stderr.slice(-2000)}`);
  // Nothing due: without a terminal, not one line logged (an order or a deploy would log).
  if (/"msg":/.test(r.stderr)) throw new Error(`expected nothing due: ${r.stderr.slice(-1000)}`);
  runs.push(r);
}
runs.sort((a, b) => a.wallMs - b.wallMs);
const median = runs[runs.length >> 1];
console.log(
  `coldstart certs=${COUNT} runs=${RUNS} wall_s_median=${fmt(median.wallMs / 1000, 3)} wall_s_min=${fmt(runs[0].wallMs / 1000, 3)} peak_rss_mb=${fmt(Math.max(...runs.map((r) => r.peakRssKb)) / 1024, 1)} (targets <= 0.3 s, <= 80 MB)`,
);

// Which heavy packages did it load?
const trace = path.join(dir, 'loads.txt');
await measure(process.execPath, ['--import', path.join(REPO, 'bench/lib/trace-loads.mjs'), ...args], { env: { ...env, TRACE_LOADS_FILE: trace }, cwd: dir });
const loaded = readFileSync(trace, 'utf8');
const packages = new Set([...loaded.matchAll(/node_modules\/(@[^/]+\/[^/]+|[^/]+)\//g)].map((m) => m[1]));
for (const heavy of [
  'acme-client',
  '@aws-sdk/client-route-53',
  '@aws-sdk/client-acm',
  '@kubernetes/client-node',
  'node-forge',
  'axios',
  'prom-client',
  'node-schedule',
]) {
  console.log(`  ${heavy.padEnd(26)} ${packages.has(heavy) ? 'LOADED' : 'not loaded'}`);
}
console.log(`  packages loaded: ${[...packages].sort().join(' ')}`);
if (process.env.KEEP) console.log(`  kept ${dir}`);
else rmSync(dir, { recursive: true, force: true });
