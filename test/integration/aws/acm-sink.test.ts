// The acm sink through the real @aws-sdk/client-acm against the ACM stand-in on loopback:
// first import, re-import into the same ARN, lost state, pre-checks, AWS errors and throttling.

import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { CertificateMaterial } from '../../../src/core/types.js';
import { normalizeSerial, parseCertificate } from '../../../src/core/x509.js';
import { createAcmSink } from '../../../src/sinks/acm/index.js';
import { acmSinkSchema } from '../../../src/sinks/acm/schema.js';
import { memorySinkState, type DeployRequest, type Sink, type SinkStateStore } from '../../../src/sinks/contract.js';
import { startAcmStandin, TEST_AWS_ENV, type AcmStandin } from '../../helpers/aws/acm-standin.js';
import { makeCertificate, makeSelfSigned } from '../../helpers/certs.js';
import { ManualClock } from '../../helpers/clock.js';

const DAY = 86_400_000;
const REGION = 'eu-west-1';

beforeAll(() => {
  // The sink uses the SDK's default credential chain; each test file runs in its own process.
  for (const name of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE']) delete process.env[name];
  Object.assign(process.env, TEST_AWS_ENV);
});

let acm: AcmStandin;
let clock: ManualClock;
let state: SinkStateStore;

beforeEach(async () => {
  clock = new ManualClock(new Date(Math.floor(Date.now() / 1000) * 1000));
  acm = await startAcmStandin({ region: REGION, now: () => clock.now() });
  state = memorySinkState();
});
afterEach(async () => {
  await acm.stop();
});

function sink(extra: Record<string, unknown> = {}, options: { name?: string; state?: SinkStateStore } = {}): Sink {
  const config = acmSinkSchema.parse({ type: 'acm', region: REGION, endpoint: acm.endpoint, ...extra });
  return createAcmSink(config, { name: options.name ?? 'alb', clock, logger: silentLogger, state: options.state ?? state });
}

function request(material: CertificateMaterial, certName = 'www'): DeployRequest {
  const info = parseCertificate(material.certPem);
  const dir = `/state/certs/${certName}`;
  return {
    certName,
    domains: info.domains,
    serial: info.serial,
    notAfter: info.notAfter,
    material,
    paths: { cert: `${dir}/cert.pem`, chain: `${dir}/chain.pem`, fullchain: `${dir}/fullchain.pem`, key: `${dir}/privkey.pem` },
  };
}

/** A certificate valid from the test clock's now. */
function certificate(options: { keyType?: 'ecdsa-p256' | 'rsa-2048'; keyPem?: string; domains?: string[] } = {}): CertificateMaterial {
  return makeCertificate({
    domains: options.domains ?? ['example.com', '*.example.com'],
    notBefore: new Date(clock.now().getTime() - 60_000),
    days: 90,
    ...options,
  });
}

const decode = (blob: unknown): string => Buffer.from(String(blob), 'base64').toString('utf8');
const imports = () => acm.requests.filter((r) => r.operation === 'ImportCertificate');

async function failure(promise: Promise<unknown>): Promise<CertkeeperError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error, 'the deploy should have failed').toBeInstanceOf(CertkeeperError);
  return error as CertkeeperError;
}

describe('acm sink against the ACM stand-in', () => {
  it('imports first with the leaf, the key and the chain without the leaf, tagged, and records the ARN', async () => {
    const material = certificate();
    const result = await sink({ tags: { team: 'web' } }).deploy(request(material));

    const [stored] = acm.certificates();
    expect(acm.certificates()).toHaveLength(1);
    expect(result.detail).toBe(`imported as ${stored!.arn}`);
    expect(stored!.arn).toMatch(/^arn:aws:acm:eu-west-1:123456789012:certificate\/[0-9a-f-]{36}$/);
    expect(normalizeSerial(stored!.serial)).toBe(parseCertificate(material.certPem).serial);

    const [sent] = imports();
    // The SDK sends each PEM as base64 of its bytes; the chain is the intermediates only.
    expect(decode(sent!.body.Certificate)).toBe(material.certPem);
    expect(decode(sent!.body.PrivateKey)).toBe(material.keyPem);
    expect(decode(sent!.body.CertificateChain)).toBe(material.chainPem);
    expect(sent!.body.CertificateArn).toBeUndefined();
    expect(sent!.body.Tags).toEqual([
      { Key: 'team', Value: 'web' },
      { Key: 'certkeeper:name', Value: 'www' },
      { Key: 'certkeeper:sink', Value: 'alb' },
    ]);
    expect(sent!.signingRegion).toBe(REGION);

    expect(await state.get('www')).toEqual({
      certificateArn: stored!.arn,
      region: REGION,
      keyType: 'ecdsa-p256',
      keyAlgorithm: 'EC_prime256v1',
      serial: parseCertificate(material.certPem).serial,
      importedAt: clock.now().toISOString(),
    });
    // No state and no tagged certificate: look first, then import, then read the certificate back.
    expect(acm.requests.map((r) => r.operation)).toEqual(['ListCertificates', 'ImportCertificate', 'DescribeCertificate']);
  });

  it('re-imports a renewal into the same ARN, without tags, keeping the associations', async () => {
    const alb = sink({ tags: { team: 'web' } });
    await alb.deploy(request(certificate()));
    const arn = acm.certificates()[0]!.arn;
    acm.setInUse(arn, ['arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/1']);

    clock.advance(60 * DAY);
    const renewed = certificate();
    const result = await alb.deploy(request(renewed));

    expect(result.detail).toBe(`re-imported into ${arn}`);
    expect(acm.certificates()).toHaveLength(1);
    const stored = acm.certificate(arn)!;
    expect(stored.importCount).toBe(2);
    expect(normalizeSerial(stored.serial)).toBe(parseCertificate(renewed.certPem).serial);
    expect(stored.inUseBy).toHaveLength(1);
    expect(stored.tags.map((t) => t.Key)).toEqual(['team', 'certkeeper:name', 'certkeeper:sink']);
    const second = imports()[1]!;
    expect(second.body.CertificateArn).toBe(arn);
    expect(second.body).not.toHaveProperty('Tags');
    expect(second.status).toBe(200);
    expect((await state.get('www'))?.serial).toBe(parseCertificate(renewed.certPem).serial);
  });

  it('finds the ARN again by its tag when the state is lost (EC key: listed only with Includes.keyTypes), importing no duplicate', async () => {
    await sink().deploy(request(certificate()));
    const arn = acm.certificates()[0]!.arn;
    // Other certificates in the region: another name's, an untagged RSA one.
    acm.seed({ certificatePem: certificate({ domains: ['other.example.com'] }).certPem, tags: { 'certkeeper:name': 'other' } });
    acm.seed({ certificatePem: certificate({ keyType: 'rsa-2048', domains: ['rsa.example.com'] }).certPem });
    acm.requests.length = 0;

    const fresh = memorySinkState();
    const result = await sink({}, { state: fresh }).deploy(request(certificate()));

    expect(result.detail).toBe(`re-imported into ${arn}`);
    expect(acm.certificates()).toHaveLength(3);
    const listed = acm.requests.filter((r) => r.operation === 'ListCertificates');
    expect((listed[0]!.body.Includes as { keyTypes: string[] }).keyTypes).toEqual(expect.arrayContaining(['EC_prime256v1', 'EC_secp384r1', 'RSA_2048']));
    expect(imports()).toHaveLength(1);
    expect(imports()[0]!.body.CertificateArn).toBe(arn);
    expect((await fresh.get('www'))?.certificateArn).toBe(arn);
  });

  it('pages through ListCertificates when rediscovering', async () => {
    await acm.stop();
    acm = await startAcmStandin({ region: REGION, now: () => clock.now(), maxPageSize: 2 });
    for (let i = 0; i < 5; i++) acm.seed({ certificatePem: certificate({ domains: [`n${i}.example.com`] }).certPem, tags: { 'certkeeper:name': `n${i}` } });
    const mine = acm.seed({ certificatePem: certificate().certPem, tags: { 'certkeeper:name': 'www', 'certkeeper:sink': 'alb' } });

    await sink().deploy(request(certificate()));

    expect(acm.requests.filter((r) => r.operation === 'ListCertificates')).toHaveLength(3);
    expect(imports()[0]!.body.CertificateArn).toBe(mine);
    expect(acm.certificates()).toHaveLength(6);
  });

  it('does not take a certificate tagged for another sink of the same name', async () => {
    acm.seed({ certificatePem: certificate().certPem, tags: { 'certkeeper:name': 'www', 'certkeeper:sink': 'cloudfront' } });
    await sink().deploy(request(certificate()));
    expect(acm.certificates()).toHaveLength(2);
    expect(imports()[0]!.body.Tags).toBeDefined();
  });

  it('with several tagged certificates takes the one in use, and refuses to guess otherwise', async () => {
    const idle = acm.seed({ certificatePem: certificate().certPem, tags: { 'certkeeper:name': 'www' } });
    const used = acm.seed({
      certificatePem: certificate().certPem,
      tags: { 'certkeeper:name': 'www' },
      inUseBy: ['arn:aws:cloudfront::123456789012:distribution/E1'],
    });
    await sink().deploy(request(certificate()));
    expect(imports()[0]!.body.CertificateArn).toBe(used);

    acm.setInUse(used, []);
    const error = await failure(sink({}, { state: memorySinkState() }).deploy(request(certificate())));
    expect(error.code).toBe('SINK_FAILED');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(idle);
    expect(error.message).toContain('set certificateArn');
    expect(imports()).toHaveLength(1);
  });

  it('re-imports into a configured certificateArn (config wins over state)', async () => {
    const existing = acm.seed({ certificatePem: certificate().certPem });
    await state.put('www', { certificateArn: `arn:aws:acm:${REGION}:123456789012:certificate/00000000-0000-0000-0000-000000000000`, region: REGION });
    await sink({ certificateArn: existing }).deploy(request(certificate()));
    expect(imports()[0]!.body.CertificateArn).toBe(existing);
    expect(acm.certificates()).toHaveLength(1);
    expect((await state.get('www'))?.certificateArn).toBe(existing);
  });

  it('fails clearly when the configured certificateArn does not exist', async () => {
    const missing = `arn:aws:acm:${REGION}:123456789012:certificate/11111111-1111-1111-1111-111111111111`;
    const error = await failure(sink({ certificateArn: missing }).deploy(request(certificate())));
    expect(error).toMatchObject({ code: 'SINK_FAILED', retryable: false, details: { reason: 'arn-not-found' } });
    expect(error.message).toContain(missing);
    expect(acm.countOf('ImportCertificate')).toBe(0);
  });

  it('imports afresh when the recorded certificate was deleted', async () => {
    await state.put('www', { certificateArn: `arn:aws:acm:${REGION}:123456789012:certificate/22222222-2222-2222-2222-222222222222`, region: REGION });
    await sink().deploy(request(certificate()));
    expect(imports()[0]!.body.CertificateArn).toBeUndefined();
    expect((await state.get('www'))?.certificateArn).toBe(acm.certificates()[0]!.arn);
  });

  it('sends nothing when the certificate already holds the serial (an earlier import whose result was not recorded)', async () => {
    const material = certificate();
    const alb = sink();
    await alb.deploy(request(material));
    const result = await alb.deploy(request(material));
    expect(result.detail).toContain('already holds');
    expect(acm.countOf('ImportCertificate')).toBe(1);
  });

  describe('pre-checks: refused before any ImportCertificate reaches ACM', () => {
    it('a key type change on re-import (ACM keeps the key algorithm)', async () => {
      const alb = sink();
      await alb.deploy(request(certificate({ keyType: 'ecdsa-p256' })));
      const error = await failure(alb.deploy(request(certificate({ keyType: 'rsa-2048' }))));
      expect(error).toMatchObject({ code: 'SINK_FAILED', retryable: false, details: { reason: 'key-type-changed' } });
      expect(error.message).toMatch(/EC_prime256v1.*RSA_2048/);
      expect(error.message).toContain(acm.certificates()[0]!.arn);
      expect(acm.countOf('ImportCertificate')).toBe(1);
    });

    const cases: [string, () => CertificateMaterial, string][] = [
      [
        'a private key over 5,120 bytes',
        () => {
          const material = certificate();
          // e.g. a key exported with openssl's "Bag Attributes" text in front of the PEM.
          return { ...material, keyPem: `Bag Attributes\n${'    friendlyName: certkeeper-test\n'.repeat(160)}${material.keyPem}` };
        },
        'key-too-large',
      ],
      ['a chain that does not link', () => ({ ...certificate(), chainPem: makeSelfSigned({ domains: ['unrelated CA'] }).certPem }), 'chain-broken'],
      ['a leaf that is not self-signed, without a chain', () => ({ ...certificate(), chainPem: '' }), 'chain-missing'],
      ["a key that is not the certificate's", () => ({ ...certificate(), keyPem: certificate().keyPem }), 'key-mismatch'],
      [
        'a certificate not yet valid',
        () => makeCertificate({ domains: ['example.com'], notBefore: new Date(clock.now().getTime() + DAY), days: 90 }),
        'not-yet-valid',
      ],
      [
        'an expired certificate',
        () =>
          makeCertificate({
            domains: ['example.com'],
            notBefore: new Date(clock.now().getTime() - 100 * DAY),
            notAfter: new Date(clock.now().getTime() - DAY),
          }),
        'expired',
      ],
    ];
    it.each(cases)('%s', async (_what, make, reason) => {
      const error = await failure(sink().deploy(request(make())));
      expect(error).toMatchObject({ code: 'SINK_FAILED', retryable: false, details: { reason, region: REGION } });
      expect(error.message).toMatch(/^sink "alb" \(ACM eu-west-1\): cannot import www: /);
      // Checked locally: ACM was not even asked.
      expect(acm.requests).toHaveLength(0);
    });
  });

  describe('AWS errors', () => {
    it('surfaces a ValidationException with the sink, region, ARN and AWS error, not retryable', async () => {
      const alb = sink();
      await alb.deploy(request(certificate()));
      const arn = acm.certificates()[0]!.arn;
      acm.inject({
        kind: 'error',
        operation: 'ImportCertificate',
        type: 'ValidationException',
        message: 'The certificate field "Extended Key Usage" must not be removed.',
      });
      const error = await failure(alb.deploy(request(certificate())));
      expect(error.message).toBe(
        `sink "alb" (ACM eu-west-1, ${arn}): ImportCertificate (re-import) failed: ValidationException: The certificate field "Extended Key Usage" must not be removed.`,
      );
      expect(error).toMatchObject({
        code: 'SINK_FAILED',
        retryable: false,
        details: { awsError: 'ValidationException', httpStatus: 400, certificateArn: arn, region: REGION },
      });
      expect(acm.countOf('ImportCertificate')).toBe(2); // the SDK does not retry a validation error
    });

    it("rides out a throttling burst longer than the SDK's 3 attempts", async () => {
      acm.throttle(5, 'ImportCertificate');
      const result = await sink().deploy(request(certificate()));
      expect(result.detail).toMatch(/^imported as /);
      const attempts = imports();
      expect(attempts.map((r) => r.errorType ?? 'ok')).toEqual([...Array(5).fill('ThrottlingException'), 'ok']);
      expect(acm.certificates()).toHaveLength(1); // refused requests import nothing
    });

    it('gives up on endless throttling with a retryable SINK_FAILED naming ThrottlingException', async () => {
      acm.inject({ kind: 'error', operation: 'ImportCertificate', type: 'ThrottlingException', message: 'Rate exceeded' });
      const before = clock.now().getTime();
      const error = await failure(sink().deploy(request(certificate())));
      expect(error).toMatchObject({ code: 'SINK_FAILED', retryable: true, details: { awsError: 'ThrottlingException' } });
      expect(error.message).toContain('ImportCertificate failed: ThrottlingException: Rate exceeded');
      // 3 rounds of the SDK's 3 attempts, with our waits on the injected clock between rounds.
      expect(acm.countOf('ImportCertificate')).toBe(9);
      expect(clock.now().getTime() - before).toBe(12_000);
    });

    it('treats 5xx as retryable', async () => {
      acm.inject({ kind: 'error', type: 'InternalFailure', message: 'We encountered an internal error.', status: 500 });
      const error = await failure(sink().deploy(request(certificate())));
      expect(error).toMatchObject({ code: 'SINK_FAILED', retryable: true, details: { awsError: 'InternalFailure', httpStatus: 500 } });
    });

    it('fails when DescribeCertificate does not show the new serial after the import, and succeeds on the next try', async () => {
      const alb = sink();
      await alb.deploy(request(certificate()));
      const arn = acm.certificates()[0]!.arn;
      acm.inject({ kind: 'stale-reimport', times: 1 });
      const renewed = certificate();
      const error = await failure(alb.deploy(request(renewed)));
      const serial = parseCertificate(renewed.certPem).serial;
      expect(error).toMatchObject({ code: 'SINK_FAILED', retryable: true, details: { certificateArn: arn, expected: serial } });
      expect(error.message).toContain(`DescribeCertificate shows serial`);
      expect(error.message).toContain(`not ${serial}`);

      await alb.deploy(request(renewed));
      expect(normalizeSerial(acm.certificate(arn)!.serial)).toBe(serial);
    });

    it('reports an unreachable endpoint as retryable', async () => {
      const endpoint = acm.endpoint;
      await acm.stop();
      const config = acmSinkSchema.parse({ type: 'acm', region: REGION, endpoint });
      const unreachable = createAcmSink(config, { name: 'alb', clock, logger: silentLogger, state });
      const error = await failure(unreachable.deploy(request(certificate())));
      expect(error).toMatchObject({ code: 'SINK_FAILED', retryable: true });
      expect(error.message).toContain('sink "alb" (ACM eu-west-1)');
      acm = await startAcmStandin({ region: REGION }); // for afterEach
    });

    it('stops when cancelled', async () => {
      const controller = new AbortController();
      controller.abort();
      const error = await failure(sink().deploy(request(certificate()), controller.signal));
      expect(error.code).toBe('CANCELLED');
    });
  });
});
