// `certkeeper doctor` with a Route53 DNS provider and ACM sinks, through the real @aws-sdk clients
// against the wire-protocol stand-ins (REST-XML Route53, JSON 1.1 ACM) and a real Pebble: the zone
// is found and listed, a missing zone, a wrong hostedZoneId, unknown credentials and a missing
// IAM permission each fail their own line; an ACM ARN that exists with the right key passes, a
// missing one or one holding another key type fails. The doctor changes nothing on either side.

import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPebble, type PebbleInstance } from '../../../src/devstack/pebble.js';
import { loadConfigFile } from '../../../src/config/load.js';
import { openConfigStore } from '../../helpers/state.js';
import { systemClock } from '../../../src/core/clock.js';
import { startAcmStandin, type AcmStandin } from '../../helpers/aws/acm-standin.js';
import { awsTestEnv, startRoute53Standin, TEST_ACCESS_KEY_ID, type Route53Standin, type StandinZone } from '../../helpers/aws/route53-standin.js';
import { makeCertificate } from '../../helpers/certs.js';
import { runCli } from '../../helpers/cli.js';
import { route53Provider, writeAwsConfig } from '../../helpers/aws/config.js';

interface Line {
  name: string;
  status: 'pass' | 'warn' | 'fail';
  message: string;
  cert?: string;
}
interface Report {
  ok: boolean;
  checks: Line[];
}

const REGION = 'eu-west-1';
/** A key IAM lets list hosted zones but not read record sets (set up in beforeAll). */
const LIMITED_KEY = 'AKIACERTKEEPERLIMITED';
/** A key with exactly the permissions the provider needs with hostedZoneId (no zone listing). */
const ZONE_ONLY_KEY = 'AKIACERTKEEPERZONEONLY';
/** A key neither stand-in knows. */
const UNKNOWN_KEY = 'AKIACERTKEEPERUNKNOWN';

let r53: Route53Standin;
let acm: AcmStandin;
let pebble: PebbleInstance;
let exampleZone: StandinZone;
let otherZone: StandinZone;
let ecArn: string;
let rsaArn: string;
const dirs: string[] = [];

beforeAll(async () => {
  r53 = await startRoute53Standin({
    zones: [{ name: 'example.test' }, { name: 'other.test' }],
    accessKeyIds: [TEST_ACCESS_KEY_ID, LIMITED_KEY, ZONE_ONLY_KEY],
    permissions: {
      [LIMITED_KEY]: ['ListHostedZonesByName', 'GetChange'],
      [ZONE_ONLY_KEY]: ['ListResourceRecordSets', 'ChangeResourceRecordSets', 'GetChange'],
    },
  });
  acm = await startAcmStandin({ region: REGION, accessKeyIds: [TEST_ACCESS_KEY_ID, LIMITED_KEY] });
  try {
    pebble = await startPebble({ dnsServer: r53.dnsAddress });
  } catch (error) {
    await Promise.all([r53.stop(), acm.stop()]);
    throw error;
  }
  exampleZone = r53.zone('example.test');
  otherZone = r53.zone('other.test');
  const ec = makeCertificate({ domains: ['www.example.test'], keyType: 'ecdsa-p256' });
  ecArn = acm.seed({ certificatePem: ec.certPem, privateKeyPem: ec.keyPem, chainPem: ec.chainPem });
  const rsa = makeCertificate({ domains: ['rsa.example.test'], keyType: 'rsa-2048' });
  rsaArn = acm.seed({ certificatePem: rsa.certPem, privateKeyPem: rsa.keyPem, chainPem: rsa.chainPem });
});
afterAll(async () => {
  await pebble?.stop();
  await Promise.all([r53?.stop(), acm?.stop()]);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A config with Route53 providers and ACM sinks at the stand-ins; `dns`, `sinks`, `certificates` are YAML list/map bodies. */
function writeConfig(parts: { dns: string; sinks?: string; certificates: string }): { dir: string; config: string } {
  const written = writeAwsConfig(pebble, r53, { prefix: 'ck-doctor-aws-', ...parts });
  dirs.push(written.dir);
  return written;
}

/** A route53 provider block named `name` (2-space indented map entry). */
const route53 = (name: string, extra = ''): string => route53Provider(r53, name, { extra });

async function doctor(config: string, accessKeyId = TEST_ACCESS_KEY_ID): Promise<{ code: number | null; report: Report }> {
  const result = await runCli(['--config', config, 'doctor', '--json'], { env: awsTestEnv(accessKeyId) });
  let report: Report;
  try {
    report = JSON.parse(result.stdout) as Report;
  } catch {
    throw new Error(`doctor printed no JSON (exit ${result.code}): ${result.stderr}`);
  }
  expect(report.checks.find((c) => c.name === 'config')).toMatchObject({ status: 'pass' });
  return { code: result.code, report };
}

const credentialsLine = (report: Report, provider: string): Line | undefined =>
  report.checks.find((c) => c.name === 'dns.credentials' && c.message.startsWith(`${provider}:`));
const certLines = (report: Report, name: string, cert: string): Line[] => report.checks.filter((c) => c.name === name && c.cert === cert);

describe('certkeeper doctor with Route53 and ACM', () => {
  it('passes when the hosted zone is found and listed and the ACM ARN holds the same key type; reads only', async () => {
    const { config } = writeConfig({
      dns: route53('aws'),
      sinks: `  alb:
    type: acm
    region: ${REGION}
    endpoint: ${acm.endpoint}
    certificateArn: ${ecArn}`,
      certificates: `  - { name: www, domains: [www.example.test], dns: aws, sinks: [alb] }`,
    });
    const requestsBefore = r53.requests.length;
    const acmBefore = acm.requests.length;
    const { code, report } = await doctor(config);
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(code).toBe(0);
    expect(credentialsLine(report, 'aws')).toMatchObject({
      status: 'pass',
      message: `aws: in hosted zone example.test (${exampleZone.id}); record sets listed`,
    });
    expect(certLines(report, 'dns.delegation', 'www')[0]).toMatchObject({
      status: 'pass',
      message: expect.stringContaining(`in hosted zone example.test (${exampleZone.id})`),
    });
    expect(certLines(report, 'dns.nameservers', 'www')[0]).toMatchObject({ status: 'pass' });
    expect(certLines(report, 'sink', 'www')[0]).toMatchObject({ status: 'pass', message: `alb: ${ecArn} exists (EC_prime256v1)` });

    // It asked the real questions, over the wire, and changed nothing.
    const asked = r53.requests.slice(requestsBefore);
    expect(asked.some((r) => r.operation === 'ListHostedZonesByName' && r.query.dnsname === 'example.test')).toBe(true);
    expect(asked.some((r) => r.operation === 'ListResourceRecordSets' && r.path === `/2013-04-01/hostedzone/${exampleZone.id}/rrset`)).toBe(true);
    expect(asked.filter((r) => r.operation === 'ChangeResourceRecordSets')).toEqual([]);
    const acmAsked = acm.requests.slice(acmBefore);
    expect(acmAsked.map((r) => r.operation)).toContain('DescribeCertificate');
    expect(acmAsked.filter((r) => r.operation === 'ImportCertificate')).toEqual([]);
  });

  it('fails a name no hosted zone holds, an unknown hostedZoneId, and a hostedZoneId that does not hold the name', async () => {
    const { config } = writeConfig({
      dns: [
        route53('nozone'),
        route53('badid', '    hostedZoneId: Z0NOSUCHZONE0000000\n'),
        route53('wrongzone', `    hostedZoneId: ${otherZone.id}\n`),
        route53('rightid', `    hostedZoneId: /hostedzone/${exampleZone.id}\n`),
        route53('private', '    privateZone: true\n'),
      ].join(''),
      certificates: `  - { name: lost, domains: [www.nowhere.test], dns: nozone }
  - { name: badid, domains: [badid.example.test], dns: badid }
  - { name: wrongzone, domains: [wrong.example.test], dns: wrongzone }
  - { name: rightid, domains: [right.example.test], dns: rightid }
  - { name: private, domains: [private.example.test], dns: private }`,
    });
    const { code, report } = await doctor(config);
    expect(code).toBe(1);
    expect(credentialsLine(report, 'nozone')).toMatchObject({
      status: 'fail',
      message: 'nozone: no public hosted zone holds _acme-challenge.www.nowhere.test',
    });
    // No DNS server answers for nowhere.test either (the stand-in refuses names outside its zones).
    expect(certLines(report, 'dns.delegation', 'lost')[0]).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('_acme-challenge.www.nowhere.test'),
    });
    expect(credentialsLine(report, 'badid')).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(/^badid: Route53: NoSuchHostedZone: .*Z0NOSUCHZONE0000000/),
    });
    expect(credentialsLine(report, 'wrongzone')).toMatchObject({
      status: 'fail',
      message: `wrongzone: hosted zone ${otherZone.id} does not hold _acme-challenge.wrong.example.test`,
    });
    expect(credentialsLine(report, 'rightid')).toMatchObject({
      status: 'pass',
      message: `rightid: in hosted zone example.test (${exampleZone.id}); record sets listed`,
    });
    // A private zone of that name does not exist: the public one is not taken instead.
    expect(credentialsLine(report, 'private')).toMatchObject({
      status: 'fail',
      message: 'private: no private hosted zone holds _acme-challenge.private.example.test',
    });
  });

  it('fails on credentials AWS does not know, and on a missing IAM permission, naming the AWS error', async () => {
    const { config } = writeConfig({
      dns: route53('aws'),
      sinks: `  alb:
    type: acm
    region: ${REGION}
    endpoint: ${acm.endpoint}
    certificateArn: ${ecArn}`,
      certificates: `  - { name: www, domains: [www.example.test], dns: aws, sinks: [alb] }`,
    });
    const unknown = await doctor(config, UNKNOWN_KEY);
    expect(unknown.code).toBe(1);
    expect(credentialsLine(unknown.report, 'aws')).toMatchObject({
      status: 'fail',
      message: 'aws: Route53: InvalidClientTokenId: The security token included in the request is invalid. (check the AWS credentials)',
    });
    expect(certLines(unknown.report, 'sink', 'www')[0]).toMatchObject({
      status: 'fail',
      message: `alb: cannot read ${ecArn}: UnrecognizedClientException: The security token included in the request is invalid. (check the AWS credentials)`,
    });

    // This key may list zones but not read their record sets: the zone is found, the listing is denied.
    const limited = await doctor(config, LIMITED_KEY);
    expect(limited.code).toBe(1);
    expect(credentialsLine(limited.report, 'aws')).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(
        new RegExp(
          `^aws: Route53: AccessDenied: User: .* is not authorized to perform: route53:ListResourceRecordSets on resource: arn:aws:route53:::hostedzone/${exampleZone.id} .*\\(the credentials lack this permission\\)$`,
        ),
      ),
    });
    expect(
      r53.requests.some((r) => r.accessKeyId === LIMITED_KEY && r.operation === 'ListResourceRecordSets' && r.status === 403 && r.errorCode === 'AccessDenied'),
    ).toBe(true);
    // ACM denies DescribeCertificate to it as well (an IAM policy without acm:DescribeCertificate).
    acm.inject({
      kind: 'error',
      operation: 'DescribeCertificate',
      type: 'AccessDeniedException',
      message: `User: arn:aws:iam::123456789012:user/limited is not authorized to perform: acm:DescribeCertificate on resource: ${ecArn}`,
      times: 1,
    });
    const denied = await doctor(config);
    acm.clearFaults();
    expect(certLines(denied.report, 'sink', 'www')[0]).toMatchObject({
      status: 'fail',
      message: expect.stringContaining(
        'AccessDeniedException: User: arn:aws:iam::123456789012:user/limited is not authorized to perform: acm:DescribeCertificate',
      ),
    });
  });

  it('passes with hostedZoneId when the IAM policy grants no zone listing (the provider needs none then)', async () => {
    const { config } = writeConfig({
      dns: route53('pinned', `    hostedZoneId: ${exampleZone.id}\n`),
      certificates: `  - { name: www, domains: [www.example.test], dns: pinned }`,
    });
    const { code, report } = await doctor(config, ZONE_ONLY_KEY);
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(code).toBe(0);
    // The zone's name could not be looked up, so the line names it by id; the listing itself worked.
    expect(credentialsLine(report, 'pinned')).toMatchObject({ status: 'pass', message: `pinned: in hosted zone ${exampleZone.id}; record sets listed` });
    expect(r53.requests.some((r) => r.accessKeyId === ZONE_ONLY_KEY && r.operation === 'ListHostedZonesByName' && r.errorCode === 'AccessDenied')).toBe(true);
    // Without the zone's name from Route53, the nameserver check finds the zone by its SOA.
    expect(certLines(report, 'dns.nameservers', 'www')[0]).toMatchObject({
      status: 'pass',
      message: expect.stringMatching(/^example\.test: 1 nameserver\(s\) answer/),
    });
  });

  it('fails an ACM ARN that does not exist or holds another key type; a recorded ARN that is gone only warns; an outage warns', async () => {
    const missingArn = `arn:aws:acm:${REGION}:123456789012:certificate/00000000-0000-4000-8000-000000000000`;
    const { config } = writeConfig({
      dns: route53('aws'),
      sinks: `  missing: { type: acm, region: ${REGION}, endpoint: ${acm.endpoint}, certificateArn: ${missingArn} }
  rsa: { type: acm, region: ${REGION}, endpoint: ${acm.endpoint}, certificateArn: ${rsaArn} }
  recorded: { type: acm, region: ${REGION}, endpoint: ${acm.endpoint} }
  fresh: { type: acm, region: ${REGION}, endpoint: ${acm.endpoint} }`,
      certificates: `  - { name: www, domains: [www.example.test], dns: aws, sinks: [missing, rsa, recorded, fresh] }`,
    });
    // The same ARN for a certificate whose keyType is rsa-2048 (one certificate per ARN: two would be a config error).
    const { config: rsaConfig } = writeConfig({
      dns: route53('aws'),
      sinks: `  rsa: { type: acm, region: ${REGION}, endpoint: ${acm.endpoint}, certificateArn: ${rsaArn} }`,
      certificates: `  - { name: bigrsa, domains: [big.example.test], dns: aws, keyType: rsa-2048, sinks: [rsa] }`,
    });
    // The state of an earlier deploy through "recorded", whose certificate was deleted since.
    const store = await openConfigStore(loadConfigFile(config, { env: awsTestEnv() }), systemClock);
    await store.putSinkState('www', 'recorded', { certificateArn: missingArn.replace(/0000$/, '0001'), region: REGION, keyAlgorithm: 'EC_prime256v1' });

    const { code, report } = await doctor(config);
    expect(code).toBe(1);
    const sinks = certLines(report, 'sink', 'www');
    expect(sinks.find((l) => l.message.startsWith('missing:'))).toMatchObject({
      status: 'fail',
      message: expect.stringContaining(`missing: certificateArn ${missingArn} does not exist in ${REGION}: ResourceNotFoundException`),
    });
    expect(sinks.find((l) => l.message.startsWith('rsa:'))).toMatchObject({
      status: 'fail',
      message: `rsa: ${rsaArn} holds a RSA_2048 key; ACM cannot re-import it with EC_prime256v1 (keyType ecdsa-p256)`,
    });
    expect(sinks.find((l) => l.message.startsWith('recorded:'))).toMatchObject({ status: 'warn', message: expect.stringContaining('no longer exists') });
    expect(sinks.find((l) => l.message.startsWith('fresh:'))).toMatchObject({ status: 'pass', message: expect.stringContaining('nothing imported yet') });
    // The same RSA certificate is fine for a certificate whose keyType is rsa-2048.
    const rsaReport = (await doctor(rsaConfig)).report;
    expect(certLines(rsaReport, 'sink', 'bigrsa')[0]).toMatchObject({ status: 'pass', message: `rsa: ${rsaArn} exists (RSA_2048)` });

    // ACM answering 503 through every SDK attempt: cannot tell now, so a warning, not a failure.
    acm.inject({ kind: 'error', operation: 'DescribeCertificate', type: 'ServiceUnavailableException', status: 503, message: 'Service unavailable' });
    const outage = await doctor(rsaConfig);
    acm.clearFaults();
    expect(certLines(outage.report, 'sink', 'bigrsa')[0]).toMatchObject({
      status: 'warn',
      message: expect.stringContaining(`rsa: cannot check ${rsaArn} now: ServiceUnavailableException`),
    });
  });
});
