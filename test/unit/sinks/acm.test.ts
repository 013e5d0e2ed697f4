// The acm sink's pure parts: config schema, pre-checks (one test per reason), AWS error mapping,
// and that the SDK is loaded only on deploy.

import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { acmFailure, isRetryableAwsError } from '../../../src/sinks/acm/aws.js';
import {
  ACM_MAX_KEY_BYTES,
  acmKeyAlgorithm,
  checkChain,
  checkKeyAlgorithm,
  checkKeySize,
  checkReimportKey,
  checkValidity,
  isImportProblem,
  prepareImport,
} from '../../../src/sinks/acm/precheck.js';
import { acmSinkSchema, arnRegion } from '../../../src/sinks/acm/schema.js';
import { memorySinkState } from '../../../src/sinks/contract.js';
import { createSink, sinkConfigSchema } from '../../../src/sinks/registry.js';
import { makeCertificate, makeSelfSigned, testCa } from '../../helpers/certs.js';

const ARN = 'arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012';
const DAY = 86_400_000;

describe('acm sink config', () => {
  it('takes region, certificateArn, tags, roleArn and endpoint', () => {
    expect(acmSinkSchema.parse({ type: 'acm', region: 'eu-west-1' })).toEqual({ type: 'acm', region: 'eu-west-1', tags: {} });
    const full = {
      type: 'acm',
      region: 'eu-west-1',
      certificateArn: ARN,
      tags: { team: 'web' },
      roleArn: 'arn:aws:iam::123456789012:role/certkeeper',
      endpoint: 'https://acm.eu-west-1.vpce.amazonaws.com',
    };
    expect(sinkConfigSchema.parse(full)).toEqual(full);
  });

  it.each([
    [{ region: 'Ireland' }, 'region'],
    [{ region: 'eu-west-1', certificateArn: ARN.replace('eu-west-1', 'us-east-1') }, 'certificateArn'],
    [{ region: 'eu-west-1', certificateArn: 'arn:aws:iam::123456789012:server-certificate/x' }, 'certificateArn'],
    [{ region: 'eu-west-1', tags: { 'certkeeper:name': 'x' } }, 'tags'],
    [{ region: 'eu-west-1', tags: { 'aws:cloudformation:stack': 'x' } }, 'tags'],
    [{ region: 'eu-west-1', roleArn: 'certkeeper' }, 'roleArn'],
    [{ region: 'eu-west-1', endpoint: 'not a url' }, 'endpoint'],
    [{ region: 'eu-west-1', arn: ARN }, ''],
  ])('rejects %j (at %s)', (entry, field) => {
    const result = acmSinkSchema.safeParse({ type: 'acm', ...entry });
    expect(result.success).toBe(false);
    if (field) expect(result.error!.issues.map((i) => i.path[0])).toContain(field);
  });

  it('reads the region from an ARN', () => {
    expect(arnRegion(ARN)).toBe('eu-west-1');
    expect(arnRegion('arn:aws-cn:acm:cn-north-1:123456789012:certificate/abc')).toBe('cn-north-1');
    expect(arnRegion('nope')).toBeUndefined();
  });
});

describe('acm pre-checks', () => {
  const now = new Date('2026-11-22T00:00:00Z');
  const material = makeCertificate({ domains: ['example.com'], notBefore: new Date(now.getTime() - DAY), days: 90 });

  it('maps every key ACM accepts to its KeyAlgorithm name, and nothing else', () => {
    const ec = (namedCurve: string) => generateKeyPairSync('ec', { namedCurve }).publicKey;
    expect(acmKeyAlgorithm(ec('prime256v1'))).toBe('EC_prime256v1');
    expect(acmKeyAlgorithm(ec('secp384r1'))).toBe('EC_secp384r1');
    expect(acmKeyAlgorithm(ec('secp521r1'))).toBe('EC_secp521r1');
    expect(acmKeyAlgorithm(ec('secp256k1'))).toBeUndefined();
    expect(acmKeyAlgorithm(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey)).toBe('RSA_1024');
    expect(acmKeyAlgorithm(generateKeyPairSync('rsa', { modulusLength: 1536 }).publicKey)).toBeUndefined();
    expect(acmKeyAlgorithm(generateKeyPairSync('ed25519').publicKey)).toBeUndefined();
  });

  it('key-unsupported: names the key and what ACM takes', () => {
    expect(checkKeyAlgorithm(generateKeyPairSync('ed25519').publicKey)).toEqual({
      reason: 'key-unsupported',
      message: 'ACM does not accept ed25519 keys (it takes RSA 1024–4096 and EC P-256, P-384, P-521)',
    });
    expect(checkKeyAlgorithm(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey)?.message).toContain('EC secp256k1');
    expect(checkKeyAlgorithm(new X509Certificate(material.certPem).publicKey)).toBeUndefined();
  });

  it('key-too-large: at most 5,120 bytes of PEM', () => {
    expect(checkKeySize('x'.repeat(ACM_MAX_KEY_BYTES))).toBeUndefined();
    expect(checkKeySize('x'.repeat(ACM_MAX_KEY_BYTES + 1))).toEqual({
      reason: 'key-too-large',
      message: 'the private key PEM is 5121 bytes; ACM accepts at most 5120',
    });
  });

  it('not-yet-valid and expired: now must be inside the window (bounds included)', () => {
    const leaf = new X509Certificate(material.certPem);
    expect(checkValidity(leaf, new Date(leaf.validFrom))).toBeUndefined();
    expect(checkValidity(leaf, new Date(leaf.validTo))).toBeUndefined();
    expect(checkValidity(leaf, new Date(new Date(leaf.validFrom).getTime() - 1000))?.reason).toBe('not-yet-valid');
    expect(checkValidity(leaf, new Date(new Date(leaf.validTo).getTime() + 1000))?.reason).toBe('expired');
  });

  it('chain-broken / chain-missing: each certificate issued by the next; none needed when self-signed', () => {
    const leaf = new X509Certificate(material.certPem);
    const ca = new X509Certificate(testCa().certPem);
    const stranger = new X509Certificate(makeSelfSigned({ domains: ['stranger'] }).certPem);
    expect(checkChain(leaf, [ca])).toBeUndefined();
    expect(checkChain(leaf, [stranger])).toMatchObject({
      reason: 'chain-broken',
      message: expect.stringContaining('the certificate (CN=example.com) is not issued by chain certificate 1 (CN=stranger)'),
    });
    expect(checkChain(leaf, [ca, stranger])).toMatchObject({
      reason: 'chain-broken',
      message: expect.stringContaining('chain certificate 1 (CN=certkeeper test CA)'),
    });
    expect(checkChain(leaf, [])).toMatchObject({ reason: 'chain-missing' });
    expect(checkChain(stranger, [])).toBeUndefined();
  });

  it('key-type-changed: only when ACM holds another algorithm', () => {
    expect(checkReimportKey(undefined, 'EC_prime256v1')).toBeUndefined();
    expect(checkReimportKey('EC_prime256v1', 'EC_prime256v1')).toBeUndefined();
    expect(checkReimportKey('RSA_2048', 'RSA_3072')).toMatchObject({
      reason: 'key-type-changed',
      message: expect.stringContaining('has a RSA_2048 key and the new one RSA_3072'),
    });
  });

  it('prepares the import: the leaf, the chain without it, the serial and the key algorithm', () => {
    const prepared = prepareImport(material, now);
    expect(isImportProblem(prepared)).toBe(false);
    expect(prepared).toEqual({
      leafPem: material.certPem,
      chainPem: material.chainPem,
      keyPem: material.keyPem,
      serial: new X509Certificate(material.certPem).serialNumber.replace(/^0+/, ''),
      keyAlgorithm: 'EC_prime256v1',
      keyType: 'ecdsa-p256',
    });
  });

  it('key-encrypted, key-mismatch and unreadable input are problems, not exceptions', () => {
    const encrypted = createPrivateKey(material.keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }).toString();
    expect(prepareImport({ ...material, keyPem: encrypted }, now)).toMatchObject({ reason: 'key-encrypted' });
    expect(prepareImport({ ...material, keyPem: makeCertificate({ domains: ['x.example'] }).keyPem }, now)).toMatchObject({ reason: 'key-mismatch' });
    expect(prepareImport({ ...material, keyPem: 'garbage' }, now)).toMatchObject({ reason: 'unreadable' });
    expect(prepareImport({ ...material, certPem: '' }, now)).toMatchObject({ reason: 'unreadable' });
  });
});

describe('AWS error mapping', () => {
  const aws = (name: string, status?: number) =>
    Object.assign(new Error(`${name} happened`), { name, ...(status ? { $metadata: { httpStatusCode: status, requestId: 'req-1' } } : {}) });
  const context = { label: 'sink "alb"', region: 'eu-west-1', operation: 'ImportCertificate', arn: ARN };

  it.each([
    ['ThrottlingException', 400, true],
    ['TooManyRequestsException', 429, true],
    ['InternalFailure', 500, true],
    ['ServiceUnavailableException', 503, true],
    ['ValidationException', 400, false],
    ['AccessDeniedException', 400, false],
    ['LimitExceededException', 400, false],
    ['ResourceNotFoundException', 400, false],
  ])('%s (HTTP %d) retryable: %s', (name, status, retryable) => {
    expect(isRetryableAwsError(aws(name, status))).toBe(retryable);
    const error = acmFailure(aws(name, status), context);
    expect(error).toMatchObject({
      code: 'SINK_FAILED',
      retryable,
      details: { awsError: name, httpStatus: status, region: 'eu-west-1', certificateArn: ARN, requestId: 'req-1' },
    });
    expect(error.message).toBe(`sink "alb" (ACM eu-west-1, ${ARN}): ImportCertificate failed: ${name}: ${name} happened`);
  });

  it('network failures are retryable; missing credentials are not; aborts are CANCELLED', () => {
    expect(isRetryableAwsError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isRetryableAwsError(aws('CredentialsProviderError'))).toBe(false);
    expect(acmFailure(aws('AbortError'), context).code).toBe('CANCELLED');
    const ours = new CertkeeperError('SINK_FAILED', 'already ours', { retryable: false });
    expect(acmFailure(ours, context)).toBe(ours);
  });
});

describe('acm sink loading', () => {
  const folder = fileURLToPath(new URL('../../../src/sinks/acm/', import.meta.url));

  it('never imports the AWS SDK statically (it loads on the first deploy)', () => {
    for (const file of readdirSync(folder).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(path.join(folder, file), 'utf8');
      const staticImports = [...text.matchAll(/^import\s+(?!type\b)[^;]*from\s+'(@aws-sdk\/[^']+)'/gm)].map((m) => m[1]);
      expect(staticImports, file).toEqual([]);
    }
  });

  it('is built from the registry without touching AWS', () => {
    const sink = createSink(sinkConfigSchema.parse({ type: 'acm', region: 'eu-west-1', endpoint: 'http://127.0.0.1:9' }), {
      name: 'alb',
      clock: systemClock,
      logger: silentLogger,
      state: memorySinkState(),
    });
    expect([sink.type, sink.name, sink.locate]).toEqual(['acm', 'alb', undefined]);
  });
});
