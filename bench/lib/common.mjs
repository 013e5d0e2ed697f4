// Shared pieces of the bench scripts: the local stack (real Pebble + BIND from src/devstack,
// compiled to dist/), fresh work folders, certkeeper configs, and running a command while
// measuring its wall time and peak RSS.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(REPO, 'dist/cli/main.js');

export async function startBenchStack(pebbleEnv = {}) {
  if (!existsSync(path.join(REPO, 'dist/devstack/stack.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const { startStack } = await import(path.join(REPO, 'dist/devstack/stack.js'));
  return startStack({
    // Fresh authorizations for every order, as a CA in production gives for new names.
    pebble: { authzReusePercent: 0, env: { PEBBLE_VA_NOSLEEP: '1', PEBBLE_AUTHZREUSE: '0', ...pebbleEnv } },
  });
}

/** A fresh folder with the stack's CA bundle and TSIG secret. */
export function benchDir(stack, prefix = 'ck-bench-') {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  writeFileSync(path.join(dir, 'pebble-ca.pem'), stack.pebble.caBundlePem);
  writeFileSync(path.join(dir, 'tsig.secret'), `${stack.bind.tsig.secret}\n`, { mode: 0o600 });
  return dir;
}

/** certkeeper.yaml for `names` (one certificate per name), written the way a user would: defaults kept. */
export function writeCertkeeperConfig(dir, stack, names, { maxConcurrent, extra = '' } = {}) {
  const { bind, pebble } = stack;
  const certs = names.map((name, i) => `  - { name: c${i}, domains: [${name}], dns: bind, sinks: [files] }`).join('\n');
  const text = `stateDir: ./state
acme:
  directory: ${pebble.directoryUrl}
  email: bench@example.test
  caBundle: ./pebble-ca.pem
resolvers: ["${bind.address}"]
${maxConcurrent ? `maxConcurrent: ${maxConcurrent}\n` : ''}${extra}
dns:
  bind:
    type: rfc2136
    server: ${bind.address}
    tsigKeyName: ${bind.tsig.keyName}
    tsigAlgorithm: ${bind.tsig.algorithm}
    tsigSecretFile: ./tsig.secret
    propagation: { nameservers: ["${bind.address}"] }
sinks:
  files:
    type: files
    dir: ./out/{cert}
certificates:
${certs}
`;
  const file = path.join(dir, 'certkeeper.yaml');
  writeFileSync(file, text);
  return file;
}

const TIME = '/usr/bin/time';

/**
 * Runs `command args` and resolves { code, wallMs, peakRssKb, cpuS, stdout, stderr }. Peak RSS and
 * CPU time come from `/usr/bin/time -v` when present (else RSS from polling /proc/<pid>/status
 * VmHWM, and cpuS is NaN).
 */
export function measure(command, args, { env = process.env, cwd } = {}) {
  const useTime = existsSync(TIME);
  const [bin, argv] = useTime ? [TIME, ['-v', command, ...args]] : [command, args];
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(bin, argv, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let polledKb = 0;
    const poll = useTime
      ? undefined
      : setInterval(() => {
          try {
            const match = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (match) polledKb = Math.max(polledKb, Number(match[1]));
          } catch {
            /* gone */
          }
        }, 20);
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      if (poll) clearInterval(poll);
      let peakRssKb = polledKb;
      if (useTime) {
        const match = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
        if (match) peakRssKb = Number(match[1]);
        const exit = /Exit status: (\d+)/.exec(stderr);
        if (exit) code = Number(exit[1]);
      }
      // CPU time (user + system) is steadier than wall time on a shared machine.
      const cpu = (label) => Number(new RegExp(`${label} time \\(seconds\\): ([\\d.]+)`).exec(stderr)?.[1] ?? NaN);
      const cpuS = cpu('User') + cpu('System');
      resolve({ code, wallMs, peakRssKb, cpuS, stdout, stderr });
    });
  });
}

export function fmt(n, digits = 2) {
  return Number.isFinite(n) ? n.toFixed(digits) : 'n/a';
}

export function argValue(argv, flag, fallback) {
  const i = argv.indexOf(flag);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
}
