import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { isCertkeeperError } from '../../../src/core/errors.js';
import { memorySinkState } from '../../../src/sinks/contract.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { DeployRequest } from '../../../src/sinks/contract.js';
import { createExecSink } from '../../../src/sinks/exec/index.js';
import { execSinkSchema } from '../../../src/sinks/exec/schema.js';
import { makeCertificate } from '../../helpers/certs.js';

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-exec-'));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

function sink(config: Record<string, unknown>) {
  return createExecSink(execSinkSchema.parse({ type: 'exec', ...config }), {
    name: 'reload',
    clock: systemClock,
    logger: silentLogger,
    state: memorySinkState(),
  });
}

const request: DeployRequest = {
  certName: 'www',
  domains: ['example.com', '*.example.com'],
  serial: '0A1B2C',
  notAfter: new Date('2026-09-01T12:00:00Z'),
  material: makeCertificate({ domains: ['example.com', '*.example.com'] }),
  paths: { cert: '/srv/www/cert.pem', chain: '/srv/www/chain.pem', fullchain: '/srv/www/fullchain.pem', key: '/srv/www/privkey.pem' },
};

// A hook that records its environment, run through node so the test needs no shell.
const dumpEnv = `require('fs').writeFileSync(process.env.OUT, JSON.stringify(Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('CERTKEEPER_') || k === 'EXTRA'))))`;

describe('exec sink', () => {
  it('runs the command with the CERTKEEPER_* environment and the configured env', async () => {
    const out = path.join(tmp, 'env.json');
    const result = await sink({ command: [process.execPath, '-e', dumpEnv], env: { OUT: out, EXTRA: 'yes' } }).deploy(request);

    expect(JSON.parse(await fs.readFile(out, 'utf8'))).toEqual({
      CERTKEEPER_CERT_NAME: 'www',
      CERTKEEPER_DOMAINS: 'example.com *.example.com',
      CERTKEEPER_SERIAL: '0A1B2C',
      CERTKEEPER_NOT_AFTER: '2026-09-01T12:00:00.000Z',
      CERTKEEPER_CERT_PATH: '/srv/www/cert.pem',
      CERTKEEPER_CHAIN_PATH: '/srv/www/chain.pem',
      CERTKEEPER_FULLCHAIN_PATH: '/srv/www/fullchain.pem',
      CERTKEEPER_KEY_PATH: '/srv/www/privkey.pem',
      EXTRA: 'yes',
    });
    expect(result.paths).toBeUndefined(); // an exec sink writes no files of its own
    expect(result.detail).toContain(process.execPath);
  });

  it('does not let configured env override the contract variables', async () => {
    const out = path.join(tmp, 'env.json');
    await sink({ command: [process.execPath, '-e', dumpEnv], env: { OUT: out, CERTKEEPER_CERT_NAME: 'spoofed' } }).deploy(request);
    expect(JSON.parse(await fs.readFile(out, 'utf8')).CERTKEEPER_CERT_NAME).toBe('www');
  });

  it('fails with HOOK_FAILED naming the sink on a non-zero exit', async () => {
    const error = await sink({ command: [process.execPath, '-e', 'console.error("nginx: bad config"); process.exit(3)'] })
      .deploy(request)
      .catch((e: unknown) => e);
    expect(isCertkeeperError(error, 'HOOK_FAILED')).toBe(true);
    expect((error as Error).message).toContain('sink "reload"');
    expect((error as Error).message).toContain('status 3');
    expect((error as Error).message).toContain('nginx: bad config');
  });

  it('fails with HOOK_TIMEOUT naming the sink when the command runs too long', async () => {
    const start = Date.now();
    const error = await sink({ command: [process.execPath, '-e', 'setTimeout(() => {}, 10000)'], timeout: '300ms' })
      .deploy(request)
      .catch((e: unknown) => e);
    expect(isCertkeeperError(error, 'HOOK_TIMEOUT')).toBe(true);
    expect((error as Error).message).toContain('sink "reload"');
    expect(Date.now() - start).toBeLessThan(5_000);
  });

  it('fails with HOOK_FAILED when the program does not exist', async () => {
    const error = await sink({ command: [path.join(tmp, 'missing-program')] })
      .deploy(request)
      .catch((e: unknown) => e);
    expect(isCertkeeperError(error, 'HOOK_FAILED')).toBe(true);
    expect((error as Error).message).toContain('sink "reload"');
  });

  it('is cancelled by the signal', async () => {
    const controller = new AbortController();
    const running = sink({ command: [process.execPath, '-e', 'setTimeout(() => {}, 10000)'] }).deploy(request, controller.signal);
    setTimeout(() => controller.abort(), 100);
    await expect(running).rejects.toMatchObject({ code: 'CANCELLED' });
  });
});
