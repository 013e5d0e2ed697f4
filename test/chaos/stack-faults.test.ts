// Fault injection against the real Pebble and BIND, through the compiled CLI: a CA that rejects
// half its nonces, a DNS server that is down and then up, a sink dir that cannot be written (and a
// full disk where a tmpfs can be mounted), three processes racing for the same certificates, hostile
// hook data, and a handful of SIGKILLs (the 50-trial run is test/chaos/kill.chaos.ts).

import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../src/devstack/stack.js';
import { keyMatchesCertificate, parseCertificate } from '../../src/core/x509.js';
import { CLI, history, orders, REPO, runCli, txtAt, workDir, writeConfig } from '../helpers/cli.js';
import { keyMismatches, tempFiles } from './invariants.js';
import { killTrial } from './kill.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ pebble: { authzReusePercent: 0 } });
});
afterAll(async () => {
  await stack?.stop();
});

const certList = (prefix: string, count: number, sinks = '[files]'): string =>
  Array.from({ length: count }, (_, i) => `  - { name: ${prefix}${i}, domains: [${prefix}${i}.example.test], dns: bind, sinks: ${sinks} }`).join('\n');

describe('a CA that rejects half its nonces (PEBBLE_WFE_NONCEREJECT=50)', () => {
  it('still issues all 20 certificates in one run', async () => {
    const flaky = await startStack({ pebble: { authzReusePercent: 0, env: { PEBBLE_WFE_NONCEREJECT: '50' } } });
    try {
      const dir = workDir(flaky);
      const config = writeConfig(dir, flaky, { certificates: certList('nonce', 20) });
      const result = await runCli(['--config', config, 'renew']);
      expect(result.stderr).toContain('20 succeeded, 0 failed');
      expect(result.code).toBe(0);
      expect(readdirSync(path.join(dir, 'out')).filter((n) => !n.startsWith('.'))).toHaveLength(20);
      expect(keyMismatches(path.join(dir, 'state'), path.join(dir, 'out'))).toEqual([]);
    } finally {
      await flaky.stop();
    }
  });
});

describe('DNS server down, then up', () => {
  it('fails cleanly, backs off, then succeeds and leaves no TXT record behind', async () => {
    const dir = workDir(stack);
    const certificates = '  - { name: dnsdown, domains: [dnsdown.example.test, "*.dnsdown.example.test"], dns: bind, sinks: [files] }';
    // Nothing listens on port 9 of 127.0.0.1 (discard is not run here): every UPDATE goes unanswered.
    const down = writeConfig(dir, stack, { certificates, extra: 'backoff: [5s]' });
    writeFileSync(down, readFileSync(down, 'utf8').replace(`server: ${stack.bind.address}`, 'server: 127.0.0.1:9\n    timeout: 500ms'));
    const first = await runCli(['--config', down, 'renew']);
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/DNS_/);
    expect(existsSync(path.join(dir, 'out/dnsdown'))).toBe(false);

    // Immediately again: inside the backoff, nothing is ordered.
    const backedOff = await runCli(['--config', down, 'renew', '--json']);
    const report = JSON.parse(backedOff.stdout) as { outcomes: { action: string; result: string }[] };
    expect(report.outcomes[0], backedOff.stdout).toMatchObject({ result: 'skipped', reason: 'backoff' });
    expect(orders(await history(down))).toHaveLength(1);

    // DNS is back (the same config, now naming the real server) and the backoff has passed.
    writeConfig(dir, stack, { certificates, extra: 'backoff: [5s]' });
    await new Promise((resolve) => setTimeout(resolve, 5100));
    const third = await runCli(['--config', down, 'renew']);
    expect(third.stderr).toContain('1 succeeded, 0 failed');
    expect(third.code).toBe(0);
    const lines = orders(await history(down));
    expect(lines.map((l) => l.result)).toEqual(['success', 'failure']);
    expect(await txtAt(stack.bind.address, '_acme-challenge.dnsdown.example.test')).toEqual([]);
  });
});

describe('a sink that cannot be written', () => {
  it('fails clearly and keeps serving the previous certificate intact', async () => {
    const dir = workDir(stack);
    const config = writeConfig(dir, stack, { certificates: certList('ro', 1) });
    expect((await runCli(['--config', config, 'renew'])).code).toBe(0);
    const out = path.join(dir, 'out');
    const before = readFileSync(path.join(out, 'ro0/cert.pem'), 'utf8');
    // root ignores mode bits, so make the folder immutable where we can, else read-only.
    let immutable = false;
    try {
      execFileSync('chattr', ['+i', out], { stdio: 'ignore' });
      immutable = true;
    } catch {
      chmodSync(out, 0o500);
    }
    try {
      const result = await runCli(['--config', config, 'renew', '--force']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/SINK_|permission|not permitted|EACCES|EPERM/i);
    } finally {
      if (immutable) execFileSync('chattr', ['-i', out]);
      else chmodSync(out, 0o700);
    }
    expect(readFileSync(path.join(out, 'ro0/cert.pem'), 'utf8')).toBe(before);
    expect(keyMismatches(path.join(dir, 'state'), out)).toEqual([]);
    // Once writable again the stored certificate is deployed without a new order.
    const retry = await runCli(['--config', config, 'renew']);
    expect(retry.code).toBe(0);
    expect(orders(await history(config))).toHaveLength(2);
    expect(keyMismatches(path.join(dir, 'state'), out)).toEqual([]);
  });

  it.runIf(process.getuid?.() === 0)('on a full disk (2 MB tmpfs) fails clearly and keeps the previous certificate intact', async () => {
    const dir = workDir(stack);
    const out = path.join(dir, 'out');
    mkdirSync(out);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', out]);
    try {
      const config = writeConfig(dir, stack, { certificates: certList('full', 1) });
      expect((await runCli(['--config', config, 'renew'])).code).toBe(0);
      const before = readFileSync(path.join(out, 'full0/cert.pem'), 'utf8');
      // Fill the disk to the last block.
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${path.join(out, 'filler')}`, 'bs=64k'], { stdio: 'ignore' });
      } catch {
        /* ENOSPC ends dd: that is the point */
      }
      const result = await runCli(['--config', config, 'renew', '--force']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/ENOSPC|no space/i);
      expect(readFileSync(path.join(out, 'full0/cert.pem'), 'utf8')).toBe(before);
      expect(keyMismatches(path.join(dir, 'state'), out)).toEqual([]);
      expect(tempFiles(out)).toEqual([]);
    } finally {
      execFileSync('umount', [out]);
    }
  });
});

describe('two renew processes and a daemon at once', () => {
  it('order exactly one certificate per name', async () => {
    const dir = workDir(stack);
    const config = writeConfig(dir, stack, { certificates: certList('race', 3) });
    const daemon = spawn(process.execPath, [CLI, '--config', config, 'run'], {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: 'ignore',
    });
    try {
      const [a, b] = await Promise.all([runCli(['--config', config, 'renew']), runCli(['--config', config, 'renew'])]);
      expect([a.code, b.code]).toEqual([0, 0]);
      // The daemon may still be working on what it picked up: wait until all three are recorded.
      for (let i = 0; i < 100 && orders(await history(config)).length < 3; i++) await new Promise((r) => setTimeout(r, 200));
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon.once('close', r));
    }
    const lines = orders(await history(config));
    expect(lines.map((l) => `${l.cert}:${l.result}`).sort()).toEqual(['race0:success', 'race1:success', 'race2:success']);
    expect(keyMismatches(path.join(dir, 'state'), path.join(dir, 'out'))).toEqual([]);
  });
});

describe('hostile hook data', () => {
  it('reaches hooks as plain env values and argv, and executes nothing', async () => {
    const dir = workDir(stack);
    const pwned = path.join(dir, 'pwned');
    const hook = path.join(dir, 'record.mjs');
    writeFileSync(
      hook,
      `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(path.join(dir, 'seen.jsonl'))}, JSON.stringify({ argv: process.argv.slice(2), env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('CERTKEEPER_') || k.startsWith('EVIL'))) }) + '\\n');\n`,
    );
    const evil = [`$(touch ${pwned})`, `\`touch ${pwned}\``, `; touch ${pwned}`, `| touch ${pwned}`, `&& touch ${pwned} #`, `'"; touch ${pwned}; echo "'`];
    const config = writeConfig(dir, stack, {
      sinks: `  hook:\n    type: exec\n    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(hook)}, ${evil.map((v) => JSON.stringify(v)).join(', ')}]\n    env: { ${evil.map((v, i) => `EVIL${i}: ${JSON.stringify(v)}`).join(', ')} }`,
      certificates: `  - { name: "evil.cert-name_1", domains: [evil.example.test, "*.evil.example.test"], dns: bind, sinks: [files, hook] }`,
    });
    const result = await runCli(['--config', config, 'renew']);
    expect(result.code).toBe(0);
    const seen = readFileSync(path.join(dir, 'seen.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { argv: string[]; env: Record<string, string> });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.argv).toEqual(evil);
    for (const [i, value] of evil.entries()) expect(seen[0]!.env[`EVIL${i}`]).toBe(value);
    expect(seen[0]!.env.CERTKEEPER_CERT_NAME).toBe('evil.cert-name_1');
    expect(seen[0]!.env.CERTKEEPER_DOMAINS).toBe('evil.example.test *.evil.example.test');
    expect(existsSync(pwned)).toBe(false);
  });

  it('a name with shell metacharacters is refused by the config, before anything runs', async () => {
    const dir = workDir(stack);
    const pwned = path.join(dir, 'pwned');
    const config = writeConfig(dir, stack, {
      certificates: `  - { name: "x$(touch ${pwned})", domains: ["a$(touch ${pwned}).example.test"], dns: bind, sinks: [files] }`,
    });
    const result = await runCli(['--config', config, 'renew']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('certificates[0].name');
    expect(existsSync(pwned)).toBe(false);
    expect(existsSync(path.join(dir, 'state'))).toBe(false);
  });
});

describe('SIGKILL during renew (a few trials; test:chaos runs 50)', () => {
  it('leaves matching keys, no visible temp files, a recoverable lock, and a next run that completes', async () => {
    const dir = workDir(stack);
    const reload = path.join(dir, 'reload.sh');
    writeFileSync(reload, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const config = writeConfig(dir, stack, {
      sinks: `  reload:\n    type: exec\n    command: [${JSON.stringify(reload)}]`,
      certificates: certList('kill', 2, '[files, reload]'),
    });
    expect((await runCli(['--config', config, 'renew'])).code).toBe(0);
    for (const delayMs of [150, 450, 800, 1200, 1700]) {
      const trial = await killTrial(dir, config, delayMs);
      expect(trial.afterKill.mismatches, `after kill at ${delayMs} ms`).toEqual([]);
      expect(trial.recovery.code, trial.recovery.stderr).toBe(0);
      expect(trial.recovery.mismatches).toEqual([]);
      expect(trial.recovery.tempFiles).toEqual([]);
      expect(trial.recovery.deployed).toEqual(['kill0', 'kill1']);
      expect(trial.recovery.lockLeft).toBe(false);
    }
    for (const name of ['kill0', 'kill1']) {
      const pem = readFileSync(path.join(dir, 'out', name, 'cert.pem'), 'utf8');
      expect(parseCertificate(pem).domains).toEqual([`${name}.example.test`]);
      expect(keyMatchesCertificate(pem, readFileSync(path.join(dir, 'out', name, 'privkey.pem'), 'utf8'))).toBe(true);
    }
  });
});
