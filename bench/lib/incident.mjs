// bench/incident.sh: an incident's mass renewal (issue 18). N one-name certificates, all due, one
// `certkeeper renew --force --yes`, against
//   - the Route53 stand-in (test/helpers/aws/route53-standin.ts, transpiled here) with an INSYNC
//     delay (default 30 s) and Route53's rate limit (default 5 requests/s, Throttling above);
//   - RFC 2136 against a real BIND.
// Pebble as it is (PEBBLE_VA_NOSLEEP=1, PEBBLE_AUTHZREUSE=0). Prints wall time, peak RSS, Route53
// requests and INSYNC waits, Throttling answers, TXT records left, and Throttling in history.
//
// node bench/lib/incident.mjs N [--only route53|rfc2136] [--insync 30000] [--rate 5] [--in-flight M]

import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { argValue, benchDir, CLI, fmt, measure, REPO, startBenchStack, writeCertkeeperConfig } from './common.mjs';

const argv = process.argv.slice(2);
const n = Number(argv[0] ?? 50);
if (!Number.isInteger(n) || n < 1) throw new Error('usage: bench/incident.sh N [--only route53|rfc2136] [--insync MS] [--rate R]');
const only = argValue(argv, '--only', undefined);
const insyncMs = Number(argValue(argv, '--insync', '30000'));
const rate = Number(argValue(argv, '--rate', '5'));
/** Certificates in the pipeline at once (maxInFlight); default all N. */
const inFlight = Number(argValue(argv, '--in-flight', String(n)));
const runId = Date.now().toString(36);
const names = (tag) => Array.from({ length: n }, (_, i) => `${tag}${i}-${runId}.example.test`);
const run = (config, env) =>
  measure(process.execPath, [CLI, '--config', config, 'renew', '--force', '--yes', '--reason', 'bench incident'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });

/** Every file under `dir` whose text mentions `word` (the store's history included). */
function filesMentioning(dir, word) {
  const found = [];
  const walk = (d) => {
    for (const entry of readdirSync(d)) {
      const p = path.join(d, entry);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.size < 50_000_000 && readFileSync(p, 'utf8').includes(word)) found.push(p);
    }
  };
  walk(dir);
  return found;
}

function summary(r) {
  try {
    return JSON.parse(r.stdout.trim().split('\n').at(-1));
  } catch {
    return undefined;
  }
}

function report(label, r, extra) {
  const s = summary(r);
  console.log(
    `${label.padEnd(8)} N=${n} in_flight=${inFlight} wall_s=${fmt(r.wallMs / 1000)} per_cert_ms=${fmt(r.wallMs / n, 1)} peak_rss_mb=${fmt(r.peakRssKb / 1024, 1)} ` +
      `succeeded=${s?.succeeded ?? '?'} failed=${s?.failed ?? '?'} exit=${r.code} ${extra}`,
  );
  if (r.code !== 0 || !s || s.failed > 0) console.error(r.stderr.slice(-3000));
}

if (only !== 'route53') {
  const stack = await startBenchStack();
  try {
    const dir = benchDir(stack, 'ck-incident-bind-');
    const list = names('b');
    const config = writeCertkeeperConfig(dir, stack, list, { extra: `maxInFlight: ${inFlight}\n` });
    const r = await run(config, {});
    const { query } = await import(path.join(REPO, 'dist/dns/wire/client.js'));
    let left = 0;
    for (const name of list) {
      const answer = await query(stack.bind.address, `_acme-challenge.${name}`, 'TXT');
      left += answer.answers.filter((a) => a.type === 'TXT').length;
    }
    const deployed = readdirSync(path.join(dir, 'out')).filter((d) => !d.startsWith('.')).length;
    report('rfc2136', r, `deployed=${deployed} txt_left=${left} throttling_in_state=${filesMentioning(path.join(dir, 'state'), 'Throttling').length}`);
  } finally {
    await stack.stop();
  }
}

if (only !== 'rfc2136') {
  const work = mkdtempSync(path.join(REPO, 'bench/.incident-'));
  try {
    const { startRoute53Standin, awsTestEnv } = await loadStandin(work);
    const r53 = await startRoute53Standin({
      zones: [{ name: 'example.test', id: 'ZINCIDENT' }],
      changeDelay: { ms: insyncMs },
      rateLimit: { requestsPerSecond: rate },
    });
    const { startPebble } = await import(path.join(REPO, 'dist/devstack/pebble.js'));
    const pebble = await startPebble({ dnsServer: r53.dnsAddress, authzReusePercent: 0, env: { PEBBLE_VA_NOSLEEP: '1', PEBBLE_AUTHZREUSE: '0' } });
    try {
      const dir = mkdtempSync(path.join(tmpdir(), 'ck-incident-r53-'));
      writeFileSync(path.join(dir, 'pebble-ca.pem'), pebble.caBundlePem);
      const list = names('r');
      const certs = list.map((name, i) => `  - { name: c${i}, domains: [${name}], dns: aws, sinks: [files] }`).join('\n');
      const config = path.join(dir, 'certkeeper.yaml');
      writeFileSync(
        config,
        `stateDir: ./state
maxInFlight: ${inFlight}
acme:
  directory: ${pebble.directoryUrl}
  email: bench@example.test
  caBundle: ./pebble-ca.pem
resolvers: ["${r53.dnsAddress}"]
dns:
  aws:
    type: route53
    endpoint: ${r53.endpoint}
    requestsPerSecond: ${rate}
    propagation: { nameservers: ["${r53.dnsAddress}"], timeout: 5m, interval: 2s }
    changeTimeout: 10m
sinks:
  files:
    type: files
    dir: ./out/{cert}
certificates:
${certs}
`,
      );
      const r = await run(config, awsTestEnv());
      const ops = new Map();
      for (const q of r53.requests) ops.set(q.operation, (ops.get(q.operation) ?? 0) + 1);
      const insyncWaits = new Set(r53.requests.filter((q) => q.operation === 'GetChange').map((q) => q.path)).size;
      const throttled = r53.requests.filter((q) => q.errorCode === 'Throttling').length;
      const left = list.filter((name) => r53.recordSet('example.test', `_acme-challenge.${name}`) !== undefined).length;
      const deployed = readdirSync(path.join(dir, 'out')).filter((d) => !d.startsWith('.')).length;
      report(
        'route53',
        r,
        `deployed=${deployed} requests=${r53.requests.length} (${[...ops].map(([k, v]) => `${k}=${v}`).join(' ')}) changes=${r53.changes.length} insync_waits=${insyncWaits} throttling_answers=${throttled} txt_left=${left} throttling_in_state=${filesMentioning(path.join(dir, 'state'), 'Throttling').length} insync_delay_s=${insyncMs / 1000} rate=${rate}/s`,
      );
    } finally {
      await pebble.stop();
      await r53.stop();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The test suite's Route53 stand-in, transpiled into a folder inside the repo (for node_modules). */
async function loadStandin(out) {
  mkdirSync(out, { recursive: true });
  for (const file of ['route53-standin.ts', 'xml.ts']) {
    const source = readFileSync(path.join(REPO, 'test/helpers/aws', file), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
    });
    writeFileSync(path.join(out, file.replace(/\.ts$/, '.js')), outputText);
  }
  return import(path.join(out, 'route53-standin.js'));
}
