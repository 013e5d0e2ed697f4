// runCommand, the one way certkeeper runs operator hooks: what reaches the hook's environment
// (a minimal one unless inheritEnv says more) and what of its output reaches an error (the last
// 2 KB, once, with every registered secret redacted).

import { afterEach, describe, expect, it } from 'vitest';
import { isCertkeeperError, describeError, type CertkeeperError } from '../../src/core/errors.js';
import { runCommand, HOOK_OUTPUT_LIMIT } from '../../src/core/exec.js';
import { REDACTED, registerSecrets } from '../../src/core/redaction.js';

const TSIG = 'dGhpcy1pcy1hLXRzaWctc2VjcmV0LWZvci1leGVj';
registerSecrets([TSIG]);

const run = (script: string, env: Record<string, string> = {}, extra: { inheritEnv?: boolean | string[] } = {}) =>
  runCommand([process.execPath, '-e', script], { env, timeoutMs: 10_000, label: 'sink "reload"', ...extra });

const failure = async (promise: Promise<unknown>): Promise<CertkeeperError> => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isCertkeeperError(error)) throw new Error(`expected a CertkeeperError, got ${String(error)}`);
  return error;
};

describe('hook output in errors', () => {
  it('redacts registered secrets from the output and keeps it once (message only, not details)', async () => {
    const error = await failure(run(`console.error('auth failed with key ${TSIG}'); process.exit(3)`));
    expect(error.code).toBe('HOOK_FAILED');
    expect(error.message).toBe(`sink "reload": ${process.execPath} exited with status 3: auth failed with key ${REDACTED}`);
    expect(JSON.stringify(error.details)).not.toContain('auth failed');
    expect(error.details).toEqual({ exitCode: 3 });
    expect(describeError(error)).toBe(error.message);
  });

  it('keeps only the last 2 KB of a long output, redacting before it cuts so no piece of a secret survives', async () => {
    expect(HOOK_OUTPUT_LIMIT).toBe(2048);
    // The secret straddles the 2 KB boundary: a cut before redaction would leave its tail.
    const script = `process.stderr.write('first line\\n' + 'x'.repeat(100000) + '${TSIG}' + 'y'.repeat(${2048 - 20}) + '\\nlast line'); process.exit(1)`;
    const error = await failure(run(script));
    expect(error.message).toContain('last line');
    expect(error.message).not.toContain('first line');
    expect(error.message).not.toContain(TSIG.slice(-12));
    expect(error.message.length).toBeLessThan(2048 + 200);
  });

  it('puts the output in a timeout message once, redacted', async () => {
    const error = await failure(
      runCommand([process.execPath, '-e', `console.error('stuck on ${TSIG}'); setTimeout(() => {}, 10000)`], {
        env: {},
        timeoutMs: 5_000,
        label: 'sink "reload"',
      }),
    );
    expect(error.code).toBe('HOOK_TIMEOUT');
    expect(error.message).toContain(`stuck on ${REDACTED}`);
    expect(error.message).not.toContain(TSIG);
    expect(JSON.stringify(error.details ?? {})).not.toContain('stuck on');
  });
});

describe('hook environment', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });
  const printEnv = `process.stdout.write(JSON.stringify(process.env))`;
  const envOf = async (env: Record<string, string>, extra: { inheritEnv?: boolean | string[] } = {}) =>
    JSON.parse((await run(printEnv, env, extra)).stdout) as Record<string, string>;

  it("is PATH, HOME, LANG, TZ, the CERTKEEPER_* variables and the hook's env, not certkeeper's whole environment", async () => {
    // certkeeper's own settings (CERTKEEPER_LOG_LEVEL here) are not the hook contract's variables: not passed either.
    Object.assign(process.env, {
      CERTKEEPER_LOG_LEVEL: 'trace',
      PATH: '/usr/bin:/bin',
      HOME: '/root',
      LANG: 'C.UTF-8',
      TZ: 'UTC',
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      TSIG_SECRET: TSIG,
      SLACK_WEBHOOK_URL: 'https://hooks.slack.example/T0/B0/x',
    });
    const seen = await envOf({ CERTKEEPER_CERT_NAME: 'www', EXTRA: 'from-config' });
    expect(seen).toEqual({ PATH: '/usr/bin:/bin', HOME: '/root', LANG: 'C.UTF-8', TZ: 'UTC', CERTKEEPER_CERT_NAME: 'www', EXTRA: 'from-config' });
  });

  it('leaves out the minimal variables certkeeper itself does not have', async () => {
    delete process.env.LANG;
    delete process.env.TZ;
    const seen = await envOf({});
    expect(Object.keys(seen).sort()).toEqual(['HOME', 'PATH'].filter((k) => process.env[k] !== undefined));
  });

  it("inheritEnv: true passes certkeeper's whole environment; the hook's env still wins", async () => {
    process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    process.env.EXTRA = 'from-process';
    const seen = await envOf({ EXTRA: 'from-config' }, { inheritEnv: true });
    expect(seen.AWS_SECRET_ACCESS_KEY).toBe('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
    expect(seen.EXTRA).toBe('from-config');
  });

  it('inheritEnv: [NAME] passes just those variables besides the minimal ones', async () => {
    Object.assign(process.env, { AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', AWS_REGION: 'eu-west-1', LANG: 'C.UTF-8' });
    delete process.env.TZ;
    const seen = await envOf({}, { inheritEnv: ['AWS_REGION', 'NOT_SET_ANYWHERE'] });
    expect(seen.AWS_REGION).toBe('eu-west-1');
    expect(seen.AWS_SECRET_ACCESS_KEY).toBeUndefined();
    expect(Object.keys(seen).sort()).toEqual(['AWS_REGION', 'HOME', 'LANG', 'PATH'].filter((k) => process.env[k] !== undefined));
  });
});
