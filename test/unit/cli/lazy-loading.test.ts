// `certkeeper renew` with nothing due loads only what planning needs: the config, the state
// store, the pure plan. The ACME client, cloud SDKs, metrics, the scheduler, pretty logs, DNS and
// sink code, notifiers and the HTTP endpoint load on first use, so they must not appear here
// even though the config names providers, sinks, notify targets and an http endpoint.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { makeCertificate } from '../../helpers/certs.js';
import { CLI } from '../../helpers/cli.js';
import { openFileStore } from '../../helpers/state.js';

const DAY_MS = 86_400_000;
const NAMES = ['www', 'api', 'mail'];

// Records every module the process loads: ESM through a loader hook, CommonJS through require.
const TRACE_HOOK = `
import Module, { register } from 'node:module';
import { appendFileSync } from 'node:fs';
const file = process.env.TRACE_FILE;
register('data:text/javascript,' + encodeURIComponent(\`
import { appendFileSync } from 'node:fs';
export async function load(url, context, next) { appendFileSync(\${JSON.stringify(file)}, url + '\\\\n'); return next(url, context); }
\`));
const original = Module.prototype.require;
Module.prototype.require = function (id) {
  const loaded = original.apply(this, arguments);
  try { appendFileSync(file, Module._resolveFilename(id, this) + '\\n'); } catch { /* builtins */ }
  return loaded;
};
`;

let dir: string;
let loaded: string[];
let run: { code: number | null; stderr: string };

function spawnTraced(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', pathToFileURL(path.join(dir, 'trace.mjs')).href, CLI, ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'ck-lazy-'));
  const store = await openFileStore(path.join(dir, 'state'), systemClock);
  const notBefore = new Date(Date.now() - DAY_MS);
  for (const name of NAMES) {
    const material = makeCertificate({ domains: [`${name}.example.test`], notBefore, notAfter: new Date(notBefore.getTime() + 90 * DAY_MS) });
    // From a CA no longer configured, so planning asks no CA for a renewal window (ARI).
    const stored = await store.putCertificate(name, material, { directoryUrl: 'https://earlier-ca.invalid/dir', issuedAt: notBefore });
    // Already deployed (by this agent: files is a local sink), as after the run that issued it: nothing is left to do.
    await store.putRecord(name, { ...(await store.getRecord(name)), deployed: { 'files@lazy': stored.info.serial } });
  }
  writeFileSync(
    path.join(dir, 'certkeeper.yaml'),
    `stateDir: ./state
agent: { id: lazy }
acme: { directory: "https://127.0.0.1:9/dir", email: ops@example.test }
schedule: "17 3,15 * * *"
http: { listen: "127.0.0.1:9" }
notify:
  ops: { type: webhook, url: "https://127.0.0.1:9/hook" }
dns:
  bind: { type: rfc2136, server: "127.0.0.1:9", tsigKeyName: k, tsigSecret: "c2VjcmV0" }
  aws: { type: route53, hostedZoneId: Z0123456789ABC }
sinks:
  files: { type: files, dir: "./out/{cert}" }
  acm: { type: acm, region: eu-west-1 }
  k8s: { type: kubernetes-secret, namespace: web, secretName: "{cert}-tls" }
certificates:
${NAMES.map((name) => `  - { name: ${name}, domains: [${name}.example.test], dns: bind, sinks: [files] }`).join('\n')}
`,
  );
  writeFileSync(path.join(dir, 'trace.mjs'), TRACE_HOOK);
  const traceFile = path.join(dir, 'loads.txt');
  writeFileSync(traceFile, '');
  // --log-level debug: a run with nothing due is silent otherwise (cron), and the summary is asserted.
  run = await spawnTraced(['--config', path.join(dir, 'certkeeper.yaml'), '--log-level', 'debug', 'renew'], { TRACE_FILE: traceFile });
  loaded = readFileSync(traceFile, 'utf8').split('\n').filter(Boolean);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const packages = (): Set<string> => new Set(loaded.flatMap((url) => [...url.matchAll(/node_modules\/(@[^/]+\/[^/]+|[^/]+)\//g)].map((m) => m[1]!)));
const distModules = (): Set<string> => new Set(loaded.flatMap((url) => /\/dist\/(.+\.js)$/.exec(url)?.[1] ?? []));

describe('renew with nothing due', () => {
  it('plans every certificate and does nothing', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('0 succeeded, 0 failed, 3 not due');
  });

  it('loads the config, the state store and the plan (the trace sees them)', () => {
    expect([...packages()]).toEqual(expect.arrayContaining(['zod', 'js-yaml', 'pino', 'commander']));
    expect([...distModules()]).toEqual(
      expect.arrayContaining([
        'cli/commands/renew.js',
        'config/load.js',
        'state/repository-store.js',
        'state/storage/file/index.js',
        'engine/renew.js',
        'plan/renewal.js',
      ]),
    );
  });

  it('loads no ACME client, cloud SDK, metrics, scheduler, pretty printer, or the YAML library that only locates config problems', () => {
    const heavy = [...packages()].filter(
      (name) =>
        ['yaml', 'acme-client', 'node-forge', 'axios', 'prom-client', 'node-schedule', 'pino-pretty', 'dns-packet', '@kubernetes/client-node'].includes(name) ||
        name.startsWith('@aws-sdk/') ||
        name.startsWith('@smithy/'),
    );
    expect(heavy).toEqual([]);
  });

  it('loads no other command, no DNS or sink code, no notifier and no HTTP endpoint', () => {
    const unexpected = [...distModules()].filter(
      (file) =>
        /^acme\//.test(file) ||
        /^cli\/commands\/(?!renew\.js)/.test(file) ||
        /^dns\/(registry|resolver|propagation)\.js$/.test(file) ||
        // Schemas and the pure helpers they use (route53 zone ids, TSIG algorithm names) are fine.
        /^dns\/(wire\/(?!tsig-algorithms\.js)|providers\/[^/]+\/(?!schema\.js|records\.js))/.test(file) ||
        /^sinks\/(registry\.js|(?!files\/)[^/]+\/(?!schema\.js))/.test(file) ||
        /^observe\/(http|metrics|readiness)\.js$/.test(file) ||
        /^observe\/notify\/(registry|dispatcher|post|format)\.js$/.test(file) ||
        /^observe\/notify\/[^/]+\/index\.js$/.test(file) ||
        /^(kube|ha|doctor)\/(?!schema\.js)/.test(file) ||
        // A folder copied into the storage layout long ago needs no 0.1 reader.
        /^state\/legacy\//.test(file) ||
        /^engine\/(agent|status)\.js$/.test(file) ||
        /^verify\/(probe|daemon|watcher)\.js$/.test(file),
    );
    expect(unexpected).toEqual([]);
  });
});
