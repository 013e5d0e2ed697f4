// The core agent end to end: the compiled CLI against a real Pebble (EAB required) and a real
// BIND taking TSIG updates, both on free loopback ports.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBind, type BindServer } from '../../../src/devstack/bind.js';
import { randomEabHmacKey } from '../../../src/devstack/pebble.js';
import { startStack, type Stack } from '../../../src/devstack/stack.js';
import { keyMatchesCertificate, parseCertificate } from '../../../src/core/x509.js';
import { CLI, history, orders, REPO, runCli, txtAt, workDir, writeConfig } from '../../helpers/cli.js';

const EAB = { kid: 'certkeeper-test-kid', hmacKey: randomEabHmacKey() };
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ pebble: { eab: EAB } });
});
afterAll(async () => {
  await stack?.stop();
});

const acmeEab = `  eab: { kid: ${EAB.kid}, hmacKey: \${EAB_HMAC_KEY} }`;
const env = { EAB_HMAC_KEY: EAB.hmacKey };

function envHook(dir: string): string {
  const file = path.join(dir, 'env-hook.mjs');
  writeFileSync(
    file,
    `import { appendFileSync } from 'node:fs';
const picked = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('CERTKEEPER_') || k === 'EXTRA'));
appendFileSync(process.argv[2], JSON.stringify(picked) + '\\n');
if (process.env.FAIL_MARKER && (await import('node:fs')).existsSync(process.env.FAIL_MARKER)) { console.error('reload failed on purpose'); process.exit(3); }
`,
  );
  return file;
}

function readJsonLines(file: string): Record<string, string>[] {
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, string>)
    : [];
}

describe('certkeeper renew against Pebble and BIND', () => {
  it('issues an apex + wildcard certificate and a second one, deploys them, and orders nothing when not due', async () => {
    const dir = workDir(stack);
    envHook(dir);
    const config = writeConfig(dir, stack, {
      acmeExtra: acmeEab,
      sinks: `  reload:\n    type: exec\n    command: [${JSON.stringify(process.execPath)}, ./env-hook.mjs, ./sink-env.jsonl]\n    env: { EXTRA: "from-config" }`,
      certificates: `  - { name: www, domains: [multi.example.test, "*.multi.example.test", other.example.test], dns: bind, sinks: [files, reload] }
  - { name: api, domains: [api.example.test], dns: bind, keyType: rsa-2048, sinks: [files] }`,
    });
    const first = await runCli(['--config', config, 'renew'], { env });
    expect(first.stderr).toContain('"msg":"2 succeeded, 0 failed, 0 not due"');
    expect(first.code).toBe(0);

    const out = path.join(dir, 'out/www');
    expect(statSync(out, { throwIfNoEntry: false })).toBeDefined();
    const certPem = readFileSync(path.join(out, 'cert.pem'), 'utf8');
    const info = parseCertificate(certPem);
    expect(info.domains.sort()).toEqual(['*.multi.example.test', 'multi.example.test', 'other.example.test']);
    expect(info.keyType).toBe('ecdsa-p256');
    expect(keyMatchesCertificate(certPem, readFileSync(path.join(out, 'privkey.pem'), 'utf8'))).toBe(true);
    expect(readFileSync(path.join(out, 'fullchain.pem'), 'utf8')).toBe(certPem + readFileSync(path.join(out, 'chain.pem'), 'utf8'));
    expect(statSync(path.join(out, 'privkey.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, 'state')).mode & 0o777).toBe(0o700);
    expect(parseCertificate(readFileSync(path.join(dir, 'out/api/cert.pem'), 'utf8')).keyType).toBe('rsa-2048');
    // The TXT records are gone again.
    expect(await txtAt(stack.bind.address, '_acme-challenge.multi.example.test')).toEqual([]);

    // The exec sink ran once, with the data in its environment and the files sink's paths.
    const [hookEnv, ...more] = readJsonLines(path.join(dir, 'sink-env.jsonl'));
    expect(more).toHaveLength(0);
    expect(hookEnv).toEqual({
      CERTKEEPER_CERT_NAME: 'www',
      CERTKEEPER_DOMAINS: 'multi.example.test *.multi.example.test other.example.test',
      CERTKEEPER_SERIAL: info.serial,
      CERTKEEPER_NOT_AFTER: info.notAfter.toISOString(),
      CERTKEEPER_CERT_PATH: path.join(out, 'cert.pem'),
      CERTKEEPER_CHAIN_PATH: path.join(out, 'chain.pem'),
      CERTKEEPER_FULLCHAIN_PATH: path.join(out, 'fullchain.pem'),
      CERTKEEPER_KEY_PATH: path.join(out, 'privkey.pem'),
      EXTRA: 'from-config',
    });

    // status --json reports both as valid with the contract's fields.
    const status = await runCli(['--config', config, 'status', '--json'], { env });
    expect(status.code).toBe(0);
    const rows = JSON.parse(status.stdout) as Record<string, unknown>[];
    expect(rows.map((r) => [r.name, r.state, r.serial])).toEqual([
      ['www', 'valid', info.serial],
      ['api', 'valid', expect.any(String)],
    ]);
    for (const key of ['name', 'domains', 'serial', 'notBefore', 'notAfter', 'renewAt', 'state', 'lastResult']) expect(rows[0]).toHaveProperty(key);
    expect(rows[0]!.lastResult).toMatchObject({ action: 'issue', result: 'success' });

    // A second run: nothing due, no order, no deploy, exit 0.
    const second = await runCli(['--config', config, 'renew', '--json'], { env });
    expect(second.code).toBe(0);
    const report = JSON.parse(second.stdout) as { outcomes: { cert: string; action: string; result: string }[]; skipped: number };
    expect(report.skipped).toBe(2);
    expect(report.outcomes.map((o) => [o.cert, o.action, o.result])).toEqual([
      ['www', 'skip', 'skipped'],
      ['api', 'skip', 'skipped'],
    ]);
    expect(orders(await history(config, undefined, env))).toHaveLength(2);
    expect(readJsonLines(path.join(dir, 'sink-env.jsonl'))).toHaveLength(1);
  });

  it('--force renews every certificate, --cert only the named one; the account is created once', async () => {
    const dir = workDir(stack);
    const config = writeConfig(dir, stack, {
      acmeExtra: acmeEab,
      certificates: `  - { name: one, domains: [one.example.test], dns: bind, sinks: [files] }
  - { name: two, domains: [two.example.test], dns: bind, sinks: [files] }`,
    });
    expect((await runCli(['--config', config, 'renew'], { env })).code).toBe(0);
    const serialOne = parseCertificate(readFileSync(path.join(dir, 'out/one/cert.pem'), 'utf8')).serial;
    expect((await runCli(['--config', config, 'renew', '--force', '--cert', 'two'], { env })).code).toBe(0);
    expect(parseCertificate(readFileSync(path.join(dir, 'out/one/cert.pem'), 'utf8')).serial).toBe(serialOne);
    // Every certificate at once asks first (issue 18): without a terminal, only with --yes.
    const unconfirmed = await runCli(['--config', config, 'renew', '--force'], { env });
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain('refusing to force-renew all 2 certificates without confirmation');
    const forced = await runCli(['--config', config, 'renew', '--force', '--yes', '--reason', 'INC-42 key compromise'], { env });
    expect(forced.code).toBe(0);
    // Without a terminal: one JSON summary line.
    expect(JSON.parse(forced.stdout.trim())).toMatchObject({
      summary: 'renew --force',
      certificates: 2,
      succeeded: 2,
      failed: 0,
      reason: 'INC-42 key compromise',
    });
    expect(parseCertificate(readFileSync(path.join(dir, 'out/one/cert.pem'), 'utf8')).serial).not.toBe(serialOne);
    expect((await history(config, 'one', env)).find((l) => l.action === 'renew')).toMatchObject({ note: 'INC-42 key compromise' });
    const lines = orders(await history(config, undefined, env));
    expect(lines.map((l) => `${l.cert}:${l.action}`).sort()).toEqual(['one:issue', 'one:renew', 'two:issue', 'two:renew', 'two:renew']);
    expect(readdirSync(path.join(dir, 'state/store/accounts'))).toHaveLength(1);
    // The previous version of the deployed files is kept beside the live folder for rollback.
    expect(readdirSync(path.join(dir, 'out/.one.versions'))).toHaveLength(2);
    // An unknown certificate name is a usage error.
    const unknown = await runCli(['--config', config, 'renew', '--cert', 'three'], { env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown certificate: three');
  });

  it('--dry-run does the ACME and DNS path but writes no sink and stores no certificate', async () => {
    const dir = workDir(stack);
    const config = writeConfig(dir, stack, {
      acmeExtra: acmeEab,
      certificates: `  - { name: rehearse, domains: [rehearse.example.test, "*.rehearse.example.test"], dns: bind, sinks: [files] }`,
    });
    const result = await runCli(['--config', config, 'renew', '--dry-run', '--json'], { env });
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { dryRun: boolean; directoryUrl: string; outcomes: { action: string; result: string; serial: string }[] };
    expect(report).toMatchObject({ dryRun: true, directoryUrl: stack.pebble.directoryUrl });
    expect(report.outcomes[0]).toMatchObject({ action: 'dry-run', result: 'success', serial: expect.stringMatching(/^[0-9A-F]+$/) });
    expect(existsSync(path.join(dir, 'out'))).toBe(false);
    expect(existsSync(path.join(dir, 'state/store/certs/rehearse/current'))).toBe(false);
    expect(await txtAt(stack.bind.address, '_acme-challenge.rehearse.example.test')).toEqual([]);
    const status = JSON.parse((await runCli(['--config', config, 'status', '--json'], { env })).stdout) as { state: string }[];
    expect(status[0]!.state).toBe('missing');
  });

  it('drives an exec DNS hook with its environment', async () => {
    const dir = workDir(stack);
    const hook = path.join(dir, 'dns-hook.mjs');
    // A real hook: it records its environment, then updates BIND through certkeeper's own rfc2136 code.
    writeFileSync(
      hook,
      `import { appendFileSync } from 'node:fs';
import { createRfc2136Provider } from ${JSON.stringify(path.join(REPO, 'dist/dns/providers/rfc2136/index.js'))};
import { systemClock } from ${JSON.stringify(path.join(REPO, 'dist/core/clock.js'))};
import { silentLogger } from ${JSON.stringify(path.join(REPO, 'dist/core/logger.js'))};
const e = process.env;
appendFileSync('./dns-env.jsonl', JSON.stringify(Object.fromEntries(Object.entries(e).filter(([k]) => k.startsWith('CERTKEEPER_')))) + '\\n');
const provider = createRfc2136Provider({ type: 'rfc2136', server: e.BIND, tsigKeyName: e.TSIG_NAME, tsigAlgorithm: 'hmac-sha256', tsigSecret: e.TSIG_SECRET, ttl: 60, timeout: 5000 },
  { name: 'hook', clock: systemClock, logger: silentLogger });
const record = { fqdn: e.CERTKEEPER_FQDN, value: e.CERTKEEPER_VALUE, domain: e.CERTKEEPER_DOMAIN };
if (e.CERTKEEPER_ACTION === 'present') await provider.presentTxt(record); else await provider.cleanupTxt(record);
`,
    );
    const config = writeConfig(dir, stack, {
      acmeExtra: acmeEab,
      dns: `  hook:
    type: exec
    command: [${JSON.stringify(process.execPath)}, ./dns-hook.mjs]
    env: { BIND: "${stack.bind.address}", TSIG_NAME: "${stack.bind.tsig.keyName}", TSIG_SECRET: "\${TSIG_SECRET}" }
    propagation: { nameservers: ["${stack.bind.address}"], timeout: 20s, interval: 200ms }`,
      certificates: `  - { name: hooked, domains: [hooked.example.test, "*.hooked.example.test"], dns: hook, sinks: [files] }`,
    });
    const result = await runCli(['--config', config, 'renew'], { env: { ...env, TSIG_SECRET: stack.bind.tsig.secret } });
    expect(result.code).toBe(0);
    const calls = readJsonLines(path.join(dir, 'dns-env.jsonl'));
    expect(calls.map((c) => c.CERTKEEPER_ACTION).sort()).toEqual(['cleanup', 'cleanup', 'present', 'present']);
    for (const call of calls) {
      expect(call).toMatchObject({
        CERTKEEPER_DOMAIN: 'hooked.example.test',
        CERTKEEPER_FQDN: '_acme-challenge.hooked.example.test',
        CERTKEEPER_VALUE: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      });
    }
    // Two different values (apex and wildcard), each presented once and cleaned up once.
    const presented = calls
      .filter((c) => c.CERTKEEPER_ACTION === 'present')
      .map((c) => c.CERTKEEPER_VALUE)
      .sort();
    const cleaned = calls
      .filter((c) => c.CERTKEEPER_ACTION === 'cleanup')
      .map((c) => c.CERTKEEPER_VALUE)
      .sort();
    expect(new Set(presented).size).toBe(2);
    expect(cleaned).toEqual(presented);
    expect(await txtAt(stack.bind.address, '_acme-challenge.hooked.example.test')).toEqual([]);
  });

  it('retries a failed deploy on the next run without ordering a new certificate', async () => {
    const dir = workDir(stack);
    envHook(dir);
    const marker = path.join(dir, 'fail-reload');
    writeFileSync(marker, '');
    const config = writeConfig(dir, stack, {
      acmeExtra: acmeEab,
      sinks: `  reload:\n    type: exec\n    command: [${JSON.stringify(process.execPath)}, ./env-hook.mjs, ./sink-env.jsonl]\n    env: { FAIL_MARKER: ${JSON.stringify(marker)} }`,
      certificates: `  - { name: flaky, domains: [flaky.example.test], dns: bind, sinks: [files, reload] }`,
    });
    const first = await runCli(['--config', config, 'renew'], { env });
    expect(first.code).toBe(1);
    expect(first.stderr).toContain('reload failed on purpose');
    const status = JSON.parse((await runCli(['--config', config, 'status', '--json'], { env })).stdout) as {
      state: string;
      pendingSinks: string[];
      serial: string;
    }[];
    expect(status[0]).toMatchObject({ state: 'failing', pendingSinks: ['reload'] });

    // Fixed: the next run deploys the same certificate to the failed sink only.
    const { rmSync } = await import('node:fs');
    rmSync(marker);
    const second = await runCli(['--config', config, 'renew', '--json'], { env });
    expect(second.code).toBe(0);
    const report = JSON.parse(second.stdout) as { outcomes: { action: string; deployed: string[]; serial: string }[] };
    expect(report.outcomes[0]).toMatchObject({ action: 'deploy', deployed: ['reload'], serial: status[0]!.serial });
    const lines = await history(config, 'flaky', env);
    expect(orders(lines)).toHaveLength(1);
    expect(lines.filter((l) => l.action === 'deploy').map((l) => `${l.sink}:${l.result}`)).toEqual(['reload:success', 'reload:failure', 'files:success']);
    const calls = readJsonLines(path.join(dir, 'sink-env.jsonl'));
    expect(calls.map((c) => c.CERTKEEPER_SERIAL)).toEqual([status[0]!.serial, status[0]!.serial]);
    expect(calls[1]!.CERTKEEPER_KEY_PATH).toBe(path.join(dir, 'out/flaky/privkey.pem'));
  });

  it('cleans up its TXT records when the CA cannot validate', async () => {
    // certkeeper writes to a second BIND (and checks propagation there) while Pebble asks the
    // stack's BIND, which never sees the value: validation fails for real.
    const elsewhere: BindServer = await startBind({ zones: [{ name: 'example.test' }] });
    try {
      const dir = workDir(stack);
      writeFileSync(path.join(dir, 'other.secret'), elsewhere.tsig.secret);
      const config = writeConfig(dir, stack, {
        acmeExtra: acmeEab,
        dns: `  elsewhere:
    type: rfc2136
    server: ${elsewhere.address}
    tsigKeyName: ${elsewhere.tsig.keyName}
    tsigSecretFile: ./other.secret
    propagation: { nameservers: ["${elsewhere.address}"], timeout: 20s, interval: 200ms }`,
        certificates: `  - { name: invalid, domains: [invalid.example.test, "*.invalid.example.test"], dns: elsewhere, sinks: [files] }`,
      });
      const result = await runCli(['--config', config, 'renew'], { env });
      expect(result.code).toBe(1);
      const [last] = await history(config, 'invalid', env);
      expect(last).toMatchObject({ action: 'issue', result: 'failure', code: 'VALIDATION_FAILED' });
      expect(await txtAt(elsewhere.address, '_acme-challenge.invalid.example.test')).toEqual([]);
      expect(existsSync(path.join(dir, 'out'))).toBe(false);
      const status = JSON.parse((await runCli(['--config', config, 'status', '--json'], { env })).stdout) as { state: string }[];
      expect(status[0]!.state).toBe('failing');
    } finally {
      await elsewhere.stop();
    }
  });

  it('two concurrent renew processes produce one order', async () => {
    const dir = workDir(stack);
    const config = writeConfig(dir, stack, {
      acmeExtra: acmeEab,
      certificates: `  - { name: race, domains: [race.example.test], dns: bind, sinks: [files] }`,
    });
    const [a, b] = await Promise.all([runCli(['--config', config, 'renew'], { env }), runCli(['--config', config, 'renew'], { env })]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(orders(await history(config, undefined, env))).toHaveLength(1);
    // One of them waited for the other's lock on the certificate, then found nothing due.
    expect(a.stderr + b.stderr).toContain('another agent holds this certificate; waiting');
    // The other then had nothing to do, and said no more (a run with nothing due is silent).
    expect((a.stderr + b.stderr).match(/"msg":"\d+ succeeded[^"]*"/g)).toEqual(['"msg":"1 succeeded, 0 failed, 0 not due"']);
    expect(existsSync(path.join(dir, 'state/store/locks/cert/race'))).toBe(false);
  });

  it('never logs keys or secrets, even at trace level', async () => {
    const dir = workDir(stack);
    const config = writeConfig(dir, stack, {
      acmeExtra: acmeEab,
      certificates: `  - { name: quiet, domains: [quiet.example.test, "*.quiet.example.test"], dns: bind, sinks: [files] }`,
    });
    const result = await runCli(['--config', config, '--log-level', 'trace', 'renew'], { env });
    expect(result.code).toBe(0);
    const output = result.stdout + result.stderr;
    expect(output.split('\n').length).toBeGreaterThan(10);
    const privateKey = readFileSync(path.join(dir, 'out/quiet/privkey.pem'), 'utf8');
    const [accountFile] = readdirSync(path.join(dir, 'state/store/accounts'));
    const account = JSON.parse(readFileSync(path.join(dir, 'state/store/accounts', accountFile!), 'utf8')) as { keyPem: string };
    const bodyLines = (pem: string): string[] => pem.split('\n').filter((line) => line.length > 20 && !line.startsWith('-----'));
    for (const secret of [stack.bind.tsig.secret, EAB.hmacKey, ...bodyLines(privateKey), ...bodyLines(account.keyPem)]) {
      expect(output).not.toContain(secret);
    }
    expect(output).not.toContain('PRIVATE KEY');
  });

  it('rejects a bad config with its YAML path, exit 2, and changes nothing', async () => {
    const dir = workDir(stack);
    const config = writeConfig(dir, stack, {
      certificates: `  - { name: bad, domains: [good.example.test, "bad..example.test"], dns: bind, sinks: [files, nginx] }`,
    });
    for (const command of ['validate', 'renew']) {
      const result = await runCli(['--config', config, command], { env });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('certificates[0].domains[1]');
      expect(result.stderr).toContain('certificates[0].sinks[1] (line 24): no sink named "nginx"');
    }
    expect(existsSync(path.join(dir, 'state'))).toBe(false);
    const missingEnv = await runCli(['--config', writeConfig(dir, stack, { acmeExtra: acmeEab, certificates: '  []' }), 'validate']);
    expect(missingEnv.code).toBe(2);
    expect(missingEnv.stderr).toContain('acme.eab.hmacKey (line 6): environment variable EAB_HMAC_KEY is not set');
  });

  it('shows live progress and a summary table on a terminal', async () => {
    const dir = workDir(stack);
    const config = writeConfig(dir, stack, {
      acmeExtra: acmeEab,
      certificates: `  - { name: tty, domains: [tty.example.test], dns: bind, sinks: [files] }`,
    });
    // util-linux `script` gives the CLI a pseudo-terminal, as an operator's shell would.
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        'script',
        ['-qec', `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} --config ${JSON.stringify(config)} renew`, '/dev/null'],
        {
          env: { ...process.env, ...env, COLUMNS: '160', TERM: 'xterm' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`exit ${code}: ${text}`))));
    });
    expect(output).toMatch(/tty\s+\S+\s+ordering/);
    expect(output).toContain('propagated');
    expect(output).toMatch(/CERTIFICATE\s+RESULT\s+ACTION/);
    expect(output).toMatch(/tty\s+success\s+issue/);
    expect(output).toContain('1 succeeded, 0 failed, 0 not due');
  });
});
