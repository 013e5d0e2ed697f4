// `certkeeper run` start-up (issue 16, "One cron parser"): what `validate` accepts as a schedule,
// `run` schedules, and any fatal error before the agent serves ends the process with one line
// and a non-zero exit, before anything was ordered: never a half-started process.
// No CA is needed: the config points at a closed port, and each case ends before an order would.

import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/devstack/ports.js';
import { runCli } from '../../helpers/cli.js';
import { killDaemons, startDaemon, until, type Daemon } from '../../helpers/daemon.js';

afterEach(killDaemons);

/** A config whose CA and DNS server are closed ports; `extra` goes at the top level. */
function writeRunConfig(extra: string, stateDir = './state'): { dir: string; config: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-run-start-'));
  const config = path.join(dir, 'certkeeper.yaml');
  writeFileSync(
    config,
    `stateDir: ${stateDir}
acme:
  directory: "https://127.0.0.1:9/dir"
  email: ops@example.test
${extra}
dns:
  d: { type: rfc2136, server: "127.0.0.1:9", tsigKeyName: k, tsigSecret: "c2VjcmV0" }
sinks:
  f: { type: files, dir: "./out/{cert}" }
certificates:
  - { name: a, domains: [a.example.test], dns: d, sinks: [f] }
`,
  );
  return { dir, config };
}

/** The daemon's exit code; a daemon still running after a generous bound is the defect itself. */
async function exitOf(daemon: Daemon): Promise<number | null> {
  const bound = setTimeout(() => daemon.child.kill('SIGKILL'), 30_000);
  const code = await daemon.exited;
  clearTimeout(bound);
  if (daemon.child.signalCode === 'SIGKILL') throw new Error(`certkeeper run was still running, half-started, after 30 s:\n${daemon.output().slice(-3000)}`);
  return code;
}

const certkeeperLines = (output: string): string[] => output.split('\n').filter((line) => line.startsWith('certkeeper: '));

describe('certkeeper run start-up', () => {
  it('a schedule that never fires (30 February) is a config error for validate and run alike: exit 2, nothing started', async () => {
    const { dir, config } = writeRunConfig('schedule: "0 0 30 2 *"');
    const validate = await runCli(['--config', config, 'validate']);
    expect(validate.code).toBe(2);
    expect(validate.stderr).toMatch(/schedule.*never fires/);

    const daemon = startDaemon(config);
    expect(await exitOf(daemon)).toBe(2);
    expect(daemon.output()).toMatch(/schedule.*never fires/);
    expect(daemon.output()).not.toContain('obtaining');
    expect(existsSync(path.join(dir, 'state'))).toBe(false);
  });

  it('validate accepts the nth weekday (1#1) and the last day (L), and run schedules them', async () => {
    for (const schedule of ['0 3 * * 1#1', '0 3 L * *']) {
      const port = await freePort();
      const { config } = writeRunConfig(`schedule: "${schedule}"\nhttp: { listen: "127.0.0.1:${port}" }`);
      const validate = await runCli(['--config', config, 'validate']);
      expect(validate.stderr, schedule).toBe('');
      expect(validate.code, schedule).toBe(0);

      const daemon = startDaemon(config);
      await until('/healthz', async () => ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok ? true : undefined), 20_000, daemon);
      await until('the agent scheduled', async () => (daemon.output().includes(`"schedule":"${schedule}"`) ? true : undefined), 20_000, daemon);
      daemon.child.kill('SIGTERM');
      expect(await exitOf(daemon)).toBe(0);
    }
  });

  it('an HTTP port already in use: one line naming the address, exit 2 (http.listen), before anything is ordered', async () => {
    const port = await freePort();
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    try {
      const { config } = writeRunConfig(`http: { listen: "127.0.0.1:${port}" }`);
      const daemon = startDaemon(config);
      expect(await exitOf(daemon)).toBe(2); // an http.listen the host cannot bind is reported as a config error
      const output = daemon.output();
      expect(certkeeperLines(output)).toEqual([expect.stringMatching(new RegExp(`127\\.0\\.0\\.1:${port}.*EADDRINUSE`))]);
      expect(output).not.toContain('obtaining');
      expect(output).not.toContain('agent started');
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('a state directory that cannot be created: one line, exit 1', async () => {
    const { dir, config } = writeRunConfig('', './not-a-dir/state');
    writeFileSync(path.join(dir, 'not-a-dir'), 'a file where a folder should be\n');
    const daemon = startDaemon(config);
    expect(await exitOf(daemon)).toBe(1);
    expect(certkeeperLines(daemon.output())).toEqual([expect.stringContaining('ENOTDIR')]);
    expect(daemon.output()).not.toContain('obtaining');
  });
});
