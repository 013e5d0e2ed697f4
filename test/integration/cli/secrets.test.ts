// Hostile hook output (issue 14, items 3 and 7), through the compiled CLI against real Pebble and
// BIND: a failing hook that prints every secret it can find. None of them may reach history.jsonl,
// record.json, `status --json`, `history --json`, GET /status, a webhook body, the exec
// notifier's environment or a trace-level log; the hook's own environment holds no certkeeper
// secret it was not given.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomEabHmacKey } from '../../../src/devstack/pebble.js';
import { freePort } from '../../../src/devstack/ports.js';
import { startStack, type Stack } from '../../../src/devstack/stack.js';
import { CLI, runCli, workDir, writeConfig } from '../../helpers/cli.js';

const EAB = { kid: 'certkeeper-secrets-kid', hmacKey: randomEabHmacKey() };
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSECRETKEY';
const WEBHOOK_TOKEN = 'T0SECRET/B0SECRET/webhook-path-token-42';
const HOOK_ENV_VALUE = 'hook-env-api-token-7f3a9c';
let stack: Stack;
const daemons: ChildProcess[] = [];

beforeAll(async () => {
  stack = await startStack({ pebble: { eab: EAB } });
});
afterEach(() => {
  for (const child of daemons.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});
afterAll(async () => {
  await stack?.stop();
});

const env = { EAB_HMAC_KEY: EAB.hmacKey, WEBHOOK_TOKEN, AWS_SECRET_ACCESS_KEY: AWS_SECRET, AWS_REGION: 'eu-west-1' };
const secrets = (): string[] => [stack.bind.tsig.secret, EAB.hmacKey, AWS_SECRET, WEBHOOK_TOKEN, HOOK_ENV_VALUE];

function expectNoSecret(what: string, text: string): void {
  for (const secret of secrets()) expect(text, `${what} holds a secret`).not.toContain(secret);
}

/**
 * A hook that writes its environment to argv[2], then fails printing every secret it can find:
 * the TSIG secret (from the file beside it), its own env value, the webhook URL, the EAB key and
 * an AWS key, after 6 KB of noise that must not be kept.
 */
function hostileHook(dir: string, webhookUrl: string): void {
  writeFileSync(
    path.join(dir, 'hostile.mjs'),
    `import { readFileSync, writeFileSync } from 'node:fs';
writeFileSync(process.argv[2], JSON.stringify(process.env));
const tsig = readFileSync(new URL('./tsig.secret', import.meta.url), 'utf8').trim();
console.log('stdout is not used when there is stderr');
console.error('HEAD-OF-OUTPUT ' + 'n'.repeat(6000));
console.error('tsig=' + tsig + ' env=' + process.env.API_TOKEN + ' url=${webhookUrl} eab=${EAB.hmacKey} aws=${AWS_SECRET}');
console.error('END-OF-OUTPUT');
process.exit(4);
`,
  );
}

const hookCommand = (out: string): string => `[${JSON.stringify(process.execPath)}, ./hostile.mjs, ${out}]`;

describe('secrets in hook output and hook environments', () => {
  it('renew: a failing sink and a failing DNS hook leave no secret in history, record.json, status, history --json or trace logs', async () => {
    const dir = workDir(stack);
    const webhookUrl = `http://127.0.0.1:9/hooks/${WEBHOOK_TOKEN}`;
    hostileHook(dir, webhookUrl);
    const config = writeConfig(dir, stack, {
      acmeExtra: `  eab: { kid: ${EAB.kid}, hmacKey: \${EAB_HMAC_KEY} }`,
      extra: `notify:\n  ops: { type: webhook, url: "http://127.0.0.1:9/hooks/\${WEBHOOK_TOKEN}" }`,
      dns: `  hook:
    type: exec
    command: ${hookCommand('./dns-env.json')}
    env: { API_TOKEN: ${HOOK_ENV_VALUE} }`,
      sinks: `  reload:
    type: exec
    command: ${hookCommand('./sink-env.json')}
    env: { API_TOKEN: ${HOOK_ENV_VALUE} }
  reload-aws:
    type: exec
    command: ${hookCommand('./inherit-env.json')}
    env: { API_TOKEN: ${HOOK_ENV_VALUE} }
    inheritEnv: [AWS_REGION]`,
      certificates: `  - { name: deployfail, domains: [deployfail.example.test], dns: bind, sinks: [files, reload] }
  - { name: dnsfail, domains: [dnsfail.example.test], dns: hook, sinks: [files] }
  - { name: listed, domains: [listed.example.test], dns: bind, sinks: [files, reload-aws] }`,
    });
    const result = await runCli(['--config', config, '--log-level', 'trace', 'renew'], { env });
    expect(result.code).toBe(1);
    expectNoSecret('the trace log', result.stdout + result.stderr);
    expect(result.stderr).toContain('[REDACTED]');

    const historyFile = readFileSync(path.join(dir, 'state/store/logs/history.jsonl'), 'utf8');
    expectNoSecret('history.jsonl', historyFile);
    const failures = historyFile
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse((JSON.parse(line) as { body: string }).body) as { cert: string; action: string; result: string; error: string | null; sink?: string },
      )
      .filter((line) => line.result === 'failure');
    expect(failures.map((line) => `${line.cert}:${line.action}${line.sink ? `:${line.sink}` : ''}`).sort()).toEqual([
      'deployfail:deploy:reload',
      'dnsfail:issue',
      'listed:deploy:reload-aws',
    ]);
    for (const failure of failures) {
      // The hook's output: redacted, its end kept, once.
      expect(failure.error).toContain('tsig=[REDACTED] env=[REDACTED] url=[REDACTED] eab=[REDACTED] aws=[REDACTED]');
      expect(failure.error!.split('END-OF-OUTPUT')).toHaveLength(2);
      expect(failure.error).not.toContain('HEAD-OF-OUTPUT');
      expect(failure.error!.length).toBeLessThan(2048 + 400);
    }
    for (const name of readdirSync(path.join(dir, 'state/store/certs'))) {
      const record = path.join(dir, 'state/store/certs', name, 'record');
      if (existsSync(record)) expectNoSecret(`${name}/record`, readFileSync(record, 'utf8'));
    }
    expect(existsSync(path.join(dir, 'state/store/certs/dnsfail/record'))).toBe(true);

    const status = await runCli(['--config', config, 'status', '--json'], { env });
    expect(status.stdout).toContain('[REDACTED]');
    expectNoSecret('status --json', status.stdout + status.stderr);
    const history = await runCli(['--config', config, 'history', '--json'], { env });
    expect(history.code).toBe(0);
    expectNoSecret('history --json', history.stdout + history.stderr);

    // The hooks saw PATH, HOME, LANG, TZ, CERTKEEPER_* and their env: nothing of certkeeper's own.
    for (const file of ['dns-env.json', 'sink-env.json']) {
      const seen = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Record<string, string>;
      for (const key of Object.keys(seen))
        expect(['PATH', 'HOME', 'LANG', 'TZ', 'API_TOKEN'].includes(key) || key.startsWith('CERTKEEPER_'), `${file}: ${key}`).toBe(true);
      expect(seen.API_TOKEN).toBe(HOOK_ENV_VALUE);
    }
    // inheritEnv: [AWS_REGION] adds that variable and no other.
    const listed = JSON.parse(readFileSync(path.join(dir, 'inherit-env.json'), 'utf8')) as Record<string, string>;
    expect(listed.AWS_REGION).toBe('eu-west-1');
    expect(listed.AWS_SECRET_ACCESS_KEY).toBeUndefined();
    expect(listed.EAB_HMAC_KEY).toBeUndefined();
  });

  it("inheritEnv: true gives a hook certkeeper's environment, AWS_SECRET_ACCESS_KEY included", async () => {
    const dir = workDir(stack);
    hostileHook(dir, 'http://127.0.0.1:9/unused');
    const config = writeConfig(dir, stack, {
      acmeExtra: `  eab: { kid: ${EAB.kid}, hmacKey: \${EAB_HMAC_KEY} }`,
      dns: `  hook:
    type: exec
    command: ${hookCommand('./dns-env.json')}
    inheritEnv: true`,
      certificates: `  - { name: inherits, domains: [inherits.example.test], dns: hook, sinks: [files] }`,
    });
    const result = await runCli(['--config', config, 'renew'], { env });
    expect(result.code).toBe(1);
    const seen = JSON.parse(readFileSync(path.join(dir, 'dns-env.json'), 'utf8')) as Record<string, string>;
    expect(seen.AWS_SECRET_ACCESS_KEY).toBe(AWS_SECRET);
    expectNoSecret('the log', result.stderr);
  });

  it("run: the webhook body, the exec notifier's environment, GET /status and the trace log carry no secret", async () => {
    const bodies: string[] = [];
    const receiver = http.createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        bodies.push(body);
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/${WEBHOOK_TOKEN}`;
    try {
      const dir = workDir(stack);
      const port = await freePort();
      hostileHook(dir, webhookUrl);
      writeFileSync(path.join(dir, 'notify.mjs'), `import { writeFileSync } from 'node:fs';\nwriteFileSync(process.argv[2], JSON.stringify(process.env));\n`);
      const config = writeConfig(dir, stack, {
        acmeExtra: `  eab: { kid: ${EAB.kid}, hmacKey: \${EAB_HMAC_KEY} }`,
        extra: `http: { listen: "127.0.0.1:${port}" }
backoff: [1h]
notify:
  ops: { type: webhook, url: "${webhookUrl.replace(WEBHOOK_TOKEN, '${WEBHOOK_TOKEN}')}", events: [failed] }
  pager: { type: exec, command: [${JSON.stringify(process.execPath)}, ./notify.mjs, ./notify-env.json], events: [failed] }`,
        dns: `  hook:
    type: exec
    command: ${hookCommand('./dns-env.json')}
    env: { API_TOKEN: ${HOOK_ENV_VALUE} }`,
        certificates: `  - { name: alerting, domains: [alerting.example.test], dns: hook, sinks: [files] }`,
      });
      const child = spawn(process.execPath, [CLI, '--config', config, '--log-level', 'trace', 'run'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
      });
      daemons.push(child);
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const notifyEnv = path.join(dir, 'notify-env.json');
      for (let waited = 0; bodies.length === 0 || !existsSync(notifyEnv); waited += 250) {
        if (waited > 30_000) throw new Error(`no alert within 30 s\n${output.slice(-4000)}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }

      const alert = JSON.parse(bodies[0]!) as { type: string; error: string; message: string };
      expect(alert.type).toBe('failed');
      expect(alert.error).toContain('tsig=[REDACTED] env=[REDACTED]');
      expectNoSecret('the webhook body', bodies.join('\n'));

      const seen = JSON.parse(readFileSync(notifyEnv, 'utf8')) as Record<string, string>;
      expect(seen.CERTKEEPER_ERROR).toContain('[REDACTED]');
      expectNoSecret('the exec notifier environment', JSON.stringify(seen));
      for (const key of Object.keys(seen)) expect(['PATH', 'HOME', 'LANG', 'TZ'].includes(key) || key.startsWith('CERTKEEPER_'), key).toBe(true);

      const status = await (await fetch(`http://127.0.0.1:${port}/status`)).text();
      expect(status).toContain('[REDACTED]');
      expectNoSecret('GET /status', status);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expectNoSecret('the daemon log', output);
    } finally {
      receiver.close();
    }
  });
});
