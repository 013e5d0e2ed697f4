import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CertkeeperError } from '../../../src/core/errors.js';
import { certificateIssuers, clockResult, CLOCK_FAIL_MS, CLOCK_WARN_MS, issuerPrefix } from '../../../src/doctor/acme.js';
import { configuredIssuers } from '../../../src/config/issuers.js';
import { awsProblem } from '../../../src/doctor/aws.js';
import type { Config } from '../../../src/config/load.js';
import { caaAllows, challengeNames } from '../../../src/doctor/dns.js';
import { executableProblem } from '../../../src/doctor/executable.js';
import { writableProblem } from '../../../src/doctor/sinks.js';

describe('caaAllows', () => {
  const le = ['letsencrypt.org'];
  it('allows when no issue property restricts', () => {
    expect(caaAllows([], le, false)).toEqual({ allowed: true, named: [] });
    expect(caaAllows([{ tag: 'iodef', value: 'mailto:x@example.com' }], le, false).allowed).toBe(true);
  });
  it('allows a CA named in an issue property (parameters after ";" ignored)', () => {
    expect(caaAllows([{ tag: 'issue', value: 'letsencrypt.org; accounturi=https://x' }], le, false)).toEqual({ allowed: true, named: ['letsencrypt.org'] });
  });
  it('forbids a CA that is not named, and everyone with issue ";"', () => {
    expect(caaAllows([{ tag: 'issue', value: 'pki.goog' }], le, false)).toEqual({ allowed: false, named: ['pki.goog'] });
    expect(caaAllows([{ tag: 'issue', value: ';' }], le, false).allowed).toBe(false);
  });
  it('uses issuewild for wildcard names when present, issue otherwise', () => {
    const records = [
      { tag: 'issue', value: 'letsencrypt.org' },
      { tag: 'issuewild', value: 'pki.goog' },
    ];
    expect(caaAllows(records, le, false).allowed).toBe(true);
    expect(caaAllows(records, le, true).allowed).toBe(false);
    expect(caaAllows([{ tag: 'issue', value: 'letsencrypt.org' }], le, true).allowed).toBe(true);
  });
});

describe('clockResult', () => {
  it('passes within a few seconds, warns beyond, fails far off', () => {
    expect(clockResult(1_200).status).toBe('pass');
    expect(clockResult(CLOCK_WARN_MS + 2_000)).toMatchObject({ status: 'warn', message: expect.stringContaining('behind') });
    expect(clockResult(-(CLOCK_FAIL_MS + 2_000))).toMatchObject({ status: 'fail', message: expect.stringContaining('ahead of') });
  });
  it('does not blame the clock for the measurement uncertainty', () => {
    expect(clockResult(CLOCK_WARN_MS + 1_000, 2_000).status).toBe('pass');
  });
});

describe('challengeNames', () => {
  it('gives one name per base domain (a wildcard shares its apex)', () => {
    expect(
      challengeNames({
        name: 'www',
        domains: ['example.com', '*.example.com', 'api.example.com'],
        dns: 'x',
        sinks: [],
        renewBefore: { kind: 'fraction', fraction: 0.33 },
        keyType: 'ecdsa-p256',
        reuseKey: false,
      }),
    ).toEqual(['_acme-challenge.example.com', '_acme-challenge.api.example.com']);
  });
});

describe('writableProblem', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-doctor-unit-'));
  it('accepts a folder whose nearest existing parent is writable', async () => {
    expect(await writableProblem(path.join(dir, 'a/b/c/out'))).toBeUndefined();
  });
  it('rejects a folder under a file', async () => {
    writeFileSync(path.join(dir, 'file'), 'x');
    expect(await writableProblem(path.join(dir, 'file/sub/out'))).toMatch(/file.* (is not a folder|lies under a file)/);
  });
});

describe('executableProblem', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-doctor-exec-'));
  writeFileSync(path.join(dir, 'hook.sh'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(path.join(dir, 'plain.txt'), 'x', { mode: 0o644 });
  it('finds programs by path (relative to cwd) and on PATH', async () => {
    expect(await executableProblem('./hook.sh', dir, '')).toBeUndefined();
    expect(await executableProblem('sh', '/', '/usr/bin:/bin')).toBeUndefined();
  });
  it('names what is missing', async () => {
    expect(await executableProblem('./missing.sh', dir, '')).toBe(`${path.join(dir, 'missing.sh')} does not exist`);
    expect(await executableProblem('no-such-program-xyz', dir, '/usr/bin:/bin')).toBe('"no-such-program-xyz" is not on PATH');
  });
  it('rejects a file without any execute bit (even for root)', async () => {
    expect(await executableProblem('./plain.txt', dir, '')).toContain('is not executable');
  });
});

describe('awsProblem', () => {
  const awsError = (name: string, message: string): Error => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 403 } });
  it('puts the AWS error code the SDK keeps out of the message in front, with what to fix', () => {
    expect(awsProblem(awsError('InvalidClientTokenId', 'The security token included in the request is invalid.'))).toBe(
      'InvalidClientTokenId: The security token included in the request is invalid. (check the AWS credentials)',
    );
    expect(awsProblem(awsError('AccessDenied', 'User: x is not authorized'))).toBe(
      'AccessDenied: User: x is not authorized (the credentials lack this permission)',
    );
    expect(awsProblem(awsError('NoSuchHostedZone', 'No hosted zone found with ID: Z1'))).toBe('NoSuchHostedZone: No hosted zone found with ID: Z1');
  });
  it('leaves plain errors and our own as they are', () => {
    expect(awsProblem(new Error('connect ECONNREFUSED 127.0.0.1:1'))).toBe('connect ECONNREFUSED 127.0.0.1:1');
    expect(awsProblem(new CertkeeperError('SINK_FAILED', 'sink "alb": DescribeCertificate failed'))).toBe('sink "alb": DescribeCertificate failed');
  });
});

describe('issuers in doctor lines', () => {
  const a = { name: 'a', directoryUrl: 'https://a.test/dir', email: null };
  const b = { name: 'b', directoryUrl: 'https://b.test/dir', email: null };
  it('names the issuer only when there are several', () => {
    expect(issuerPrefix(a, [a])).toBe('');
    expect(issuerPrefix(b, [a, b])).toBe('b: ');
  });
  it('checks every configured CA, and per certificate the ones it may use, in its order', () => {
    const config = { acme: a, issuers: [a, b] } as unknown as Config;
    expect(configuredIssuers(config).map((i) => i.name)).toEqual(['a', 'b']);
    expect(certificateIssuers(config, undefined).map((i) => i.name)).toEqual(['a', 'b']);
    expect(certificateIssuers(config, ['b']).map((i) => i.name)).toEqual(['b']);
    // A config built by hand with only `acme` still has its one CA.
    expect(configuredIssuers({ acme: a } as unknown as Config)).toEqual([{ ...a, name: 'default' }]);
  });
});
