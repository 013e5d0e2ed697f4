// The route53 provider's pure parts: TXT quoting and parsing, Route53's names, zone candidates,
// how SDK errors are classified, the retry delays, and the config schema.

import { describe, expect, it } from 'vitest';
import { describeAwsError, retryDelayMs } from '../../../src/dns/providers/route53/index.js';
import { bareZoneId, fromRoute53Name, parseTxtStrings, quoteTxt, txtContent, zoneCandidates } from '../../../src/dns/providers/route53/records.js';
import { route53Schema } from '../../../src/dns/providers/route53/schema.js';

describe('TXT values in Route53 presentation format', () => {
  it('quotes a challenge value', () => {
    expect(quoteTxt('LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0')).toBe('"LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"');
  });

  it('escapes quotes, backslashes and non-printable bytes, and splits at 255 bytes', () => {
    expect(quoteTxt('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(quoteTxt('tab\there')).toBe('"tab\\011here"');
    expect(quoteTxt('')).toBe('""');
    const long = 'x'.repeat(300);
    expect(quoteTxt(long)).toBe(`"${'x'.repeat(255)}" "${'x'.repeat(45)}"`);
    expect(txtContent(quoteTxt(long))).toBe(long);
  });

  it('reads back what it writes, and what other tools wrote', () => {
    for (const value of ['plain', 'with "quotes"', 'back\\slash', 'ünïcode', 'x'.repeat(600)]) {
      expect(txtContent(quoteTxt(value))).toBe(value);
    }
    expect(parseTxtStrings('"v=spf1" "include:_spf.example.com ~all"')?.map(String)).toEqual(['v=spf1', 'include:_spf.example.com ~all']);
    expect(txtContent('"a" "b"')).toBe('ab');
    expect(txtContent('bare')).toBe('bare');
    expect(txtContent('"\\052"')).toBe('*');
  });

  it('refuses malformed values instead of guessing', () => {
    expect(parseTxtStrings('"unterminated')).toBeUndefined();
    expect(parseTxtStrings('"trailing backslash\\')).toBeUndefined();
    expect(txtContent('"open')).toBeUndefined();
  });
});

describe('Route53 names and zones', () => {
  it('turns returned names into ours', () => {
    expect(fromRoute53Name('_acme-challenge.Example.COM.')).toBe('_acme-challenge.example.com');
    expect(fromRoute53Name('\\052.example.com.')).toBe('*.example.com');
    expect(fromRoute53Name('example.com')).toBe('example.com');
  });

  it('lists the possible zones of a name, longest first', () => {
    expect(zoneCandidates('_acme-challenge.www.example.co.uk')).toEqual([
      '_acme-challenge.www.example.co.uk',
      'www.example.co.uk',
      'example.co.uk',
      'co.uk',
      'uk',
    ]);
  });

  it('strips the /hostedzone/ prefix', () => {
    expect(bareZoneId('/hostedzone/Z123')).toBe('Z123');
    expect(bareZoneId('hostedzone/Z123')).toBe('Z123');
    expect(bareZoneId('Z123')).toBe('Z123');
  });
});

describe('AWS error classification', () => {
  const sdkError = (name: string, status: number, extra: Record<string, unknown> = {}): Error =>
    Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status, requestId: 'req-1' }, ...extra });

  it('retries throttling, PriorRequestNotComplete, 429, 5xx and network failures', () => {
    expect(describeAwsError(sdkError('Throttling', 400))).toMatchObject({ code: 'Throttling', httpStatus: 400, retryable: true, requestId: 'req-1' });
    expect(describeAwsError(sdkError('PriorRequestNotComplete', 400)).retryable).toBe(true);
    expect(describeAwsError(sdkError('Whatever', 429)).retryable).toBe(true);
    expect(describeAwsError(sdkError('InternalFailure', 500)).retryable).toBe(true);
    expect(describeAwsError(sdkError('ServiceUnavailable', 503)).retryable).toBe(true);
    expect(describeAwsError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toMatchObject({
      code: 'ECONNREFUSED',
      retryable: true,
    });
    expect(describeAwsError(Object.assign(new Error('timed out'), { name: 'TimeoutError' })).retryable).toBe(true);
  });

  it('does not retry what another attempt cannot fix', () => {
    for (const [name, status] of [
      ['InvalidChangeBatch', 400],
      ['InvalidInput', 400],
      ['AccessDenied', 403],
      ['InvalidClientTokenId', 403],
      ['NoSuchHostedZone', 404],
    ] as const) {
      expect(describeAwsError(sdkError(name, status)), name).toMatchObject({ code: name, retryable: false });
    }
    expect(describeAwsError(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }))).toMatchObject({
      code: 'CredentialsProviderError',
      retryable: false,
    });
  });

  it('prefers the wire error code over the class name', () => {
    expect(describeAwsError(Object.assign(sdkError('Route53ServiceException', 400), { Code: 'Throttling' })).code).toBe('Throttling');
  });

  it('backs off 1 s, 2 s, 4 s … up to 20 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map(retryDelayMs)).toEqual([1000, 2000, 4000, 8000, 16_000, 20_000, 20_000]);
  });
});

describe('route53 config schema', () => {
  it('fills in the defaults', () => {
    expect(route53Schema.parse({ type: 'route53' })).toEqual({
      type: 'route53',
      privateZone: false,
      ttl: 10,
      maxRetries: 5,
      changeTimeout: 180_000,
      changeInterval: 5000,
      batchWindow: 250,
      requestsPerSecond: 5,
    });
  });

  it('takes every documented field', () => {
    const config = route53Schema.parse({
      type: 'route53',
      hostedZoneId: '/hostedzone/Z0123456789ABC',
      privateZone: true,
      region: 'eu-central-1',
      roleArn: 'arn:aws:iam::123456789012:role/certkeeper',
      endpoint: 'http://127.0.0.1:4566',
      stsEndpoint: 'https://sts.eu-central-1.amazonaws.com',
      ttl: 30,
      maxRetries: 2,
      changeTimeout: '5m',
      changeInterval: '1s',
      propagation: { nameservers: ['1.1.1.1'], timeout: '2m' },
    });
    expect(config).toMatchObject({ hostedZoneId: 'Z0123456789ABC', changeTimeout: 300_000, changeInterval: 1000, propagation: { timeout: 120_000 } });
  });

  it('rejects what would fail later', () => {
    const bad = (extra: Record<string, unknown>): boolean => route53Schema.safeParse({ type: 'route53', ...extra }).success;
    expect(bad({ hostedZoneId: 'not a zone id' })).toBe(false);
    expect(bad({ region: 'mars' })).toBe(false);
    expect(bad({ roleArn: 'arn:aws:iam::123:user/bob' })).toBe(false);
    expect(bad({ endpoint: 'localhost:4566' })).toBe(false);
    expect(bad({ maxRetries: 11 })).toBe(false);
    expect(bad({ changeTimeout: '2h' })).toBe(false);
    expect(bad({ stsEndpoint: 'http://127.0.0.1:1' })).toBe(false); // only with roleArn
    expect(bad({ accessKeyId: 'AKIA…' })).toBe(false); // credentials come from the default chain
  });
});
