// Route53 end to end through the compiled CLI: config → certkeeper renew → the real Route53 SDK
// → the stand-in → its DNS port → Pebble validates → an apex + wildcard certificate. Also: a
// run with nothing due never loads the AWS SDK.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../../src/core/x509.js';
import { startPebble, type PebbleInstance } from '../../../src/devstack/pebble.js';
import { awsTestEnv, startRoute53Standin, type Route53Standin } from '../../helpers/aws/route53-standin.js';
import { CLI, runCli, txtAt, type CliResult } from '../../helpers/cli.js';
import { route53Provider, writeAwsConfig } from '../../helpers/aws/config.js';

let r53: Route53Standin;
let pebble: PebbleInstance;
const dirs: string[] = [];

beforeAll(async () => {
  r53 = await startRoute53Standin({
    zones: [{ name: 'example.test' }, { name: 'example.test', privateZone: true }],
    // Route53 is never INSYNC at once: make the provider poll.
    changeDelay: { pendingPolls: 1 },
  });
  try {
    pebble = await startPebble({ dnsServer: r53.dnsAddress, authzReusePercent: 0 });
  } catch (error) {
    await r53.stop();
    throw error;
  }
});
afterAll(async () => {
  await pebble?.stop();
  await r53?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const env = awsTestEnv();

function writeRoute53Config(certificates: string): { dir: string; config: string } {
  const written = writeAwsConfig(pebble, r53, { prefix: 'ck-route53-', dns: route53Provider(r53, 'aws', { region: 'eu-west-1' }), certificates });
  dirs.push(written.dir);
  return written;
}

/** Runs the CLI with a module hook that writes every `@aws-sdk/*` import it sees to `log`. */
function runCliWatchingImports(args: string[], log: string): Promise<CliResult> {
  const hooks = path.join(path.dirname(log), 'hooks.mjs');
  const register = path.join(path.dirname(log), 'register.mjs');
  writeFileSync(
    hooks,
    `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  if (specifier.startsWith('@aws-sdk/')) appendFileSync(${JSON.stringify(log)}, specifier + '\\n');
  return next(specifier, context);
}
`,
  );
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${hooks}`)});\n`);
  writeFileSync(log, '');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', register, CLI, ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('certkeeper renew with the route53 provider', () => {
  it('issues an apex + wildcard certificate through Route53 and leaves no TXT record behind', async () => {
    const { dir, config } = writeRoute53Config(`  - { name: web, domains: [r53.example.test, "*.r53.example.test"], dns: aws, sinks: [files] }`);
    const loads = path.join(dir, 'sdk-imports.log');
    const first = await runCliWatchingImports(['--config', config, 'renew', '--json'], loads);
    expect(first.stderr).not.toContain('"level":50');
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).outcomes[0]).toMatchObject({ cert: 'web', action: 'issue', result: 'success' });

    const certificate = parseCertificate(readFileSync(path.join(dir, 'out/web/cert.pem'), 'utf8'));
    expect(certificate.domains.sort()).toEqual(['*.r53.example.test', 'r53.example.test']);

    // Both challenge values stood side by side in one set while the CA validated …
    const fqdn = '_acme-challenge.r53.example.test';
    const publicZone = r53.zones().find((zone) => zone.name === 'example.test' && !zone.privateZone)!;
    const sets = r53.changes
      .filter((change) => change.zoneId === publicZone.id)
      .map((change) => change.after.find((set) => set.name === fqdn)?.values.length ?? 0);
    // (issue 18: presented in one batch, both values in one CREATE; removed one by one)
    expect(sets).toEqual([2, 1, 0]);
    // … and are gone now, from the API and from DNS; the private zone was never touched.
    expect(r53.recordSet(publicZone.id, fqdn)).toBeUndefined();
    expect(await txtAt(r53.dnsAddress, fqdn)).toEqual([]);
    expect(r53.changes.every((change) => change.zoneId === publicZone.id)).toBe(true);
    // The SDK signed with the credentials from the environment, and polled GetChange.
    expect(new Set(r53.requests.map((request) => request.accessKeyId))).toEqual(new Set([env.AWS_ACCESS_KEY_ID]));
    expect(r53.requests.some((request) => request.operation === 'GetChange')).toBe(true);
    expect(first.stderr).not.toContain(env.AWS_SECRET_ACCESS_KEY!);

    // The import hook does see the SDK being loaded when a challenge is presented …
    expect(readFileSync(loads, 'utf8')).toContain('@aws-sdk/client-route-53');
    // … and a run with nothing due never loads it.
    const quiet = await runCliWatchingImports(['--config', config, 'renew', '--json'], loads);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(JSON.parse(quiet.stdout)).toMatchObject({ skipped: 1, succeeded: 0 });
    expect(readFileSync(loads, 'utf8')).toBe('');
  });

  it('fails clearly, and cleans up, when Route53 keeps throttling', async () => {
    const { dir, config } = writeRoute53Config(`  - { name: throttled, domains: [throttled.example.test], dns: aws, sinks: [files] }`);
    const before = r53.requests.length;
    r53.injectFault({ code: 'Throttling', count: 1_000, operation: 'ChangeResourceRecordSets' });
    try {
      // maxRetries 0: only the SDK's own three attempts, so the test stays quick.
      writeFileSync(config, readFileSync(config, 'utf8').replace('    changeInterval: 100ms', '    changeInterval: 100ms\n    maxRetries: 0'));
      const result = await runCli(['--config', config, 'renew', '--json'], { env });
      expect(result.code).toBe(1);
      const outcome = JSON.parse(result.stdout).outcomes[0];
      expect(outcome).toMatchObject({ cert: 'throttled', result: 'failure', code: 'DNS_UPDATE_FAILED' });
      expect(outcome.error).toMatch(
        /adding TXT _acme-challenge\.throttled\.example\.test in hosted zone Z\w+ \(example\.test\): ChangeResourceRecordSets failed: Throttling: Rate exceeded/,
      );
    } finally {
      r53.clearFaults();
    }
    expect(existsSync(path.join(dir, 'out/throttled'))).toBe(false);
    expect(r53.requests.slice(before).filter((request) => request.operation === 'ChangeResourceRecordSets').length).toBeGreaterThanOrEqual(3);
    expect(await txtAt(r53.dnsAddress, '_acme-challenge.throttled.example.test')).toEqual([]);
  });
});
