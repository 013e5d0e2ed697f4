// bench/issue.sh: N fresh certificates (one name each) through `certkeeper renew` in one process,
// on a real Pebble (no validation sleep, no authorization reuse) and BIND; optionally the
// acme-client floor (same concurrency, no propagation check) and the peers lego and certbot,
// one process per certificate as their users run them, on the identical stack.
//
// node bench/lib/issue.mjs N [--peers] [--peer-n M] [--no-floor] [--concurrency C]

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { argValue, benchDir, CLI, fmt, measure, startBenchStack, writeCertkeeperConfig } from './common.mjs';

const argv = process.argv.slice(2);
const n = Number(argv[0] ?? 50);
if (!Number.isInteger(n) || n < 1) throw new Error('usage: bench/issue.sh N [--peers] [--peer-n M] [--no-floor] [--concurrency C]');
const withPeers = argv.includes('--peers');
const peerN = Number(argValue(argv, '--peer-n', String(n)));
const concurrency = argValue(argv, '--concurrency', undefined);
const runId = Date.now().toString(36);
const names = (tag, count) => Array.from({ length: count }, (_, i) => `${tag}${i}-${runId}.example.test`);

const stack = await startBenchStack();
const results = {};
const line = (label, r) =>
  console.log(
    `${label.padEnd(11)} N=${r.n} wall_s=${fmt(r.wallMs / 1000)} per_cert_ms=${fmt(r.wallMs / r.n, 0)} peak_rss_mb=${fmt(r.peakRssKb / 1024, 1)}${r.failed ? ` FAILED=${r.failed}` : ''}`,
  );
try {
  // --- certkeeper: one `renew` for all N, fresh state and account.
  {
    const dir = benchDir(stack);
    const config = writeCertkeeperConfig(dir, stack, names('ck', n), { maxConcurrent: concurrency });
    const r = await measure(process.execPath, [CLI, '--config', config, 'renew', '--json'], { env: { PATH: process.env.PATH, HOME: process.env.HOME } });
    const deployed = existsSync(path.join(dir, 'out')) ? readdirSync(path.join(dir, 'out')).filter((d) => !d.startsWith('.')).length : 0;
    results.certkeeper = { n, wallMs: r.wallMs, peakRssKb: r.peakRssKb, failed: r.code === 0 && deployed === n ? 0 : n - deployed || `exit ${r.code}` };
    line('certkeeper', results.certkeeper);
    if (results.certkeeper.failed) console.error(r.stderr.slice(-3000));
  }

  // --- the acme-client floor.
  if (!argv.includes('--no-floor')) {
    const dir = benchDir(stack, 'ck-floor-');
    const params = path.join(dir, 'params.json');
    const c = Number(concurrency ?? 4);
    writeFileSync(
      params,
      JSON.stringify({
        directoryUrl: stack.pebble.directoryUrl,
        server: stack.bind.address,
        tsigKeyName: stack.bind.tsig.keyName,
        tsigAlgorithm: stack.bind.tsig.algorithm,
        tsigSecret: stack.bind.tsig.secret,
        names: names('fl', n),
        concurrency: c,
      }),
    );
    const r = await measure(process.execPath, [path.join(path.dirname(new URL(import.meta.url).pathname), 'floor.mjs'), params], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_EXTRA_CA_CERTS: path.join(dir, 'pebble-ca.pem') },
    });
    results.floor = { n, wallMs: r.wallMs, peakRssKb: r.peakRssKb, failed: r.code === 0 ? 0 : `exit ${r.code}` };
    line('floor', results.floor);
    if (results.floor.failed) console.error(r.stderr.slice(-3000));
  }

  if (withPeers) {
    for (const [peer, runOne] of [
      ['lego', legoRunner()],
      ['certbot', certbotRunner()],
    ]) {
      if (!runOne) continue;
      let wallMs = 0;
      let peakRssKb = 0;
      let failed = 0;
      for (const name of names(peer, peerN)) {
        const r = await runOne(name);
        wallMs += r.wallMs;
        peakRssKb = Math.max(peakRssKb, r.peakRssKb);
        if (r.code !== 0) {
          failed++;
          if (failed === 1) console.error(`${peer} failed for ${name}:\n${(r.stdout + r.stderr).slice(-2000)}`);
        }
      }
      results[peer] = { n: peerN, wallMs, peakRssKb, failed };
      line(peer, results[peer]);
    }
  }

  const per = (r) => r.wallMs / r.n;
  const ck = results.certkeeper;
  if (results.floor) console.log(`ratio certkeeper/floor per cert = ${fmt(per(ck) / per(results.floor))} (target <= 1.5)`);
  for (const peer of ['lego', 'certbot'])
    if (results[peer]) console.log(`ratio ${peer}/certkeeper per cert = ${fmt(per(results[peer]) / per(ck), 1)}x (target >= 15)`);
} finally {
  await stack.stop();
}

function aptHint(pkgs) {
  const missing = pkgs.filter((p) => {
    try {
      execFileSync('dpkg', ['-s', p], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return true;
  if (process.getuid?.() === 0) {
    execFileSync('apt-get', ['install', '-y', ...missing], { stdio: 'inherit' });
    return true;
  }
  console.error(`skipping: install with  sudo apt-get install -y ${missing.join(' ')}`);
  return false;
}

/**
 * lego as its users run it: `lego run` per certificate, the rfc2136 provider, shared --path (one
 * account). --dns.disable-cp: lego's own propagation check looks the zone's NS host up through the
 * system resolver, which cannot know the local test zone; without it every order times out.
 */
function legoRunner() {
  if (!aptHint(['lego'])) return undefined;
  const dir = benchDir(stack, 'ck-lego-');
  const { bind, pebble } = stack;
  const env = {
    PATH: process.env.PATH,
    HOME: dir,
    LEGO_CA_CERTIFICATES: path.join(dir, 'pebble-ca.pem'),
    RFC2136_NAMESERVER: bind.address,
    RFC2136_TSIG_KEY: bind.tsig.keyName,
    RFC2136_TSIG_SECRET: bind.tsig.secret,
    RFC2136_TSIG_ALGORITHM: `${bind.tsig.algorithm}.`,
  };
  return (name) =>
    measure(
      'lego',
      [
        '--accept-tos',
        '--email',
        'bench@example.test',
        '--server',
        pebble.directoryUrl,
        '--path',
        path.join(dir, 'lego'),
        '--key-type',
        'ec256',
        '--dns',
        'rfc2136',
        '--dns.resolvers',
        bind.address,
        '--dns.disable-cp',
        '--domains',
        name,
        'run',
      ],
      { env, cwd: dir },
    );
}

/** certbot as its users run it: `certbot certonly` per certificate with the dns-rfc2136 plugin. */
function certbotRunner() {
  if (!aptHint(['certbot', 'python3-certbot-dns-rfc2136'])) return undefined;
  const dir = benchDir(stack, 'ck-certbot-');
  const { bind, pebble } = stack;
  const [host, port] = bind.address.split(':');
  const ini = path.join(dir, 'rfc2136.ini');
  writeFileSync(
    ini,
    `dns_rfc2136_server = ${host}\ndns_rfc2136_port = ${port}\ndns_rfc2136_name = ${bind.tsig.keyName}\ndns_rfc2136_secret = ${bind.tsig.secret}\ndns_rfc2136_algorithm = ${bind.tsig.algorithm.toUpperCase()}\n`,
    { mode: 0o600 },
  );
  const env = { PATH: process.env.PATH, HOME: dir, REQUESTS_CA_BUNDLE: path.join(dir, 'pebble-ca.pem') };
  return (name) =>
    measure(
      'certbot',
      [
        'certonly',
        '--non-interactive',
        '--agree-tos',
        '-m',
        'bench@example.test',
        '--server',
        pebble.directoryUrl,
        '--config-dir',
        path.join(dir, 'etc'),
        '--work-dir',
        path.join(dir, 'work'),
        '--logs-dir',
        path.join(dir, 'logs'),
        '--key-type',
        'ecdsa',
        '--dns-rfc2136',
        '--dns-rfc2136-credentials',
        ini,
        // certbot sleeps this long before asking for validation (its default is 60 s); 1 s is the
        // smallest a user would set against a local primary.
        '--dns-rfc2136-propagation-seconds',
        '1',
        '-d',
        name,
      ],
      { env, cwd: dir },
    );
}
