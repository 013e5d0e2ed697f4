// The ACM stand-in itself, driven by the real SDK without the sink: it must keep ACM's rules,
// because the sink's pre-checks mean the sink alone would never show that it does.

import { ACMClient, DescribeCertificateCommand, ImportCertificateCommand, ListCertificatesCommand, ListTagsForCertificateCommand } from '@aws-sdk/client-acm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CertificateMaterial } from '../../../src/core/types.js';
import { parseCertificate } from '../../../src/core/x509.js';
import { acmSerial, startAcmStandin, TEST_AWS_CREDENTIALS, type AcmStandin } from '../../helpers/aws/acm-standin.js';
import { makeCertificate, makeSelfSigned } from '../../helpers/certs.js';

let acm: AcmStandin;
let client: ACMClient;

beforeEach(async () => {
  acm = await startAcmStandin({ region: 'eu-west-1' });
  client = new ACMClient({ region: 'eu-west-1', endpoint: acm.endpoint, credentials: TEST_AWS_CREDENTIALS, maxAttempts: 1 });
});
afterEach(async () => {
  client.destroy();
  await acm.stop();
});

const bytes = (text: string): Uint8Array => Buffer.from(text);
function importInput(material: CertificateMaterial, extra: Record<string, unknown> = {}) {
  return {
    Certificate: bytes(material.certPem),
    PrivateKey: bytes(material.keyPem),
    ...(material.chainPem ? { CertificateChain: bytes(material.chainPem) } : {}),
    ...extra,
  };
}
async function awsError(promise: Promise<unknown>): Promise<{ name: string; message: string; $metadata: { httpStatusCode?: number } }> {
  return promise.then(
    () => {
      throw new Error('expected an AWS error');
    },
    (error: unknown) => error as { name: string; message: string; $metadata: { httpStatusCode?: number } },
  );
}

describe('ACM stand-in', () => {
  it('imports, describes (ACM serial format, epoch timestamps) and lists tags', async () => {
    const material = makeCertificate({ domains: ['example.com', 'www.example.com'], serial: '0A1B2C' });
    const { CertificateArn } = await client.send(new ImportCertificateCommand(importInput(material, { Tags: [{ Key: 'team', Value: 'web' }] })));
    expect(CertificateArn).toMatch(/^arn:aws:acm:eu-west-1:123456789012:certificate\//);
    const { Certificate } = await client.send(new DescribeCertificateCommand({ CertificateArn }));
    const info = parseCertificate(material.certPem);
    expect(Certificate).toMatchObject({
      CertificateArn,
      DomainName: 'example.com',
      SubjectAlternativeNames: ['example.com', 'www.example.com'],
      Serial: '0a:1b:2c',
      KeyAlgorithm: 'EC_prime256v1',
      Type: 'IMPORTED',
      Status: 'ISSUED',
      InUseBy: [],
    });
    expect(Certificate!.NotAfter).toEqual(info.notAfter);
    expect(Certificate!.NotBefore).toEqual(info.notBefore);
    const { Tags } = await client.send(new ListTagsForCertificateCommand({ CertificateArn }));
    expect(Tags).toEqual([{ Key: 'team', Value: 'web' }]);
    expect(acm.requests.map((r) => [r.operation, r.signingRegion])).toEqual([
      ['ImportCertificate', 'eu-west-1'],
      ['DescribeCertificate', 'eu-west-1'],
      ['ListTagsForCertificate', 'eu-west-1'],
    ]);
  });

  it('formats serials as ACM does', () => {
    expect(acmSerial('0A1B2C')).toBe('0a:1b:2c');
    expect(acmSerial('A1B2C')).toBe('0a:1b:2c');
  });

  it('lists only RSA_2048 certificates unless Includes.keyTypes says otherwise, in pages', async () => {
    const ec = acm.seed({ certificatePem: makeCertificate({ domains: ['ec.example.com'] }).certPem });
    const rsa = acm.seed({ certificatePem: makeCertificate({ domains: ['rsa.example.com'], keyType: 'rsa-2048' }).certPem });
    const plain = await client.send(new ListCertificatesCommand({}));
    expect(plain.CertificateSummaryList!.map((c) => c.CertificateArn)).toEqual([rsa]);

    const first = await client.send(new ListCertificatesCommand({ Includes: { keyTypes: ['EC_prime256v1', 'RSA_2048'] }, MaxItems: 1 }));
    expect(first.CertificateSummaryList!.map((c) => c.CertificateArn)).toEqual([ec]);
    expect(first.NextToken).toBeTruthy();
    const second = await client.send(
      new ListCertificatesCommand({ Includes: { keyTypes: ['EC_prime256v1', 'RSA_2048'] }, MaxItems: 1, NextToken: first.NextToken }),
    );
    expect(second.CertificateSummaryList!.map((c) => c.CertificateArn)).toEqual([rsa]);
    expect(second.NextToken).toBeUndefined();
  });

  it('re-imports into the same ARN, keeping tags and InUseBy; refuses tags and a key algorithm change on re-import', async () => {
    const { CertificateArn } = await client.send(
      new ImportCertificateCommand(importInput(makeCertificate({ domains: ['example.com'] }), { Tags: [{ Key: 'a', Value: 'b' }] })),
    );
    acm.setInUse(CertificateArn!, ['arn:aws:cloudfront::123456789012:distribution/E1']);
    const renewed = makeCertificate({ domains: ['example.com', 'new.example.com'] });
    const again = await client.send(new ImportCertificateCommand(importInput(renewed, { CertificateArn })));
    expect(again.CertificateArn).toBe(CertificateArn);
    expect(acm.certificate(CertificateArn!)).toMatchObject({
      importCount: 2,
      inUseBy: ['arn:aws:cloudfront::123456789012:distribution/E1'],
      tags: [{ Key: 'a', Value: 'b' }],
    });

    const tagged = await awsError(client.send(new ImportCertificateCommand(importInput(renewed, { CertificateArn, Tags: [{ Key: 'a', Value: 'c' }] }))));
    expect([tagged.name, tagged.message, tagged.$metadata.httpStatusCode]).toEqual(['ValidationException', 'Tagging is not permitted on re-import.', 400]);

    const rsa = await awsError(
      client.send(new ImportCertificateCommand(importInput(makeCertificate({ domains: ['example.com'], keyType: 'rsa-2048' }), { CertificateArn }))),
    );
    expect(rsa.name).toBe('ValidationException');
    expect(rsa.message).toContain('EC_prime256v1');
  });

  it('refuses what ACM refuses: outside the validity window, a broken or missing chain, a foreign key, an oversized key', async () => {
    const now = Date.now();
    const cases: CertificateMaterial[] = [
      makeCertificate({ domains: ['example.com'], notBefore: new Date(now + 86_400_000) }),
      makeCertificate({ domains: ['example.com'], notBefore: new Date(now - 10 * 86_400_000), notAfter: new Date(now - 86_400_000) }),
      { ...makeCertificate({ domains: ['example.com'] }), chainPem: makeSelfSigned({ domains: ['other CA'] }).certPem },
      { ...makeCertificate({ domains: ['example.com'] }), chainPem: '' },
      { ...makeCertificate({ domains: ['example.com'] }), keyPem: makeCertificate({ domains: ['x.example.com'] }).keyPem },
      { ...makeCertificate({ domains: ['example.com'] }), keyPem: `${'#'.repeat(5200)}\n${makeCertificate({ domains: ['x.example.com'] }).keyPem}` },
    ];
    for (const material of cases) {
      const error = await awsError(client.send(new ImportCertificateCommand(importInput(material))));
      expect(error.name).toBe('ValidationException');
    }
    expect(acm.certificates()).toHaveLength(0);
    // A self-signed certificate needs no chain.
    await client.send(new ImportCertificateCommand(importInput(makeSelfSigned({ domains: ['self.example.com'] }))));
    expect(acm.certificates()).toHaveLength(1);
  });

  it('answers unknown ARNs, foreign regions and injected faults as AWS does', async () => {
    const missing = await awsError(client.send(new DescribeCertificateCommand({ CertificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/nope' })));
    expect(missing.name).toBe('ResourceNotFoundException');

    const elsewhere = new ACMClient({ region: 'us-east-1', endpoint: acm.endpoint, credentials: TEST_AWS_CREDENTIALS, maxAttempts: 1 });
    const scoped = await awsError(elsewhere.send(new ListCertificatesCommand({})));
    expect(scoped.name).toBe('InvalidSignatureException');
    elsewhere.destroy();

    acm.throttle(2, 'ListCertificates');
    expect((await awsError(client.send(new ListCertificatesCommand({})))).name).toBe('ThrottlingException');
    await client.send(new DescribeCertificateCommand({ CertificateArn: acm.seed({ certificatePem: makeSelfSigned({ domains: ['a.example'] }).certPem }) }));
    expect((await awsError(client.send(new ListCertificatesCommand({})))).name).toBe('ThrottlingException');
    await client.send(new ListCertificatesCommand({}));

    acm.inject({ kind: 'error', type: 'InternalFailure', status: 500, times: 1 });
    const failed = await awsError(client.send(new ListCertificatesCommand({})));
    expect([failed.name, failed.$metadata.httpStatusCode]).toEqual(['InternalFailure', 500]);
    expect(acm.requests.map((r) => r.errorType ?? 'ok').slice(-5)).toEqual(['ThrottlingException', 'ok', 'ThrottlingException', 'ok', 'InternalFailure']);
  });

  it('answers an access key it does not know with UnrecognizedClientException (HTTP 400), when given the known ones', async () => {
    const strict = await startAcmStandin({ region: 'eu-west-1', accessKeyIds: [TEST_AWS_CREDENTIALS.accessKeyId] });
    const known = new ACMClient({ region: 'eu-west-1', endpoint: strict.endpoint, credentials: TEST_AWS_CREDENTIALS, maxAttempts: 1 });
    const stranger = new ACMClient({
      region: 'eu-west-1',
      endpoint: strict.endpoint,
      credentials: { accessKeyId: 'AKIASTRANGER', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    try {
      expect((await known.send(new ListCertificatesCommand({}))).CertificateSummaryList).toEqual([]);
      const refused = await awsError(stranger.send(new ListCertificatesCommand({})));
      expect([refused.name, refused.message, refused.$metadata.httpStatusCode]).toEqual([
        'UnrecognizedClientException',
        'The security token included in the request is invalid.',
        400,
      ]);
    } finally {
      known.destroy();
      stranger.destroy();
      await strict.stop();
    }
  });

  it('stop() closes the server and its open connections', async () => {
    await client.send(new ListCertificatesCommand({})); // leaves a keep-alive connection open
    await acm.stop();
    await expect(fetch(`${acm.endpoint}/`, { method: 'POST' })).rejects.toThrow();
    acm = await startAcmStandin(); // for afterEach
  });
});
