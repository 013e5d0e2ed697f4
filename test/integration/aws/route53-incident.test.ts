// An incident's mass renewal through the compiled CLI (issue 18): 100 certificates, all due, one
// `renew --force --yes`, against the Route53 stand-in with an INSYNC delay and Route53's rate
// limit, and against BIND. The DNS changes go out batched (a few per zone, not one per
// certificate), Route53 is never throttled, every certificate is deployed and no TXT record is left.

import { spawn } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPebble, type PebbleInstance } from '../../../src/devstack/pebble.js';
import { startStack, type Stack } from '../../../src/devstack/stack.js';
import { awsTestEnv, startRoute53Standin, type Route53Standin } from '../../helpers/aws/route53-standin.js';
import { route53Provider, writeAwsConfig } from '../../helpers/aws/config.js';
import { CLI, REPO, runCli, txtAt, workDir, writeConfig } from '../../helpers/cli.js';

const COUNT = 100;
const certificates = (zone: string): string =>
  Array.from({ length: COUNT }, (_, i) => `  - { name: c${i}, domains: [c${i}.${zone}], dns: dns, sinks: [files] }`).join('\n');
const deployed = (dir: string): number => readdirSync(path.join(dir, 'out')).filter((entry) => !entry.startsWith('.')).length;

describe('100 certificates at once through Route53', () => {
  let r53: Route53Standin;
  let pebble: PebbleInstance;
  const dirs: string[] = [];
  beforeAll(async () => {
    r53 = await startRoute53Standin({ zones: [{ name: 'example.test' }], changeDelay: { ms: 1000 }, rateLimit: { requestsPerSecond: 5 } });
    pebble = await startPebble({ dnsServer: r53.dnsAddress, authzReusePercent: 0 });
  });
  afterAll(async () => {
    await pebble?.stop();
    await r53?.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('writes a few changes for the zone, waits INSYNC once per change, is never throttled and leaves no TXT record', async () => {
    const { dir, config } = writeAwsConfig(pebble, r53, {
      prefix: 'ck-incident-',
      dns: route53Provider(r53, 'dns'),
      certificates: certificates('example.test'),
    });
    dirs.push(dir);
    const result = await runCli(['--config', config, 'renew', '--force', '--yes', '--reason', 'CA incident'], { env: awsTestEnv() });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout.trim())).toMatchObject({
      summary: 'renew --force',
      certificates: COUNT,
      succeeded: COUNT,
      failed: 0,
      reason: 'CA incident',
    });
    expect(deployed(dir)).toBe(COUNT);
    const changes = r53.requests.filter((request) => request.operation === 'ChangeResourceRecordSets');
    // Presents and cleanups, batched: not 200 changes but a handful (windows may split a wave).
    expect(changes.length).toBeLessThanOrEqual(8);
    expect(r53.changes.reduce((sum, change) => sum + change.actions.length, 0)).toBe(2 * COUNT);
    expect(new Set(r53.requests.filter((request) => request.operation === 'GetChange').map((request) => request.path)).size).toBe(changes.length);
    expect(r53.requests.filter((request) => request.errorCode === 'Throttling')).toEqual([]);
    for (let i = 0; i < COUNT; i++) expect(r53.recordSet('example.test', `_acme-challenge.c${i}.example.test`)).toBeUndefined();
    expect(await txtAt(r53.dnsAddress, '_acme-challenge.c0.example.test')).toEqual([]);
  });

  it('interrupted by Ctrl-C once the first batch is out, leaves no TXT record behind', async () => {
    const { dir, config } = writeAwsConfig(pebble, r53, {
      prefix: 'ck-incident-int-',
      dns: route53Provider(r53, 'dns'),
      certificates: certificates('int.example.test'),
    });
    dirs.push(dir);
    const before = r53.changes.length;
    const child = spawn(process.execPath, [CLI, '--config', config, 'renew', '--force', '--yes'], {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...awsTestEnv() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // The first change written (the records of many certificates): stop the run.
    r53.onRequest((request) => {
      if (request.operation === 'ChangeResourceRecordSets' && request.status === 200 && r53.changes.length > before) {
        r53.onRequest(undefined);
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toContain('stopping: aborting in-flight orders and cleaning up');
    expect(code).toBe(1);
    expect(r53.changes.length).toBeGreaterThan(before);
    for (let i = 0; i < COUNT; i++) expect(r53.recordSet('example.test', `_acme-challenge.c${i}.int.example.test`)).toBeUndefined();
  });
});

describe('100 certificates at once through RFC 2136 to BIND', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ pebble: { authzReusePercent: 0 } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('sends a few UPDATEs, not one per certificate, and leaves no TXT record', async () => {
    const dir = workDir(stack, 'ck-incident-bind-');
    const config = writeConfig(dir, stack, { certificates: certificates('example.test').replaceAll('dns: dns', 'dns: bind') });
    const result = await runCli(['--config', config, '--log-level', 'info', 'renew', '--force', '--yes']);
    expect(result.code).toBe(0);
    expect(deployed(dir)).toBe(COUNT);
    // The provider logs one line per UPDATE it sends: "TXT records added" for a batch.
    const updates = result.stderr.split('\n').filter((line) => /"msg":"TXT records? (added|removed)"/.test(line));
    expect(updates.length).toBeGreaterThan(0);
    expect(updates.length).toBeLessThanOrEqual(8);
    const left = await Promise.all(Array.from({ length: COUNT }, (_, i) => txtAt(stack.bind.address, `_acme-challenge.c${i}.example.test`)));
    expect(left.flat()).toEqual([]);
  });
});
