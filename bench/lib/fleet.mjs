// bench/fleet.sh: 10,000 stored certificates. `certkeeper status --json` wall time, and the
// daemon's (`certkeeper run`) RSS once it has planned them all and sits idle with one timer each.
// 100 distinct certificates are generated and each is cloned (cp -a) 100 times; the config gives
// every clone its template's domains, so every row is a valid, not-due certificate.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CLI, fmt, measure } from './common.mjs';
import { populate } from './populate.mjs';

const COUNT = Number(process.argv[2] ?? 10_000);
const IDLE_S = Number(process.argv[3] ?? 20);
const TEMPLATES = Math.min(100, COUNT);
const dir = mkdtempSync(path.join(tmpdir(), 'ck-fleet-'));
const state = path.join(dir, 'state');
const templates = Array.from({ length: TEMPLATES }, (_, i) => ({ name: `t${i}`, domains: [`t${i}.example.test`] }));
// Recorded as deployed to the files sink: the daemon has nothing pending and goes idle at once.
await populate(state, templates, { days: 90, deployedTo: ['files'] });
const certsDir = path.join(state, 'certs');
const names = [];
for (let i = 0; i < COUNT; i++) {
  const name = `c${i}`;
  names.push({ name, domain: `t${i % TEMPLATES}.example.test` });
  execFileSync('cp', ['-a', path.join(certsDir, `t${i % TEMPLATES}`), path.join(certsDir, name)]);
}
for (const t of templates) rmSync(path.join(certsDir, t.name), { recursive: true, force: true });
writeFileSync(
  path.join(dir, 'certkeeper.yaml'),
  `stateDir: ./state
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
// NODE_OPTIONS passes through, to measure the settings the image and the systemd unit ship.
const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...(process.env.NODE_OPTIONS ? { NODE_OPTIONS: process.env.NODE_OPTIONS } : {}) };
const config = path.join(dir, 'certkeeper.yaml');

const runs = [];
const RUNS = Number(process.env.FLEET_RUNS ?? 3);
for (let i = 0; i < RUNS; i++) {
  const r = await measure(process.execPath, [CLI, '--config', config, 'status', '--json'], { env, cwd: dir });
  if (r.code !== 0) throw new Error(`status exited ${r.code}: ${r.stderr.slice(-2000)}`);
  const rows = JSON.parse(r.stdout);
  if (rows.length !== COUNT || rows.some((row) => row.state !== 'valid')) throw new Error(`expected ${COUNT} valid rows, got ${rows.length} (${rows.find((row) => row.state !== 'valid')?.state})`);
  runs.push(r);
}
runs.sort((a, b) => a.wallMs - b.wallMs);
const median = runs[runs.length >> 1];
console.log(`status --json certs=${COUNT} runs=${RUNS} wall_s_median=${fmt(median.wallMs / 1000, 3)} peak_rss_mb=${fmt(median.peakRssKb / 1024, 1)} (target <= 2 s)`);

// One-shot `renew` over the whole fleet with nothing due (not a target; what an operator waits for).
{
  const r = await measure(process.execPath, [CLI, '--config', config, 'renew'], { env, cwd: dir });
  if (r.code !== 0 || !new RegExp(`0 succeeded, 0 failed, ${COUNT} not due`).test(r.stderr)) throw new Error(`renew exited ${r.code}: ${r.stderr.slice(-2000)}`);
  console.log(`renew certs=${COUNT} none due wall_s=${fmt(r.wallMs / 1000, 3)} peak_rss_mb=${fmt(r.peakRssKb / 1024, 1)}`);
}

// The daemon: sample its RSS while it plans and then idles.
const daemon = spawn(process.execPath, [CLI, '--config', config, 'run'], { env, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
let log = '';
daemon.stderr.on('data', (c) => (log = (log + c).slice(-20_000)));
const rss = () => {
  try {
    const status = readFileSync(`/proc/${daemon.pid}/status`, 'utf8');
    return { rss: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0), hwm: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) };
  } catch {
    return undefined;
  }
};
let last;
for (let t = 0; t < IDLE_S * 4; t++) {
  await new Promise((r) => setTimeout(r, 250));
  last = rss() ?? last;
  if (daemon.exitCode !== null) break;
}
const alive = daemon.exitCode === null;
daemon.kill('SIGTERM');
await new Promise((r) => daemon.once('close', r));
if (!alive) throw new Error(`the daemon exited early: ${log.slice(-2000)}`);
console.log(`daemon certs=${COUNT} idle_rss_mb=${fmt(last.rss / 1024, 1)} peak_rss_mb=${fmt(last.hwm / 1024, 1)} after ${IDLE_S} s (target idle <= 200 MB)`);
if (process.env.KEEP) console.log(`  kept ${dir}`);
else rmSync(dir, { recursive: true, force: true });
