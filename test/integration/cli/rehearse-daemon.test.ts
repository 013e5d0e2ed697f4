// Rehearsals in `certkeeper run` against a real Pebble and BIND: a certificate is issued with a
// good TSIG secret, then the agent runs with a wrong one; its rehearsal (a dry run on the
// `rehearse:` schedule) fails, alerts as a warning, is counted on /metrics and shown in status —
// while the valid certificate is left alone.

import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/devstack/ports.js';
import { startStack, type Stack } from '../../../src/devstack/stack.js';
import { rehearsalOffsetMs } from '../../../src/plan/rehearsal.js';
import { CLI, history, runCli, workDir, writeConfig } from '../../helpers/cli.js';

let stack: Stack;
const daemons: ChildProcess[] = [];

beforeAll(async () => {
  // No authorization reuse: the rehearsal must really go through DNS (a reused authorization would skip it).
  stack = await startStack({ pebble: { authzReusePercent: 0 } });
});
afterEach(() => {
  for (const child of daemons.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});
afterAll(async () => {
  await stack?.stop();
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, output: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n--- daemon output ---\n${output().slice(-4000)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** A webhook receiver on loopback recording every event body. */
async function receiver(): Promise<{ url: string; events: { type: string; severity: string; cert: string; message: string }[]; close: () => Promise<void> }> {
  const events: { type: string; severity: string; cert: string; message: string }[] = [];
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      events.push(JSON.parse(body) as (typeof events)[number]);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/hook`, events, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('rehearsals in certkeeper run', () => {
  it('a failing rehearsal alerts as a warning, shows on /metrics and in status, and orders nothing real', async () => {
    // A name whose first rehearsal falls within seconds of the start (the offset is stable per name).
    const name = Array.from({ length: 500 }, (_, i) => `rh${i}`).find((n) => rehearsalOffsetMs(60_000, n) < 3_000)!;
    const dir = workDir(stack, 'ck-rehearse-');
    const certs = `  - { name: ${name}, domains: [${name}.example.test], dns: bind }`;
    const good = writeConfig(dir, stack, { certificates: certs });
    expect((await runCli(['--config', good, 'renew'])).code).toBe(0);

    const hook = await receiver();
    try {
      const port = await freePort();
      writeFileSync(path.join(dir, 'tsig.secret'), `${Buffer.from('rotated away').toString('base64')}\n`);
      const config = writeConfig(dir, stack, {
        extra: `http: { listen: "127.0.0.1:${port}" }\nrehearse: { every: 1m }\nnotify:\n  ops: { type: webhook, url: "${hook.url}" }`,
        certificates: certs,
      });
      const child = spawn(process.execPath, [CLI, '--config', config, 'run'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      });
      daemons.push(child);
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

      const alert = await until(
        'a rehearsal_failed alert',
        async () => hook.events.find((e) => e.type === 'rehearsal_failed'),
        30_000,
        () => output,
      );
      expect(alert).toMatchObject({ cert: name, severity: 'warning' });
      expect(alert.message).toContain('BADSIG');

      const metrics = await until(
        'the rehearsal counter',
        async () => {
          const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
          return text.includes(`certkeeper_rehearsals_total{name="${name}",result="failure"}`) ? text : undefined;
        },
        10_000,
        () => output,
      );
      expect(metrics).toContain(`certkeeper_rehearsals_total{name="${name}",result="failure"} 1`);
      const status = JSON.parse((await runCli(['--config', config, 'status', '--json'])).stdout) as { state: string; lastRehearsal: { result: string } }[];
      expect(status[0]).toMatchObject({ state: 'valid', lastRehearsal: { result: 'failure' } });
      // The real certificate was not touched: one issue, one failed dry run, no other order.
      const lines = await history(config, name);
      expect(lines.filter((l) => l.action === 'issue' || l.action === 'renew')).toHaveLength(1);
      expect(lines.find((l) => l.action === 'dry-run')).toMatchObject({ result: 'failure' });
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    } finally {
      await hook.close();
    }
  });
});
