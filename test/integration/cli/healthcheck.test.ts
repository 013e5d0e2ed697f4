// `certkeeper healthcheck`, the container image's HEALTHCHECK: asks a real running agent's /healthz
// at the config's http.listen (a 0.0.0.0 listen is asked on loopback), fails when no agent
// answers, and passes when the config turns the endpoint off (nothing to check).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/devstack/ports.js';
import { CLI, runCli } from '../../helpers/cli.js';

const HEAD = `stateDir: ./state
acme: { directory: "https://127.0.0.1:9/dir" }
dns:
  d: { type: rfc2136, server: "127.0.0.1:9", tsigKeyName: k, tsigSecret: "c2VjcmV0" }
`;

function write(text: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'ck-healthcheck-')), 'certkeeper.yaml');
  writeFileSync(file, text);
  return file;
}

describe('certkeeper healthcheck', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('passes while the agent answers /healthz and fails once it is gone', async () => {
    const port = await freePort();
    const file = write(`${HEAD}http: { listen: "0.0.0.0:${port}" }\n`);
    const child = spawn(process.execPath, [CLI, '--config', file, 'run'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    children.push(child);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

    // Before the agent listens, the check fails; it passes once the agent is up.
    let result = await runCli(['--config', file, 'healthcheck']);
    for (let i = 0; result.code !== 0; i++) {
      expect(result.stderr).toContain(`no agent answered at http://127.0.0.1:${port}/healthz`);
      if (i > 100 || child.exitCode !== null) throw new Error(`the agent did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      result = await runCli(['--config', file, 'healthcheck']);
    }
    expect(result.stdout).toBe(`http://127.0.0.1:${port}/healthz: ok\n`);

    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    const gone = await runCli(['--config', file, 'healthcheck']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe(`certkeeper: no agent answered at http://127.0.0.1:${port}/healthz (ECONNREFUSED)\n`);
  });

  it('passes with nothing to check when the config has no http endpoint', async () => {
    const result = await runCli(['--config', write(HEAD), 'healthcheck']);
    expect([result.code, result.stdout]).toEqual([0, 'no http.listen in the config: no endpoint to check\n']);
  });

  it('asks --url instead, and reports a non-2xx answer', async () => {
    const http = await import('node:http');
    const server = http.createServer((_req, res) => {
      res.statusCode = 503;
      res.end('shutting down\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const result = await runCli(['--config', write(HEAD), 'healthcheck', '--url', `http://127.0.0.1:${port}/healthz`]);
      expect([result.code, result.stderr]).toEqual([1, `certkeeper: http://127.0.0.1:${port}/healthz answered HTTP 503: shutting down\n`]);
    } finally {
      server.close();
    }
  });
});
