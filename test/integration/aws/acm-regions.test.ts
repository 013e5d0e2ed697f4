// Two ACM sinks (two regions) for one certificate, through the real engine, wiring and file store,
// each against its own ACM stand-in: one region failing does not undo the other, only the failed
// one is retried, and a renewal re-imports into both regions' ARNs. The issuer is a fake.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { wire } from '../../../src/cli/wiring.js';
import { silentLogger } from '../../../src/core/logger.js';
import { normalizeSerial } from '../../../src/core/x509.js';
import { parseConfig } from '../../../src/config/load.js';
import type { EngineDeps } from '../../../src/engine/contracts.js';
import type { IssueRequest, Issuer } from '../../../src/issuers/contract.js';
import { renew } from '../../../src/engine/renew.js';
import { startAcmStandin, TEST_AWS_ENV, type AcmStandin } from '../../helpers/aws/acm-standin.js';
import { makeCertificate } from '../../helpers/certs.js';
import { ManualClock } from '../../helpers/clock.js';

const DAY = 86_400_000;

class FakeIssuer implements Issuer {
  readonly directoryUrl = 'https://ca.test/directory';
  calls = 0;
  constructor(private readonly clock: ManualClock) {}
  async issue(request: IssueRequest) {
    this.calls++;
    const notBefore = new Date(this.clock.now().getTime() - 60_000);
    return { material: makeCertificate({ domains: request.domains, notBefore, days: 90, keyType: request.keyType }) };
  }
}

beforeAll(() => {
  for (const name of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE']) delete process.env[name];
  Object.assign(process.env, TEST_AWS_ENV);
});

let east: AcmStandin;
let west: AcmStandin;
let clock: ManualClock;
let deps: EngineDeps;
let issuer: FakeIssuer;
let stateDir: string;

beforeEach(async () => {
  clock = new ManualClock(new Date(Math.floor(Date.now() / 1000) * 1000));
  east = await startAcmStandin({ region: 'us-east-1', now: () => clock.now() });
  west = await startAcmStandin({ region: 'eu-west-1', now: () => clock.now() });
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-acm-regions-'));
  const config = parseConfig(
    `
stateDir: ./state
acme: { directory: "https://ca.test/directory", email: ops@example.com }
dns: { corp: { type: exec, command: ["/bin/true"] } }
sinks:
  cloudfront: { type: acm, region: us-east-1, endpoint: "${east.endpoint}", tags: { cdn: "yes" } }
  alb-eu: { type: acm, region: eu-west-1, endpoint: "${west.endpoint}" }
certificates:
  - { name: www, domains: [example.com, "*.example.com"], dns: corp, sinks: [cloudfront, alb-eu] }
`,
    path.join(dir, 'certkeeper.yaml'),
    { env: {} },
  );
  stateDir = config.stateDir;
  issuer = new FakeIssuer(clock);
  deps = { ...(await wire(config, { clock, logger: silentLogger })), issuer: async () => issuer };
});
afterEach(async () => {
  await east.stop();
  await west.stop();
});

const sinkState = (sink: string) =>
  JSON.parse(readFileSync(path.join(stateDir, 'store/certs/www/data', sink), 'utf8')) as { certificateArn: string; region: string };

describe('ACM sinks in two regions, through the engine', () => {
  it('keeps the region that worked, retries only the failed one, and re-imports both on renewal', async () => {
    // eu-west-1 has an outage: every ImportCertificate answers 500 (the SDK retries 3 times).
    west.inject({ kind: 'error', operation: 'ImportCertificate', type: 'ServiceUnavailableException', message: 'Service unavailable', status: 503 });
    const first = await renew({}, deps);
    expect(first.outcomes[0]).toMatchObject({
      cert: 'www',
      action: 'issue',
      result: 'failure',
      failedSink: 'alb-eu',
      code: 'SINK_FAILED',
      deployed: ['cloudfront'],
    });
    expect(first.outcomes[0]!.error).toContain('sink "alb-eu" (ACM eu-west-1)');
    const serial = first.outcomes[0]!.serial!;
    const record = await deps.store.getRecord('www');
    expect(record.deployed).toEqual({ cloudfront: serial });
    const eastArn = sinkState('cloudfront').certificateArn;
    expect(eastArn).toMatch(/^arn:aws:acm:us-east-1:/);
    expect(normalizeSerial(east.certificate(eastArn)!.serial)).toBe(serial);
    expect(west.certificates()).toHaveLength(0);

    // The outage is over. The next run orders nothing and deploys to eu-west-1 only.
    west.clearFaults();
    east.requests.length = 0;
    const second = await renew({}, deps);
    expect(second.outcomes[0]).toMatchObject({ action: 'deploy', reason: 'deploy-pending', result: 'success', deployed: ['alb-eu'] });
    expect(issuer.calls).toBe(1);
    expect(east.requests).toHaveLength(0);
    const westArn = sinkState('alb-eu').certificateArn;
    expect(westArn).toMatch(/^arn:aws:acm:eu-west-1:/);
    expect((await deps.store.getRecord('www')).deployed).toEqual({ cloudfront: serial, 'alb-eu': serial });

    // Nothing due, nothing pending: the SDK is not even asked.
    west.requests.length = 0;
    const quiet = await renew({}, deps);
    expect(quiet.skipped).toBe(1);
    expect([...east.requests, ...west.requests]).toHaveLength(0);

    // Renewal: both regions re-import into their own ARNs; tags only ever went with the first import.
    clock.advance(61 * DAY);
    const third = await renew({}, deps);
    expect(third.outcomes[0]).toMatchObject({ action: 'renew', result: 'success', deployed: ['cloudfront', 'alb-eu'] });
    const renewed = third.outcomes[0]!.serial!;
    expect(renewed).not.toBe(serial);
    expect(east.certificates().map((c) => c.arn)).toEqual([eastArn]);
    expect(west.certificates().map((c) => c.arn)).toEqual([westArn]);
    expect(normalizeSerial(east.certificate(eastArn)!.serial)).toBe(renewed);
    expect(normalizeSerial(west.certificate(westArn)!.serial)).toBe(renewed);
    expect(east.certificate(eastArn)!.tags).toContainEqual({ Key: 'cdn', Value: 'yes' });
    const reimport = east.requests.filter((r) => r.operation === 'ImportCertificate').at(-1)!;
    expect(reimport.body).toMatchObject({ CertificateArn: eastArn });
    expect(reimport.body).not.toHaveProperty('Tags');
  });

  it('deploys to the second region when the first-listed one fails, and retries only the first', async () => {
    east.inject({ kind: 'error', operation: 'ImportCertificate', type: 'ServiceUnavailableException', message: 'Service unavailable', status: 503 });
    const first = await renew({}, deps);
    expect(first.outcomes[0]).toMatchObject({ result: 'failure', failedSink: 'cloudfront', deployed: ['alb-eu'] });
    const serial = first.outcomes[0]!.serial!;
    expect(normalizeSerial(west.certificate(sinkState('alb-eu').certificateArn)!.serial)).toBe(serial);
    east.clearFaults();
    west.requests.length = 0;
    const second = await renew({}, deps);
    expect(second.outcomes[0]).toMatchObject({ action: 'deploy', result: 'success', deployed: ['cloudfront'] });
    expect(west.requests).toHaveLength(0);
    expect(issuer.calls).toBe(1);
  });
});
