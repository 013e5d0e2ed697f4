// The exec provider runs the operator's program with the record in its environment.

import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { execDnsSchema } from '../../../src/dns/providers/exec/schema.js';
import { createDnsProvider } from '../../../src/dns/registry.js';

let dir: string;
let script: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'certkeeper-exec-dns-'));
  script = path.join(dir, 'hook.sh');
  // Appends its CERTKEEPER_* and EXTRA environment to the file named in its first argument.
  await writeFile(
    script,
    '#!/bin/sh\nenv | grep -E "^(CERTKEEPER_|EXTRA=)" | sort >> "$1"\necho "--" >> "$1"\n[ -z "$FAIL" ] || { echo "cannot reach the DNS API" >&2; exit 3; }\n',
  );
  await chmod(script, 0o755);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function provider(extra: Record<string, unknown> = {}) {
  const out = path.join(dir, `env-${Math.random().toString(36).slice(2)}.txt`);
  const config = execDnsSchema.parse({ type: 'exec', command: [script, out], env: { EXTRA: 'yes' }, timeout: '5s', ...extra });
  return { out, dns: createDnsProvider(config, { name: 'script', clock: systemClock, logger: silentLogger }) };
}

describe('exec DNS provider', () => {
  it('passes action, domain, fqdn and value (and configured env) to the hook', async () => {
    const { out, dns } = provider();
    const record = { fqdn: '_acme-challenge.example.test', domain: 'example.test', value: 'token-value' };
    await dns.presentTxt(record);
    await dns.cleanupTxt(record);
    const runs = (await readFile(out, 'utf8')).split('--\n').filter(Boolean);
    expect(runs[0]!.trim().split('\n')).toEqual([
      'CERTKEEPER_ACTION=present',
      'CERTKEEPER_DOMAIN=example.test',
      'CERTKEEPER_FQDN=_acme-challenge.example.test',
      'CERTKEEPER_VALUE=token-value',
      'EXTRA=yes',
    ]);
    expect(runs[1]).toContain('CERTKEEPER_ACTION=cleanup');
  });

  it('turns a non-zero exit into DNS_UPDATE_FAILED with the hook output', async () => {
    const { dns } = provider({ env: { FAIL: '1' } });
    const error = (await dns
      .presentTxt({ fqdn: '_acme-challenge.example.test', domain: 'example.test', value: 'v' })
      .catch((e: unknown) => e)) as CertkeeperError;
    expect(error).toBeInstanceOf(CertkeeperError);
    expect(error.code).toBe('DNS_UPDATE_FAILED');
    expect(error.message).toContain('cannot reach the DNS API');
    expect(error.message).toContain('present of TXT _acme-challenge.example.test');
  });

  it('turns a timeout into DNS_UPDATE_FAILED', async () => {
    const config = execDnsSchema.parse({ type: 'exec', command: ['/bin/sleep', '5'], timeout: 200 });
    const dns = createDnsProvider(config, { name: 'slow', clock: systemClock, logger: silentLogger });
    const error = (await dns
      .presentTxt({ fqdn: '_acme-challenge.example.test', domain: 'example.test', value: 'v' })
      .catch((e: unknown) => e)) as CertkeeperError;
    expect(error.code).toBe('DNS_UPDATE_FAILED');
    expect(error.message).toMatch(/did not finish within 200 ms/);
  });
});
