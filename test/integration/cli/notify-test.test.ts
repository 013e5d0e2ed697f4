// `certkeeper notify test` as operators run it: the compiled CLI against a receiver on loopback
// and a port nothing listens on.

import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/devstack/ports.js';
import { runCli } from '../../helpers/cli.js';

const SECRET = 'T000/B000/nOtIfYsEcReT';
const received: { path: string; body: Record<string, unknown> }[] = [];
let server: http.Server;
let config: string;

beforeAll(async () => {
  server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push({ path: request.url ?? '', body: JSON.parse(body) as Record<string, unknown> });
      response.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const closed = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-notify-test-'));
  config = path.join(dir, 'certkeeper.yaml');
  writeFileSync(
    config,
    `stateDir: ./state
acme: { directory: "https://127.0.0.1:9/directory" }
dns: { corp: { type: exec, command: ["/bin/true"] } }
notify:
  hook: { type: webhook, url: "http://127.0.0.1:${port}/hook/${SECRET}" }
  chat: { type: slack, url: "http://127.0.0.1:${port}/slack/${SECRET}" }
  gone: { type: teams, url: "http://127.0.0.1:${closed}/teams/${SECRET}", timeout: 2s }
certificates: []
`,
  );
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('certkeeper notify test', () => {
  it('delivers a marked test alert to the named target and exits 0', async () => {
    const result = await runCli(['--config', config, 'notify', 'test', 'hook']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^OK\s+hook \(webhook\)\s+delivered in \d+ ms$/m);
    expect(result.stdout).toContain('1 of 1 target(s) delivered the test alert');
    const hook = received.filter((entry) => entry.path.startsWith('/hook/'));
    expect(hook).toHaveLength(1);
    expect(hook[0]!.body).toMatchObject({ type: 'test', test: true, severity: 'info', target: 'hook', certs: [] });
  });

  it('tries every target, reports each, and exits 1 with the reason when one is down', async () => {
    const result = await runCli(['--config', config, 'notify', 'test']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^OK\s+hook \(webhook\)/m);
    expect(result.stdout).toMatch(/^OK\s+chat \(slack\)/m);
    expect(result.stdout).toMatch(/^FAILED\s+gone \(teams\)\s+NOT delivered: notify target "gone" \(teams\): request failed \(ECONNREFUSED\)$/m);
    expect(result.stdout).toContain('2 of 3 target(s) delivered the test alert');
    expect(result.stdout + result.stderr).not.toContain('nOtIfYsEcReT'); // the URL is the credential
    const slack = received.find((entry) => entry.path.startsWith('/slack/'));
    expect(String(slack!.body.text)).toContain('[TEST] certkeeper: test alert to "chat"');
  });

  it('prints JSON on request, and refuses an unknown target as a usage error', async () => {
    const json = await runCli(['--config', config, 'notify', 'test', 'gone', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ target: 'gone', type: 'teams', delivered: false, code: 'HOOK_FAILED' })]);
    const unknown = await runCli(['--config', config, 'notify', 'test', 'nosuch']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no notify target named "nosuch" (configured: hook, chat, gone)');
  });
});
