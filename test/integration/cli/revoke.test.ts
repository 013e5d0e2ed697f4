// Incident tools against real Pebbles and BIND: `revoke --reissue` (Pebble's management interface
// confirms the revocation) and `renew --dry-run` routed to a staging twin (a second Pebble).

import { spawn } from 'node:child_process';
import https from 'node:https';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyMatchesCertificate, parseCertificate } from '../../../src/core/x509.js';
import { startPebble, type PebbleInstance } from '../../../src/devstack/pebble.js';
import { freePort } from '../../../src/devstack/ports.js';
import { startStack, type Stack } from '../../../src/devstack/stack.js';
import { CLI, history, runCli, workDir, writeConfig } from '../../helpers/cli.js';

let stack: Stack;
let staging: PebbleInstance;

beforeAll(async () => {
  stack = await startStack();
  staging = await startPebble({ dnsServer: stack.bind.address });
});
afterAll(async () => {
  await staging?.stop();
  await stack?.stop();
});

/** Pebble's view of a serial: `{ Status: "Valid" | "Revoked", ... }`, or undefined when it never issued it. */
function certStatus(pebble: PebbleInstance, serialHex: string): Promise<{ Status?: string; Reason?: number } | undefined> {
  const serial = serialHex.toLowerCase().replace(/^0+/, '');
  return new Promise((resolve, reject) => {
    https
      .get(`${pebble.managementUrl}/cert-status-by-serial/${serial}`, { ca: pebble.caBundlePem }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve(response.statusCode === 200 ? (JSON.parse(body) as { Status?: string }) : undefined));
      })
      .on('error', reject);
  });
}

describe('certkeeper revoke', () => {
  it('refuses without a terminal and without --yes', async () => {
    const dir = workDir(stack, 'ck-revoke-');
    const config = writeConfig(dir, stack, { certificates: `  - { name: www, domains: [www.example.test], dns: bind }` });
    const result = await runCli(['--config', config, 'revoke', 'www', '--reason', 'keyCompromise']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pass --yes');
    const badReason = await runCli(['--config', config, 'revoke', 'www', '--reason', 'whoops', '--yes']);
    expect(badReason.code).toBe(2);
  });

  it('revokes the current certificate, quarantines its key, reissues with a fresh key and deploys it', async () => {
    const dir = workDir(stack, 'ck-revoke-');
    const config = writeConfig(dir, stack, { certificates: `  - { name: www, domains: [revoke.example.test], dns: bind, sinks: [files] }` });
    expect((await runCli(['--config', config, 'renew'])).code).toBe(0);
    const out = path.join(dir, 'out/www');
    const oldCert = readFileSync(path.join(out, 'cert.pem'), 'utf8');
    const oldKey = readFileSync(path.join(out, 'privkey.pem'), 'utf8');
    const oldSerial = parseCertificate(oldCert).serial;
    expect(await certStatus(stack.pebble, oldSerial)).toMatchObject({ Status: 'Valid' });

    const result = await runCli(['--config', config, 'revoke', 'www', '--reason', 'keyCompromise', '--reissue', '--yes', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as {
      revoked: boolean;
      serial: string;
      quarantinedTo: string;
      reissue: { succeeded: number; outcomes: { serial: string; deployed: string[] }[] };
    };
    expect(report).toMatchObject({ revoked: true, serial: oldSerial, reissue: { succeeded: 1 } });

    // The CA has it revoked, with the reason given.
    expect(await certStatus(stack.pebble, oldSerial)).toMatchObject({ Status: 'Revoked', Reason: 1 });
    // The old key is out of the live path, kept aside under revoked/<serial>/.
    expect(report.quarantinedTo).toBe(path.join(dir, 'state/store/certs/www/revoked', oldSerial));
    expect((JSON.parse(readFileSync(report.quarantinedTo, 'utf8')) as { keyPem: string }).keyPem).toBe(oldKey);
    // A new certificate with a new key is stored and deployed.
    const newCert = readFileSync(path.join(out, 'cert.pem'), 'utf8');
    const newKey = readFileSync(path.join(out, 'privkey.pem'), 'utf8');
    const newSerial = parseCertificate(newCert).serial;
    expect(newSerial).not.toBe(oldSerial);
    expect(newKey).not.toBe(oldKey);
    expect(keyMatchesCertificate(newCert, newKey)).toBe(true);
    expect(report.reissue.outcomes[0]).toMatchObject({ serial: newSerial, deployed: ['files'] });
    expect(readFileSync(path.join(dir, 'state/live/www/cert.pem'), 'utf8')).toBe(newCert);

    // History has both steps.
    const lines = await history(config, 'www');
    expect(lines.find((l) => l.action === 'revoke')).toMatchObject({ result: 'success', serial: oldSerial });
    expect(lines.find((l) => l.action === 'issue' && l.serial === newSerial)).toMatchObject({ result: 'success' });
    expect(lines.find((l) => l.action === 'deploy' && l.serial === newSerial)).toMatchObject({ result: 'success' });
  });

  it('without --reissue leaves no current certificate; a second revoke finds nothing and exits 1', async () => {
    const dir = workDir(stack, 'ck-revoke-');
    const config = writeConfig(dir, stack, { certificates: `  - { name: api, domains: [revoke-api.example.test], dns: bind }` });
    expect((await runCli(['--config', config, 'renew'])).code).toBe(0);
    const serial = (JSON.parse((await runCli(['--config', config, 'status', '--json'])).stdout) as { serial: string }[])[0]!.serial;
    const result = await runCli(['--config', config, 'revoke', 'api', '--yes']);
    expect(result.code, result.stderr).toBe(0);
    expect(existsSync(path.join(dir, 'state/store/certs/api/current'))).toBe(false);
    expect(existsSync(path.join(dir, 'state/live/api'))).toBe(false);
    expect(await certStatus(stack.pebble, serial)).toMatchObject({ Status: 'Revoked' });
    const status = JSON.parse((await runCli(['--config', config, 'status', '--json'])).stdout) as { state: string }[];
    expect(status[0]).toMatchObject({ state: 'missing' });
    // Nothing left to revoke.
    const again = await runCli(['--config', config, 'revoke', 'api', '--yes']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no current certificate');
  });
});

/** Runs the CLI under a pseudo-terminal (util-linux `script`), as from an operator's shell; stdout and stderr both land in the output. */
function runOnTerminal(args: string[]): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, CLI, ...args].map((part) => `'${part.replaceAll("'", "'\\''")}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', COLUMNS: '160', TERM: 'xterm' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** A progress row as ProgressView draws it: mark, certificate, elapsed time, step. */
const progressRow = (cert: string, step: string): RegExp => new RegExp(`^\\S ${cert}\\s+\\S+\\s+${step}`, 'm');

describe('certkeeper revoke with issuers:', () => {
  it("revokes through the CA that issued the certificate, with that issuer's account and CA bundle", async () => {
    const dir = workDir(stack, 'ck-revoke-issuers-');
    const closed = await freePort();
    const config = writeConfig(dir, stack, {
      certificates: `  - { name: second, domains: [revoke-second.example.test], dns: bind, sinks: [files], issuers: [pebble] }`,
    });
    // The first issuer is another CA (no CA bundle, another account email); the certificate uses only the second.
    writeFileSync(
      config,
      readFileSync(config, 'utf8').replace(
        /^acme:\n(?: {2}.*\n)+/m,
        `issuers:
  - name: other
    directory: https://127.0.0.1:${closed}/dir
    email: other@example.test
  - name: pebble
    directory: ${stack.pebble.directoryUrl}
    email: ops@example.test
    caBundle: ./pebble-ca.pem
`,
      ),
    );
    expect((await runCli(['--config', config, 'renew'])).code).toBe(0);
    const serial = parseCertificate(readFileSync(path.join(dir, 'out/second/cert.pem'), 'utf8')).serial;
    const result = await runCli(['--config', config, 'revoke', 'second', '--yes', '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ revoked: true, directoryUrl: stack.pebble.directoryUrl });
    expect(await certStatus(stack.pebble, serial)).toMatchObject({ Status: 'Revoked' });
  });
});

describe('certkeeper revoke --reissue progress', () => {
  it('shows each step live on a terminal, and draws nothing of it without one', async () => {
    const dir = workDir(stack, 'ck-revoke-tty-');
    const config = writeConfig(dir, stack, {
      certificates: `  - { name: tty, domains: [revoke-tty.example.test], dns: bind, sinks: [files] }
  - { name: pipe, domains: [revoke-pipe.example.test], dns: bind, sinks: [files] }`,
    });
    expect((await runCli(['--config', config, 'renew'])).code).toBe(0);
    const serialOf = (cert: string): string => parseCertificate(readFileSync(path.join(dir, 'out', cert, 'cert.pem'), 'utf8')).serial;
    const oldSerial = serialOf('tty');

    const { code, output } = await runOnTerminal(['--config', config, 'revoke', 'tty', '--reason', 'keyCompromise', '--reissue', '--yes']);
    expect(code, output).toBe(0);
    // Rows are redrawn in place: each starts after "up one line, clear below" escapes.
    const raw = output.replace(/\r/g, '');
    const text = raw.replace(/\x1b\[\d*[AJ]/g, '');
    // The revocation steps, as plain lines (no log records on a terminal).
    expect(text).toContain(`revoking tty (serial ${oldSerial}, reason keyCompromise) at ${stack.pebble.directoryUrl}`);
    expect(text).toContain(`revoked; certificate and key moved to ${path.join(dir, 'state/store/certs/tty/revoked', oldSerial)}`);
    expect(text).toContain('reissuing tty with a fresh key');
    // Then the live rows of the reissue, redrawn in place, step by step, in order.
    expect(text).toMatch(progressRow('tty', 'ordering'));
    expect(text).toMatch(progressRow('tty', 'finalizing'));
    expect(text).toMatch(progressRow('tty', 'deploying'));
    const at = (pattern: RegExp): number => text.search(pattern);
    expect(at(/^revoking tty/m)).toBeLessThan(at(progressRow('tty', 'ordering')));
    expect(at(progressRow('tty', 'ordering'))).toBeLessThan(at(progressRow('tty', 'deploying')));
    expect(raw).toContain('\x1b[1A\x1b[0J'); // the redraw: up one line, clear below
    const newSerial = serialOf('tty');
    expect(newSerial).not.toBe(oldSerial);
    expect(text).toMatch(new RegExp(`^✔ tty\\s+\\S+\\s+issued ${newSerial}, deployed to files$`, 'm'));
    expect(text).toContain(`tty: serial ${oldSerial} revoked (keyCompromise); reissued as ${newSerial}, deployed to files`);

    // The same command through pipes: the work is done and logged, but no progress view is drawn.
    const pipeSerial = serialOf('pipe');
    const piped = await runCli(['--config', config, 'revoke', 'pipe', '--reissue', '--yes']);
    expect(piped.code, piped.stderr).toBe(0);
    const all = piped.stdout + piped.stderr;
    expect(serialOf('pipe')).not.toBe(pipeSerial);
    expect(all).not.toContain('\x1b[');
    expect(all).not.toMatch(progressRow('pipe', '(ordering|propagated|deploying)'));
    expect(all).not.toMatch(/^✔ /m);
    // What happened is in the log records instead.
    expect(all).toContain(`revoking pipe (serial ${pipeSerial}`);
    expect(all).toContain('reissuing pipe with a fresh key');
  });
});

describe('renew --dry-run and the staging twin', () => {
  it('goes to acme.stagingDirectory and says so; production is untouched', async () => {
    const dir = workDir(stack, 'ck-staging-');
    // Trust both Pebbles' HTTPS identities.
    writeFileSync(path.join(dir, 'pebble-ca.pem'), stack.pebble.caBundlePem + staging.caBundlePem);
    const config = writeConfig(dir, stack, {
      acmeExtra: `  stagingDirectory: ${staging.directoryUrl}`,
      certificates: `  - { name: www, domains: [staging.example.test], dns: bind }`,
    });
    const result = await runCli(['--config', config, 'renew', '--dry-run', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { directoryUrl: string; outcomes: { serial: string; message: string }[] };
    expect(report.directoryUrl).toBe(staging.directoryUrl);
    const serial = report.outcomes[0]!.serial;
    expect(report.outcomes[0]!.message).toContain(staging.directoryUrl);
    expect(await certStatus(staging, serial)).toMatchObject({ Status: 'Valid' });
    expect(await certStatus(stack.pebble, serial)).toBeUndefined();
    // The log line without --json names the directory too.
    const logged = await runCli(['--config', config, 'renew', '--dry-run']);
    expect(logged.stderr).toContain(`dry run against ${staging.directoryUrl}`);
    // A real renewal still goes to production.
    const real = await runCli(['--config', config, 'renew', '--json']);
    const realSerial = (JSON.parse(real.stdout) as { outcomes: { serial: string }[] }).outcomes[0]!.serial;
    expect(await certStatus(stack.pebble, realSerial)).toMatchObject({ Status: 'Valid' });
  });
});
