// bench/fleet.sh: 10,000 stored certificates. `certkeeper status --json` wall time, one `renew`
// with nothing due, and the daemon's (`certkeeper run`) RSS once it has planned them all and sits
// idle. FLEET_STATE=file (default) or postgres (a throw-away cluster, bench/lib/postgres.mjs).
//
// The store is seeded through the production code in its current layout: 100 distinct
// certificates go through RepositoryStore.putCertificate (recorded as deployed, so nothing is
// pending), and each is cloned 100 times by copying the keys the repositories wrote. The config
// gives every clone its template's domains, so every row is a valid, not-due certificate. On
// PostgreSQL, 100,000 history entries are appended too and `certkeeper history NAME` is timed.
// Then the cost of one watch poll over the fleet (the production poller on PostgreSQL, the change
// journal's reader on files): with nothing changed, and with 100 certificates just renewed. And the
// daemon's status page (GET /: the first and a later page, a detail view) and /status, timed.

import { spawn } from 'node:child_process';
import net from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CLI, fmt, measure, REPO } from './common.mjs';
import { populate } from './populate.mjs';
import { startPostgres } from './postgres.mjs';

const COUNT = Number(process.argv[2] ?? 10_000);
const IDLE_S = Number(process.argv[3] ?? 20);
const BACKEND = process.env.FLEET_STATE ?? 'file';
if (BACKEND !== 'file' && BACKEND !== 'postgres') throw new Error(`FLEET_STATE is file or postgres, not ${BACKEND}`);
const HISTORY = Number(process.env.FLEET_HISTORY ?? (BACKEND === 'postgres' ? 100_000 : 0));
const RUNS = Number(process.env.FLEET_RUNS ?? 3);
const TEMPLATES = Math.min(100, COUNT);
const SEED_CONCURRENCY = 16;
let historyQueryMs;
let pollFigures;
/** The agent's id: a files sink's deploys are recorded per agent (`files@bench`). */
const AGENT = 'bench';

/** The daemon's HTTP endpoint, for the status page's figures (GET /). */
const HTTP_PORT = await new Promise((resolve) => {
  const probe = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address();
    probe.close(() => resolve(port));
  });
});

/** The status page of the idle daemon: wall time on loopback (median of 5) and size, per view. */
async function pageFigures() {
  const base = `http://127.0.0.1:${HTTP_PORT}`;
  for (const [label, url] of [
    ['page 1', '/'],
    ['page 50', '/?page=50'],
    ['detail c42', '/?cert=c42'],
    ['/status (polled)', '/status'],
  ]) {
    const times = [];
    let bytes = 0;
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      const response = await fetch(`${base}${url}`);
      const body = await response.arrayBuffer();
      times.push(performance.now() - start);
      bytes = body.byteLength;
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    }
    times.sort((a, b) => a - b);
    console.log(
      `${BACKEND} status page certs=${COUNT} ${label} wall_ms_median=${fmt(times[2], 1)} (all: ${times.map((t) => fmt(t, 0)).join(' ')}) bytes=${bytes}${url === '/status' ? '' : ' (target < 300 ms)'}`,
    );
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'ck-fleet-'));
const cluster = BACKEND === 'postgres' ? await startPostgres() : undefined;
try {
  await bench();
} finally {
  await cluster?.stop();
  if (process.env.KEEP) console.log(`  kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}

async function bench() {
  const names = Array.from({ length: COUNT }, (_, i) => ({ name: `c${i}`, domain: `t${i % TEMPLATES}.example.test` }));
  const stateYaml = cluster ? `state: { type: postgres, url: "${cluster.url}", localDir: ./local }` : 'stateDir: ./state';
  const seedStart = performance.now();
  await seed(names);
  console.log(
    `seeded ${BACKEND}: ${COUNT} certificates${HISTORY ? `, ${HISTORY} history entries` : ''} in ${fmt((performance.now() - seedStart) / 1000, 1)} s`,
  );
  console.log(pollFigures);
  writeFileSync(
    path.join(dir, 'certkeeper.yaml'),
    `${stateYaml}
agent: { id: ${AGENT} }
acme: { directory: "https://127.0.0.1:9/dir", email: bench@example.test }
schedule: "0 3 * * *"
http: { listen: "127.0.0.1:${HTTP_PORT}" }
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
  const cli = (...args) => measure(process.execPath, [CLI, '--config', config, ...args], { env, cwd: dir });
  const median = (runs) => [...runs].sort((a, b) => a.wallMs - b.wallMs)[runs.length >> 1];

  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await cli('status', '--json');
    if (r.code !== 0) throw new Error(`status exited ${r.code}: ${r.stderr.slice(-2000)}`);
    const rows = JSON.parse(r.stdout);
    if (rows.length !== COUNT || rows.some((row) => row.state !== 'valid'))
      throw new Error(`expected ${COUNT} valid rows, got ${rows.length} (${rows.find((row) => row.state !== 'valid')?.state})`);
    runs.push(r);
  }
  const status = median(runs);
  console.log(
    `${BACKEND} status --json certs=${COUNT} runs=${RUNS} wall_s_median=${fmt(status.wallMs / 1000, 3)} (all: ${runs.map((r) => fmt(r.wallMs / 1000, 2)).join(' ')}) cpu_s=${fmt(status.cpuS, 2)} peak_rss_mb=${fmt(status.peakRssKb / 1024, 1)} (target <= 2 s)`,
  );

  // One-shot `renew` over the whole fleet with nothing due.
  const renews = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await cli('renew');
    // Nothing due: exit 0 and, without a terminal, not one line logged (an order or a deploy would log).
    if (r.code !== 0 || /"msg":/.test(r.stderr)) throw new Error(`renew exited ${r.code}: ${r.stderr.slice(-2000)}`);
    renews.push(r);
  }
  const renew = median(renews);
  console.log(
    `${BACKEND} renew certs=${COUNT} none due wall_s_median=${fmt(renew.wallMs / 1000, 3)} (all: ${renews.map((r) => fmt(r.wallMs / 1000, 2)).join(' ')}) cpu_s=${fmt(renew.cpuS, 2)} peak_rss_mb=${fmt(renew.peakRssKb / 1024, 1)}${cluster ? ' (target <= 3 s)' : ''}`,
  );

  if (HISTORY > 0) {
    const histories = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await cli('history', 'c42');
      const lines = r.stdout.trim().split('\n').length;
      if (r.code !== 0 || lines < Math.min(50, Math.floor(HISTORY / COUNT)))
        throw new Error(`history exited ${r.code} with ${lines} lines: ${r.stderr.slice(-2000)}`);
      histories.push(r);
    }
    const history = median(histories);
    console.log(
      `${BACKEND} history c42 entries=${HISTORY} wall_s_median=${fmt(history.wallMs / 1000, 3)} (all: ${histories.map((r) => fmt(r.wallMs / 1000, 2)).join(' ')}) cpu_s=${fmt(history.cpuS, 2)} peak_rss_mb=${fmt(history.peakRssKb / 1024, 1)} (target well under 1 s; the command loads the ${COUNT}-certificate config too)`,
    );
    console.log(
      `${BACKEND} history query alone (readHistory in one process, median of 9): one certificate ${fmt(historyQueryMs.cert, 1)} ms, newest 50 of all ${fmt(historyQueryMs.all, 1)} ms`,
    );
  }

  // The daemon: sample its RSS while it plans and then idles.
  const daemon = spawn(process.execPath, [CLI, '--config', config, 'run'], { env, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  daemon.stderr.on('data', (c) => (log = (log + c).slice(-20_000)));
  const rss = () => {
    try {
      const text = readFileSync(`/proc/${daemon.pid}/status`, 'utf8');
      return { rss: Number(/VmRSS:\s+(\d+)/.exec(text)?.[1] ?? 0), hwm: Number(/VmHWM:\s+(\d+)/.exec(text)?.[1] ?? 0) };
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
  if (alive) await pageFigures();
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.once('close', r));
  if (!alive) throw new Error(`the daemon exited early: ${log.slice(-2000)}`);
  console.log(
    `${BACKEND} daemon certs=${COUNT} idle_rss_mb=${fmt(last.rss / 1024, 1)} peak_rss_mb=${fmt(last.hwm / 1024, 1)} after ${IDLE_S} s (target idle <= 200 MB)`,
  );
}

/** The fleet in the store's current layout, written by the production code (dist/). */
async function seed(names) {
  const { stateSchema } = await import(path.join(REPO, 'dist/state/schema.js'));
  const { openStateStore } = await import(path.join(REPO, 'dist/state/open.js'));
  const { systemClock } = await import(path.join(REPO, 'dist/core/clock.js'));
  const { silentLogger } = await import(path.join(REPO, 'dist/core/logger.js'));
  const { mapLimit } = await import(path.join(REPO, 'dist/core/concurrency.js'));
  // An agent's own folder (hooks' copies) is the operator's to create, as on a real host.
  if (cluster) mkdirSync(path.join(dir, 'local'), { mode: 0o700 });
  const state = stateSchema.parse(
    cluster ? { type: 'postgres', url: cluster.url, localDir: path.join(dir, 'local') } : { type: 'file', dir: path.join(dir, 'state') },
  );
  const store = await openStateStore({ state, agentId: 'bench-seed', clock: systemClock, logger: silentLogger });
  try {
    const templates = Array.from({ length: TEMPLATES }, (_, i) => ({ name: `t${i}`, domains: [`t${i}.example.test`] }));
    // Recorded as deployed to the files sink: the daemon has nothing pending and goes idle at once.
    await populate(store, templates, { days: 90, deployedTo: [`files@${AGENT}`] });
    // Each template's keys (current, its version, record) as the repositories wrote them. Copying
    // a version onto another name is only valid unsealed (sealing binds a value to its key).
    const written = await mapLimit(templates, SEED_CONCURRENCY, async (t) => {
      const prefix = `certs/${t.name}/`;
      const keys = await store.storage.list(prefix);
      return Promise.all(keys.map(async (key) => ({ rest: key.slice(prefix.length), key, value: (await store.storage.get(key)).value })));
    });
    await mapLimit(names, SEED_CONCURRENCY, async (c, i) => {
      for (const { rest, value } of written[i % TEMPLATES]) await store.storage.put(`certs/${c.name}/${rest}`, value);
    });
    for (const entries of written) for (const { key } of entries) await store.storage.delete(key);
    if (HISTORY > 0) {
      const year = 365 * 86_400_000;
      const start = Date.now() - year;
      const entries = Array.from({ length: HISTORY }, (_, i) => i);
      await mapLimit(entries, SEED_CONCURRENCY, (i) =>
        store.appendHistory({
          at: new Date(start + Math.floor((i / HISTORY) * year)).toISOString(),
          cert: names[i % names.length].name,
          action: i % 7 === 0 ? 'deploy' : 'renew',
          result: i % 13 === 0 ? 'failure' : 'success',
          serial: (i * 2654435761).toString(16),
          notAfter: new Date(start + Math.floor((i / HISTORY) * year) + 90 * 86_400_000).toISOString(),
          durationMs: 1000 + (i % 5000),
          error: i % 13 === 0 ? 'ACME_ORDER_FAILED: the bench says so' : null,
        }),
      );
      // The query alone, without the process start and config load `certkeeper history` adds.
      const timed = async (query) => {
        const ms = [];
        for (let i = 0; i < 9; i++) {
          const start = performance.now();
          await store.readHistory(query);
          ms.push(performance.now() - start);
        }
        return ms.sort((a, b) => a - b)[4];
      };
      historyQueryMs = { cert: await timed({ cert: 'c42', limit: 50 }), all: await timed({ limit: 50 }) };
    }
    pollFigures = await pollCost(store, names);
  } finally {
    await store.storage.close();
  }
}

/**
 * One watch poll over the fleet, through the production code: PostgreSQL's ChangePoller (its one
 * statement; EXPLAIN ANALYZE gives the server's share), the file store's JournalReader. Nothing
 * changed (median of POLLS), then 100 certificates written by another agent (one poll reports
 * them), then the polls after it, which look back 30 s over those rows and report nothing again.
 */
async function pollCost(store, names) {
  const POLLS = 200;
  const CHANGED = 100;
  const reported = [];
  let poll;
  let stop = () => {};
  let serverMs = '';
  if (cluster) {
    const { ChangePoller, pollStatement, MAX_ROWS } = await import(path.join(REPO, 'dist/state/storage/postgres/poller.js'));
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: cluster.url, max: 2 });
    const poller = new ChangePoller({
      pool,
      q: '"certkeeper"',
      token: 'bench-watcher',
      intervalMs: 3_600_000,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      ready: async () => {},
      error: (_action, error) => error,
    });
    const unsubscribe = poller.subscribe('certs/', (key) => reported.push(key));
    poll = () => poller.poll();
    stop = async () => {
      unsubscribe();
      await poller.close();
      await pool.end();
    };
    const [{ top }] = (await pool.query('SELECT max(version)::text AS top FROM certkeeper.kv')).rows;
    const statement = pollStatement('"certkeeper"', top, 'bench-watcher', ['certs/'], MAX_ROWS + 1);
    const plan = (await pool.query(`EXPLAIN (ANALYZE, BUFFERS) ${statement.text}`, statement.values)).rows.map((row) => row['QUERY PLAN']);
    serverMs = ` (server: ${plan.find((line) => line.startsWith('Execution Time'))?.replace('Execution Time: ', '')}, ${plan.find((line) => /Buffers: shared/.test(line))?.trim()})`;
  } else {
    const { JournalReader } = await import(path.join(REPO, 'dist/state/storage/file/journal.js'));
    const reader = new JournalReader(
      store.storage.root,
      'bench-watcher',
      'certs/',
      (key) => reported.push(key),
      (error) => {
        throw error;
      },
    );
    poll = () => reader.read();
    stop = () => reader.stop();
  }
  const timed = async () => {
    const cpu = process.cpuUsage();
    const start = performance.now();
    await poll();
    const used = process.cpuUsage(cpu);
    return { ms: performance.now() - start, cpuMs: (used.user + used.system) / 1000 };
  };
  const median = (runs, field) => runs.map((r) => r[field]).sort((a, b) => a - b)[runs.length >> 1];
  try {
    await poll(); // the starting point
    const idle = [];
    for (let i = 0; i < POLLS; i++) idle.push(await timed());
    if (reported.length > 0) throw new Error(`a poll with nothing changed reported ${reported.length} keys`);
    for (const c of names.slice(0, CHANGED)) {
      const key = `certs/${c.name}/current`;
      await store.storage.put(key, (await store.storage.get(key)).value);
    }
    const changed = await timed();
    if (new Set(reported).size !== CHANGED) throw new Error(`the poll after ${CHANGED} writes reported ${new Set(reported).size} keys`);
    const after = [];
    for (let i = 0; i < 20; i++) after.push(await timed());
    if (reported.length !== CHANGED) throw new Error(`polls after the first reported again: ${reported.length - CHANGED} keys`);
    return (
      `${BACKEND} watch poll certs=${names.length}: nothing changed median_ms=${fmt(median(idle, 'ms'), 3)} cpu_ms=${fmt(median(idle, 'cpuMs'), 3)} (of ${POLLS})${serverMs}; ` +
      `${CHANGED} just written: ${fmt(changed.ms, 2)} ms (cpu ${fmt(changed.cpuMs, 2)} ms), ${CHANGED} reported; the polls after: median_ms=${fmt(median(after, 'ms'), 3)}`
    );
  } finally {
    await stop();
  }
}
