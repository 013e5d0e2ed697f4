// The command line as a cron job and a terminal user meet it (issue 16, "Everyday CLI"), through the
// compiled CLI against a real Pebble and BIND: a renew with nothing due prints nothing without a
// terminal; --quiet and --log-format; exit 1 while a certificate is failing, backoff or not;
// NO_COLOR on a terminal (under `script`); exit codes in every command's --help.

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../../src/devstack/stack.js';
import { CLI, runCli, workDir, writeConfig } from '../../helpers/cli.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

describe('renew as a cron job', () => {
  it('prints nothing at all when nothing is due, and everything when something happened', async () => {
    const dir = workDir(stack);
    const config = writeConfig(dir, stack, { certificates: `  - { name: quiet, domains: [quiet.example.test], dns: bind, sinks: [files] }` });
    const first = await runCli(['--config', config, 'renew']);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain('"msg":"1 succeeded, 0 failed, 0 not due"');

    const second = await runCli(['--config', config, 'renew']);
    expect([second.code, second.stdout, second.stderr]).toEqual([0, '', '']);
    // Asked for, the same run explains itself.
    const verbose = await runCli(['--config', config, '--log-level', 'debug', 'renew']);
    expect(verbose.stderr).toContain('"msg":"not due: due at ');
    expect(verbose.stderr).toContain('"msg":"0 succeeded, 0 failed, 1 not due"');
  });

  it('--quiet prints nothing for a successful renewal; --log-format pretty prints human lines', async () => {
    const dir = workDir(stack);
    const config = writeConfig(dir, stack, { certificates: `  - { name: hush, domains: [hush.example.test], dns: bind, sinks: [files] }` });
    const quiet = await runCli(['--config', config, 'renew', '--quiet']);
    expect([quiet.code, quiet.stdout, quiet.stderr]).toEqual([0, '', '']);

    const pretty = await runCli(['--config', config, '--log-format', 'pretty', '--log-level', 'debug', 'renew']);
    expect(pretty.code).toBe(0);
    expect(pretty.stderr).toMatch(/^\[\d\d:\d\d:\d\d\] DEBUG: 0 succeeded, 0 failed, 1 not due/m);
    expect(pretty.stderr).not.toContain('{"level"');
    expect(pretty.stderr).not.toContain('\x1b['); // no terminal: no colour

    const bad = await runCli(['--config', config, '--log-format', 'xml', 'renew']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("argument 'xml' is invalid. Allowed choices are json, pretty.");
  });

  it('exits 1 while a certificate is failing, also when it is only backing off, and says so', async () => {
    const dir = workDir(stack);
    const hook = path.join(dir, 'broken-dns.mjs');
    writeFileSync(hook, "console.error('DNS API down'); process.exit(1);\n");
    const config = writeConfig(dir, stack, {
      dns: `  broken:\n    type: exec\n    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(hook)}]`,
      certificates: `  - { name: failing, domains: [failing.example.test], dns: broken, sinks: [files] }`,
    });
    const failed = await runCli(['--config', config, 'renew']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('"msg":"0 succeeded, 1 failed, 0 not due"');

    // The next run skips it (backoff), and that is still a failing certificate: exit 1, one warning.
    const backingOff = await runCli(['--config', config, 'renew']);
    expect(backingOff.code).toBe(1);
    const lines = backingOff.stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { level: string; msg: string; cert?: string });
    expect(lines.map((l) => [l.level, l.msg.replace(/until \S+ \(.*\)$/, 'until …')])).toEqual([
      ['warn', 'backing off after 1 failure(s) until …'],
      ['info', '0 succeeded, 0 failed, 1 backing off after failures, 0 not due'],
    ]);
  });
});

describe('status and history by name', () => {
  it('status NAME… filters; an unknown name exits 2 with the configured names, for history too', async () => {
    const dir = workDir(stack);
    const config = writeConfig(dir, stack, {
      certificates: `  - { name: alpha, domains: [alpha.example.test], dns: bind, sinks: [files] }
  - { name: beta, domains: [beta.example.test], dns: bind, sinks: [files] }`,
    });
    expect((await runCli(['--config', config, 'renew'])).code).toBe(0);

    const one = await runCli(['--config', config, 'status', 'beta']);
    expect(one.code).toBe(0);
    const rows = one.stdout.split('\n').filter((line) => /^(alpha|beta)\s/.test(line));
    expect(rows.map((line) => line.split(/\s+/).slice(0, 2))).toEqual([['beta', 'valid']]);
    expect(one.stdout).toContain('1 certificate: 1 valid');
    for (const line of one.stdout.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    const wide = await runCli(['--config', config, 'status', '--wide', 'alpha', 'beta']);
    expect(wide.stdout).toMatch(/^NAME\s+STATE\s+DAYS LEFT\s+NOT BEFORE/m);

    const typo = await runCli(['--config', config, 'status', 'alpah']);
    expect([typo.code, typo.stderr]).toEqual([2, 'certkeeper: unknown certificate: alpah (configured: alpha, beta)\n']);
    const history = await runCli(['--config', config, 'history', 'alpah']);
    expect([history.code, history.stderr]).toEqual([2, 'certkeeper: unknown certificate: alpah (configured: alpha, beta)\n']);
    expect((await runCli(['--config', config, 'history', 'alpha'])).stdout).toMatch(/alpha\s+issue\s+success/);
  });
});

describe('colour', () => {
  /** `certkeeper run` on a terminal (under script) for about two seconds: what it printed. */
  async function runOnTerminal(config: string, env: Record<string, string>): Promise<string> {
    const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} --config ${JSON.stringify(config)} run`;
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', TERM: 'xterm-256color', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    for (let i = 0; i < 100 && !output.includes('agent started'); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    return output;
  }

  it('run on a terminal is coloured, and not with NO_COLOR set', async () => {
    const dir = workDir(stack);
    const config = writeConfig(dir, stack, { certificates: '  []' });
    const coloured = await runOnTerminal(config, {});
    expect(coloured).toContain('agent started');
    expect(coloured).toContain('\x1b[');
    const plain = await runOnTerminal(config, { NO_COLOR: '1' });
    expect(plain).toContain('agent started');
    expect(plain).not.toContain('\x1b[');
  });
});

describe('--help', () => {
  it('lists the exit codes of every command', async () => {
    for (const command of [
      ['renew'],
      ['run'],
      ['reload'],
      ['healthcheck'],
      ['revoke'],
      ['forget'],
      ['doctor'],
      ['status'],
      ['validate'],
      ['notify', 'test'],
      ['history'],
      ['verify'],
      ['probe'],
    ]) {
      const help = await runCli([...command, '--help']);
      expect(help.code, command.join(' ')).toBe(0);
      expect(help.stdout, command.join(' ')).toMatch(/\nExit codes:\n {2}0 {2}\S.*\n(?: {2}1 {2}\S.*\n)? {2}2 {2}a config or usage error\n/);
    }
    expect((await runCli(['renew', '--help'])).stdout).toContain('  1  a certificate failed now, is backing off after earlier failures');
  });
});
