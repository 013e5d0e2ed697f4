// `certkeeper doctor` against a real Pebble and BIND, with each failure made real: a wrong TSIG
// secret, an unreachable CA port, a CNAME into a zone nobody serves, a sink folder that cannot
// be created, a hook that does not exist.

import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/devstack/ports.js';
import { DEFAULT_STACK_ZONES, startStack, type Stack } from '../../../src/devstack/stack.js';
import { runCli, workDir, writeConfig } from '../../helpers/cli.js';

interface Line {
  name: string;
  status: 'pass' | 'warn' | 'fail';
  message: string;
  cert?: string;
}
interface Report {
  ok: boolean;
  counts: Record<string, number>;
  checks: Line[];
}

let stack: Stack;

beforeAll(async () => {
  const [example, ...rest] = DEFAULT_STACK_ZONES;
  stack = await startStack({
    zones: [
      {
        ...example!,
        records: [
          ...(example!.records ?? []),
          '_acme-challenge.lost 60 IN CNAME _acme-challenge.lost.nowhere.test.',
          'caa 60 IN CAA 0 issue "allowed-ca.test"',
        ],
      },
      ...rest,
    ],
  });
});
afterAll(async () => {
  await stack?.stop();
});

async function doctor(config: string, args: string[] = []): Promise<{ code: number | null; report: Report; stderr: string }> {
  const result = await runCli(['--config', config, 'doctor', '--json', ...args]);
  return { code: result.code, report: JSON.parse(result.stdout) as Report, stderr: result.stderr };
}

const lines = (report: Report, name: string, cert?: string): Line[] => report.checks.filter((c) => c.name === name && (cert === undefined || c.cert === cert));

describe('certkeeper doctor', () => {
  it('passes a healthy config (no account yet is a warning), then sees the account once one exists', async () => {
    const dir = workDir(stack, 'ck-doctor-');
    const config = writeConfig(dir, stack, {
      certificates: `  - { name: www, domains: [www.example.test, "*.www.example.test"], dns: bind, sinks: [files] }
  - { name: delegated, domains: [delegated.example.test], dns: bind }`,
    });
    const first = await doctor(config);
    expect(first.report.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(first.code).toBe(0);
    expect(lines(first.report, 'acme.directory')[0]).toMatchObject({ status: 'pass' });
    expect(lines(first.report, 'clock')[0]).toMatchObject({ status: 'pass' });
    expect(lines(first.report, 'acme.account')[0]).toMatchObject({ status: 'warn', message: expect.stringContaining('no account yet') });
    expect(lines(first.report, 'dns.credentials')[0]).toMatchObject({ status: 'pass', message: expect.stringContaining('accepted TSIG key') });
    // The delegated name follows its CNAME into validation.test, which BIND serves.
    expect(lines(first.report, 'dns.delegation', 'delegated')[0]).toMatchObject({ status: 'pass', message: expect.stringContaining('validation.test') });
    expect(lines(first.report, 'dns.nameservers', 'www')[0]).toMatchObject({ status: 'pass' });
    expect(lines(first.report, 'dns.caa', 'www').every((l) => l.status === 'pass')).toBe(true);
    expect(lines(first.report, 'sink', 'www')[0]).toMatchObject({ status: 'pass' });
    // Nothing was written: not even the state folder.
    const { existsSync } = await import('node:fs');
    expect(existsSync(path.join(dir, 'state'))).toBe(false);

    const renew = await runCli(['--config', config, 'renew', '--cert', 'delegated']);
    expect(renew.code).toBe(0);
    const second = await doctor(config, ['--cert', 'delegated']);
    expect(second.code).toBe(0);
    expect(lines(second.report, 'acme.account')[0]).toMatchObject({ status: 'pass', message: expect.stringContaining('is valid') });
    expect(second.report.checks.some((c) => c.cert === 'www')).toBe(false);
    expect(lines(first.report, 'state.certificate', 'www')[0]).toMatchObject({ status: 'pass', message: expect.stringContaining('none stored yet') });
    expect(lines(second.report, 'state.certificate', 'delegated')[0]).toMatchObject({
      status: 'pass',
      message: expect.stringMatching(/^serial [0-9A-F]+: certificate, key and recorded details agree/),
    });

    // A key replaced behind certkeeper's back: planning trusts the recorded details, the doctor does not.
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const stored = path.join(dir, 'state/store/certs/delegated');
    const { version } = JSON.parse(readFileSync(path.join(stored, 'current'), 'utf8')) as { version: string };
    const material = JSON.parse(readFileSync(path.join(stored, 'versions', version), 'utf8')) as Record<string, string>;
    writeFileSync(path.join(stored, 'versions', version), JSON.stringify({ ...material, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) }));
    const damaged = await doctor(config, ['--cert', 'delegated']);
    expect(damaged.code).toBe(1);
    expect(lines(damaged.report, 'state.certificate', 'delegated')[0]).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(/does not belong to its certificate; issue a fresh one with: certkeeper renew --cert delegated --force$/),
    });
    expect((await runCli(['--config', config, 'renew', '--cert', 'delegated', '--force'])).code).toBe(0);
    const repaired = await doctor(config, ['--cert', 'delegated']);
    expect(lines(repaired.report, 'state.certificate', 'delegated')[0]).toMatchObject({ status: 'pass' });
  });

  it('fails on a wrong TSIG secret, a CNAME to a zone nobody controls, an unwritable sink folder and a missing hook', async () => {
    const dir = workDir(stack, 'ck-doctor-');
    writeFileSync(path.join(dir, 'blocker'), 'a file where a folder should be\n');
    const config = writeConfig(dir, stack, {
      dns: `  badkey:
    type: rfc2136
    server: ${stack.bind.address}
    tsigKeyName: ${stack.bind.tsig.keyName}
    tsigAlgorithm: ${stack.bind.tsig.algorithm}
    tsigSecret: ${Buffer.from('definitely not the secret').toString('base64')}`,
      sinks: `  blocked:
    type: files
    dir: ./blocker/{cert}
  reload:
    type: exec
    command: [./no-such-hook.sh]`,
      certificates: `  - { name: wrongkey, domains: [wrongkey.example.test], dns: badkey }
  - { name: lost, domains: [lost.example.test], dns: bind }
  - { name: sinks, domains: [sinks.example.test], dns: bind, sinks: [blocked, reload] }`,
    });
    const { code, report } = await doctor(config);
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    const badkey = report.checks.find((c) => c.name === 'dns.credentials' && c.message.startsWith('badkey'));
    expect(badkey).toMatchObject({ status: 'fail', message: expect.stringContaining('BADSIG') });
    const good = report.checks.find((c) => c.name === 'dns.credentials' && c.message.startsWith('bind'));
    expect(good).toMatchObject({ status: 'pass' });
    expect(lines(report, 'dns.delegation', 'lost')[0]).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('_acme-challenge.lost.nowhere.test'),
    });
    const sinkLines = lines(report, 'sink', 'sinks');
    expect(sinkLines.find((l) => l.message.startsWith('blocked'))).toMatchObject({ status: 'fail', message: expect.stringContaining('blocker') });
    expect(sinkLines.find((l) => l.message.startsWith('reload'))).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('no-such-hook.sh does not exist'),
    });
    // The healthy parts still pass.
    expect(lines(report, 'acme.directory')[0]).toMatchObject({ status: 'pass' });
  });

  it('fails when the CA port does not answer, and prints one line per check without --json', async () => {
    const dir = workDir(stack, 'ck-doctor-');
    const port = await freePort();
    const config = writeConfig(dir, stack, { certificates: `  - { name: www, domains: [www.example.test], dns: bind }` });
    const text = (await import('node:fs')).readFileSync(config, 'utf8').replace(stack.pebble.directoryUrl, `https://127.0.0.1:${port}/dir`);
    writeFileSync(config, text);
    const result = await runCli(['--config', config, 'doctor']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^FAIL {2}acme\.directory {2}https:\/\/127\.0\.0\.1:\d+\/dir: .*ECONNREFUSED/m);
    expect(result.stdout).toMatch(/^WARN {2}clock {2}not checked/m);
    expect(result.stdout).toMatch(/^PASS {2}dns\.credentials {2}bind:/m);
    expect(result.stdout).toMatch(/\d+ passed, \d+ warning\(s\), 1 failed$/m);
  });

  it('reports an invalid config as a failed check, and an unknown --cert as a usage error', async () => {
    const dir = workDir(stack, 'ck-doctor-');
    const config = writeConfig(dir, stack, { certificates: `  - { name: www, domains: [www.example.test], dns: nowhere }` });
    const bad = await runCli(['--config', config, 'doctor']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^FAIL {2}config {2}invalid configuration .*no DNS provider named "nowhere"/m);
    const good = writeConfig(dir, stack, { certificates: `  - { name: www, domains: [www.example.test], dns: bind }` });
    const unknown = await runCli(['--config', good, 'doctor', '--cert', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown certificate: nope');
  });

  it('checks every issuer of an issuers: list, each on its own lines: an unreachable second CA fails by name', async () => {
    // Two stand-in CAs whose directories publish caaIdentities (Pebble publishes none), on plain HTTP.
    const directory = (identity: string) => (base: string) => ({
      newNonce: `${base}/nonce`,
      newAccount: `${base}/acct`,
      newOrder: `${base}/order`,
      meta: { caaIdentities: [identity] },
    });
    const cas: Record<string, (base: string) => unknown> = {
      '/strict/directory': directory('strict-ca.test'),
      '/allowed/directory': directory('allowed-ca.test'),
    };
    const server = http.createServer((request, response) => {
      const body = cas[request.url ?? ''];
      response.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
      response.end(body ? JSON.stringify(body(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)) : '{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const stub = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const closed = await freePort();
      const dir = workDir(stack, 'ck-doctor-');
      const config = writeConfig(dir, stack, {
        certificates: `  - { name: www, domains: [www.example.test], dns: bind }
  - { name: caa, domains: [caa.example.test], dns: bind }
  - { name: pinned, domains: [caa.example.test], dns: bind, issuers: [allowed] }`,
      });
      // `issuers:` instead of `acme:`: Pebble first, then a CA on a port nobody listens on, then the stand-ins.
      const text = readFileSync(config, 'utf8').replace(
        /^acme:\n(?: {2}.*\n)+/m,
        `issuers:
  - name: pebble
    directory: ${stack.pebble.directoryUrl}
    email: ops@example.test
    caBundle: ./pebble-ca.pem
  - name: backup
    directory: https://127.0.0.1:${closed}/dir
  - name: strict
    directory: ${stub}/strict/directory
  - name: allowed
    directory: ${stub}/allowed/directory
`,
      );
      writeFileSync(config, text);
      const { code, report } = await doctor(config);
      expect(report.checks.find((c) => c.name === 'config')).toMatchObject({ status: 'pass' });
      expect(code).toBe(1);

      // One directory line per issuer, each named; only the closed port fails.
      const directories = lines(report, 'acme.directory');
      expect(directories).toHaveLength(4);
      expect(directories.find((l) => l.message.startsWith('pebble: '))).toMatchObject({
        status: 'pass',
        message: `pebble: ${stack.pebble.directoryUrl} answers`,
      });
      expect(directories.find((l) => l.message.startsWith('backup: '))).toMatchObject({
        status: 'fail',
        message: expect.stringMatching(new RegExp(`^backup: https://127\\.0\\.0\\.1:${closed}/dir: .*ECONNREFUSED`)),
      });
      expect(directories.find((l) => l.message.startsWith('strict: '))).toMatchObject({
        status: 'pass',
        message: expect.stringContaining('(CAA identities: strict-ca.test)'),
      });
      // Clock and account per issuer too: Pebble's clock is measured; the unreachable one is not checked.
      expect(lines(report, 'clock').find((l) => l.message.startsWith('pebble: '))).toMatchObject({ status: 'pass' });
      expect(lines(report, 'clock').find((l) => l.message.startsWith('backup: '))).toMatchObject({
        status: 'warn',
        message: 'backup: not checked: the ACME directory did not answer',
      });
      expect(
        lines(report, 'acme.account')
          .map((l) => l.message.split(':')[0])
          .sort(),
      ).toEqual(['allowed', 'backup', 'pebble', 'strict']);

      // CAA at caa.example.test names allowed-ca.test: every CA the certificate may fall back to is compared.
      const caa = lines(report, 'dns.caa', 'caa');
      expect(caa.find((l) => l.message.startsWith('allowed: '))).toMatchObject({
        status: 'pass',
        message: 'allowed: caa.example.test: CAA at caa.example.test allows allowed-ca.test',
      });
      expect(caa.find((l) => l.message.startsWith('strict: '))).toMatchObject({
        status: 'fail',
        message: 'strict: caa.example.test: CAA at caa.example.test allows only allowed-ca.test, not this CA (strict-ca.test)',
      });
      expect(caa.find((l) => l.message.startsWith('backup: '))).toMatchObject({
        status: 'warn',
        message: expect.stringContaining('not compared: the ACME directory did not answer'),
      });
      expect(caa.find((l) => l.message.startsWith('pebble: '))).toMatchObject({
        status: 'warn',
        message: expect.stringContaining('publishes no caaIdentities'),
      });
      // A certificate limited to one issuer is compared with that one only.
      expect(lines(report, 'dns.caa', 'pinned')).toEqual([
        { name: 'dns.caa', status: 'pass', cert: 'pinned', message: 'allowed: caa.example.test: CAA at caa.example.test allows allowed-ca.test' },
      ]);
      // No CAA records: one line, whoever the CAs are.
      expect(lines(report, 'dns.caa', 'www')).toEqual([
        { name: 'dns.caa', status: 'pass', cert: 'www', message: 'www.example.test: no CAA records: any CA may issue' },
      ]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
