// Hostile and careless configs through the compiled CLI (issue 14): an alias bomb refused by
// `validate` and by a running daemon's reload (POST /reload and SIGHUP) while /healthz keeps
// answering and the running config stays; sinks overlapping; timer-overflowing durations; the
// config warnings in validate, in renew's log and in doctor. No CA is needed: the configs hold no
// certificate (and the CA address is a closed loopback port) or are refused before anything runs.
//
// Children run with a 256 MB heap: a config that is not bounded then ends the process at once
// instead of using gigabytes for minutes.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/devstack/ports.js';
import { CLI, runCli } from '../../helpers/cli.js';
import { BILLION_LAUGHS, BOMB_ALIASES } from '../../helpers/alias-bomb.js';

const BOUNDED = { NODE_OPTIONS: '--max-old-space-size=256' };

const dir = (): string => mkdtempSync(path.join(tmpdir(), 'ck-hostile-cli-'));

const HEAD = `stateDir: ./state
acme: { directory: "https://127.0.0.1:9/dir" }
dns:
  d: { type: rfc2136, server: "127.0.0.1:9", tsigKeyName: k, tsigSecret: "c2VjcmV0" }
`;

function write(folder: string, text: string, name = 'certkeeper.yaml'): string {
  const file = path.join(folder, name);
  writeFileSync(file, text);
  return file;
}

describe('certkeeper validate on hostile configs', () => {
  it('refuses a billion-laughs config of under 1 KB with exit 2 and says why', async () => {
    const file = write(dir(), BILLION_LAUGHS);
    const result = await runCli(['--config', file, 'validate'], { env: BOUNDED });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('invalid configuration');
    expect(result.stderr).toMatch(/\(line \d+\): the config holds more than 1,000,000 values once its aliases are expanded/);
  });

  it('refuses two certificates sharing one sink folder, naming both', async () => {
    const file = write(
      dir(),
      `${HEAD}sinks:
  shared: { type: files, dir: ./tls }
certificates:
  - { name: www, domains: [www.example.test], dns: d, sinks: [shared] }
  - { name: api, domains: [api.example.test], dns: d, sinks: [shared] }
`,
    );
    const result = await runCli(['--config', file, 'validate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /certificates\[1\]\.sinks\[0\] \(line 9\): sink "shared" writes .*tls, which certificates\[0\] \("www"\) through sink "shared" writes too/,
    );
  });

  it('refuses a timeout a timer cannot hold, and probe --timeout past it', async () => {
    const file = write(dir(), `${HEAD}sinks:\n  hook: { type: exec, command: [/bin/true], timeout: 30d }\n`);
    const result = await runCli(['--config', file, 'validate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/sinks\.hook\.timeout \(line 6\): too long: at most 24d 20h/);
    const probe = await runCli(['probe', '--timeout', '99999d', '127.0.0.1:9']);
    expect(probe.code).toBe(2);
    expect(probe.stderr).toContain('--timeout must be longer than 0 and at most 24d 20h');
  });
});

describe('config warnings through the CLI', () => {
  // 0.0.0.0 is no loopback name, yet a connection to it stays on this host (and is refused on port 9).
  const text = `stateDir: ./state
acme: { directory: "http://0.0.0.0:9/dir" }
dns: {}
http: { listen: "0.0.0.0:0", allowRemoteReload: true }
sinks:
  f: { type: files, dir: "./tls/{cert}", keyMode: "0644" }
`;
  const env = { NODE_TLS_REJECT_UNAUTHORIZED: '0' };
  const expected = ['acme.directory', 'environment', 'http.allowRemoteReload', 'sinks.f.keyMode'];

  it('validate prints each and still exits 0', async () => {
    const file = write(dir(), text);
    const result = await runCli(['--config', file, 'validate'], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('valid');
    expect(result.stdout).toContain('4 warning(s)');
    for (const where of expected) expect(result.stdout).toContain(`  warning: ${where}: `);
    const json = JSON.parse((await runCli(['--config', file, 'validate', '--json'], { env })).stdout) as { warnings: { path: string }[] };
    expect(json.warnings.map((w) => w.path)).toEqual(expected);
  });

  it('renew logs each as a warning', async () => {
    const file = write(dir(), text);
    const result = await runCli(['--config', file, 'renew'], { env });
    expect(result.code).toBe(0);
    const lines = `${result.stdout}${result.stderr}`
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: string; path?: string; msg: string });
    const warnings = lines.filter((l) => l.level === 'warn' && l.msg.startsWith('config warning: '));
    expect(warnings.map((l) => l.path)).toEqual(expected);
  });

  it('doctor reports each as a WARN line of config.security', async () => {
    const file = write(dir(), text);
    const result = await runCli(['--config', file, 'doctor', '--json'], { env });
    const report = JSON.parse(result.stdout) as { checks: { name: string; status: string; message: string }[] };
    const lines = report.checks.filter((c) => c.name === 'config.security');
    expect(lines.map((l) => [l.status, l.message.split(':')[0]])).toEqual(expected.map((where) => ['warn', where]));
    // Reported, not logged a second time.
    expect(result.stderr).not.toContain('config warning');
  });
});

describe('a running agent reloading a hostile config', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('rejects it on POST /reload and on SIGHUP, keeps its config, and /healthz answers throughout', async () => {
    const folder = dir();
    const port = await freePort();
    const good = `${HEAD}http: { listen: "127.0.0.1:${port}" }\n`;
    const file = write(folder, good);
    const child = spawn(process.execPath, [CLI, '--config', file, 'run'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...BOUNDED },
    });
    children.push(child);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const base = `http://127.0.0.1:${port}`;
    const healthz = async (): Promise<number> => (await fetch(`${base}/healthz`)).status;
    for (let i = 0; ; i++) {
      if ((await healthz().catch(() => 0)) === 200) break;
      if (i > 200 || child.exitCode !== null) throw new Error(`the agent did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    // The same bomb, under the agent's own settings.
    writeFileSync(file, `${good}${BOMB_ALIASES}`);
    const [reload, during] = await Promise.all([fetch(`${base}/reload`, { method: 'POST' }), healthz()]);
    expect(during).toBe(200);
    expect(reload.status).toBe(422);
    expect(((await reload.json()) as { error: string }).error).toMatch(/more than 1,000,000 values once its aliases are expanded/);
    expect(await healthz()).toBe(200);

    child.kill('SIGHUP');
    for (let i = 0; output.split('reload rejected').length < 3; i++) {
      if (i > 200 || child.exitCode !== null) throw new Error(`no second rejection:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await healthz()).toBe(200);
    expect(child.exitCode).toBeNull();
    // The running config stayed: ready, and a good file reloads.
    expect((await fetch(`${base}/readyz`)).status).not.toBe(500);
    writeFileSync(file, good);
    expect((await fetch(`${base}/reload`, { method: 'POST' })).status).toBe(200);
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  });
});
