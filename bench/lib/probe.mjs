// bench/probe.sh: N loopback TLS servers (in a child process, so the probe does not share its
// event loop with them) plus SILENT servers that accept and never answer; then
// `certkeeper probe` of all of them with --json, timed. Prints figures; asserts nothing.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const [n = 1000, silent = 10, concurrency = 100] = process.argv.slice(2).map(Number);
const dir = mkdtempSync(path.join(tmpdir(), 'ck-bench-probe-'));
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${dir}/key.pem`,
    '-out',
    `${dir}/cert.pem`,
    '-days',
    '30',
    '-subj',
    '/CN=bench.example.test',
    '-addext',
    'subjectAltName=DNS:bench.example.test',
  ],
  { stdio: 'ignore' },
);

const serverCode = `
const tls = require('node:tls'); const net = require('node:net'); const fs = require('node:fs');
const [n, silent, dir] = [Number(process.argv[1]), Number(process.argv[2]), process.argv[3]];
const opts = { key: fs.readFileSync(dir + '/key.pem'), cert: fs.readFileSync(dir + '/cert.pem') };
const ports = []; const hung = [];
const listen = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
(async () => {
  for (let i = 0; i < n; i++) { const s = tls.createServer(opts); s.on('tlsClientError', () => {}); ports.push(await listen(s)); }
  for (let i = 0; i < silent; i++) { const s = net.createServer((socket) => socket.on('error', () => {})); hung.push(await listen(s)); }
  process.stdout.write(JSON.stringify({ ports, hung }) + '\\n');
})();
`;
const servers = spawn(process.execPath, ['-e', serverCode, String(n), String(silent), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
const { ports, hung } = await new Promise((resolve) => {
  let buffer = '';
  servers.stdout.on('data', (chunk) => {
    buffer += chunk;
    if (buffer.includes('\n')) resolve(JSON.parse(buffer));
  });
});

const endpoints = [...ports, ...hung].map((port) => `127.0.0.1:${port}`);
const timeout = '5s';
const started = process.hrtime.bigint();
const result = await new Promise((resolve) => {
  const child = spawn(
    process.execPath,
    [
      'dist/cli/main.js',
      'probe',
      ...endpoints,
      '--sni',
      'bench.example.test',
      '--ca-bundle',
      `${dir}/cert.pem`,
      '--concurrency',
      String(concurrency),
      '--timeout',
      timeout,
      '--json',
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.on('close', (code) => resolve({ code, out }));
});
const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
const rows = JSON.parse(result.out);
servers.kill();
rmSync(dir, { recursive: true, force: true });

const ok = rows.filter((r) => r.ok).length;
const timedOut = rows.filter((r) => r.failure === 'timeout').length;
const durations = rows
  .filter((r) => r.reachable)
  .map((r) => r.durationMs)
  .sort((a, b) => a - b);
const pct = (p) => durations[Math.min(durations.length - 1, Math.floor((p / 100) * durations.length))] ?? 0;
console.log(
  `certkeeper probe: ${n} TLS endpoints + ${silent} that never answer (timeout ${timeout}), concurrency ${concurrency}, Node ${process.versions.node}`,
);
console.log(`  wall time          ${(wallMs / 1000).toFixed(2)} s (whole command: start, probe, judge, print JSON)`);
console.log(`  ok                 ${ok} / ${n}`);
console.log(`  timed out          ${timedOut} / ${silent}`);
console.log(`  handshake p50/p99  ${pct(50)} ms / ${pct(99)} ms`);
console.log(`  exit code          ${result.code} (1 expected: the silent ones fail)`);
