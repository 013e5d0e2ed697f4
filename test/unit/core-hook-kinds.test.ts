// Every kind of hook (exec sink, exec DNS provider, exec notifier) runs with the minimal
// environment and takes `inheritEnv:` from its config; the default is false.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { createExecDnsProvider } from '../../src/dns/providers/exec/index.js';
import { execDnsSchema } from '../../src/dns/providers/exec/schema.js';
import { singleAlert } from '../../src/observe/notify/alert.js';
import { createExecNotifier } from '../../src/observe/notify/exec/index.js';
import { execNotifySchema } from '../../src/observe/notify/exec/schema.js';
import { memorySinkState } from '../../src/sinks/contract.js';
import { createExecSink } from '../../src/sinks/exec/index.js';
import { execSinkSchema } from '../../src/sinks/exec/schema.js';
import { makeCertificate } from '../helpers/certs.js';

const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const dir = mkdtempSync(path.join(tmpdir(), 'ck-hook-kinds-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const saved = { ...process.env };
beforeEach(() => {
  Object.assign(process.env, { AWS_SECRET_ACCESS_KEY: AWS_SECRET, AWS_REGION: 'eu-west-1' });
});
afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
});

let runs = 0;
/** A hook (node, no shell) that writes its environment to a file; returns the file and the command. */
function dumper(): { file: string; command: string[] } {
  const file = path.join(dir, `env-${runs++}.json`);
  return { file, command: [process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(file)}, JSON.stringify(process.env))`] };
}
const seen = (file: string): Record<string, string> => JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;

type Kind = (inheritEnv: unknown) => Promise<Record<string, string>>;

const kinds: Record<string, Kind> = {
  'exec sink': async (inheritEnv) => {
    const { file, command } = dumper();
    const config = execSinkSchema.parse({ type: 'exec', command, env: { EXTRA: 'yes' }, ...(inheritEnv === undefined ? {} : { inheritEnv }) });
    const sink = createExecSink(config, { name: 'reload', clock: systemClock, logger: silentLogger, state: memorySinkState() });
    await sink.deploy({
      certName: 'www',
      domains: ['www.example.test'],
      serial: '0A',
      notAfter: new Date('2026-09-01T00:00:00Z'),
      material: makeCertificate({ domains: ['www.example.test'] }),
      paths: { cert: '/c', chain: '/ch', fullchain: '/f', key: '/k' },
    });
    return seen(file);
  },
  'exec DNS provider': async (inheritEnv) => {
    const { file, command } = dumper();
    const config = execDnsSchema.parse({ type: 'exec', command, env: { EXTRA: 'yes' }, ...(inheritEnv === undefined ? {} : { inheritEnv }) });
    await createExecDnsProvider(config, { name: 'script', clock: systemClock, logger: silentLogger }).presentTxt({
      fqdn: '_acme-challenge.www.example.test',
      domain: 'www.example.test',
      value: 'v',
    });
    return seen(file);
  },
  'exec notifier': async (inheritEnv) => {
    const { file, command } = dumper();
    const config = execNotifySchema.parse({ type: 'exec', command, env: { EXTRA: 'yes' }, ...(inheritEnv === undefined ? {} : { inheritEnv }) });
    await createExecNotifier(config, { name: 'pager', logger: silentLogger }).send(
      singleAlert({
        type: 'failed',
        at: '2026-03-01T00:00:00.000Z',
        cert: 'www',
        domains: ['www.example.test'],
        severity: 'warning',
        message: 'renewal of www failed',
      }),
      new AbortController().signal,
    );
    return seen(file);
  },
};

describe.each(Object.entries(kinds))('%s', (_name, run) => {
  it('sees only PATH, HOME, LANG, TZ, CERTKEEPER_* and its env by default', async () => {
    const env = await run(undefined);
    for (const key of Object.keys(env)) expect(['PATH', 'HOME', 'LANG', 'TZ', 'EXTRA'].includes(key) || key.startsWith('CERTKEEPER_')).toBe(true);
    expect(env.EXTRA).toBe('yes');
    expect(JSON.stringify(env)).not.toContain(AWS_SECRET);
  });

  it("inheritEnv: true passes certkeeper's environment, inheritEnv: [NAME] just that variable", async () => {
    expect((await run(true)).AWS_SECRET_ACCESS_KEY).toBe(AWS_SECRET);
    const listed = await run(['AWS_REGION']);
    expect(listed.AWS_REGION).toBe('eu-west-1');
    expect(listed.AWS_SECRET_ACCESS_KEY).toBeUndefined();
  });
});

describe('the inheritEnv option', () => {
  it('accepts true, false or variable names, and nothing else', () => {
    expect(execSinkSchema.parse({ type: 'exec', command: ['x'] }).inheritEnv).toBe(false);
    expect(execSinkSchema.safeParse({ type: 'exec', command: ['x'], inheritEnv: ['NOT A NAME'] }).success).toBe(false);
    expect(execDnsSchema.safeParse({ type: 'exec', command: ['x'], inheritEnv: 'yes' }).success).toBe(false);
    expect(execNotifySchema.parse({ type: 'exec', command: ['x'], inheritEnv: ['AWS_REGION'] }).inheritEnv).toEqual(['AWS_REGION']);
  });
});
