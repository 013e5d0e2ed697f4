// The route53 provider with the real @aws-sdk/client-route-53 against the Route53 stand-in on
// loopback: zone discovery, appending and removing only our value, serialized writes for an
// apex and its wildcard, INSYNC polling, retries on throttling, and the errors when it gives up.

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../../../src/core/logger.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import type { TxtRecord } from '../../../src/dns/contract.js';
import { Route53Provider } from '../../../src/dns/providers/route53/index.js';
import { route53Schema } from '../../../src/dns/providers/route53/schema.js';
import { awsTestEnv, startRoute53Standin, type Route53Standin, type StandinZoneSpec } from '../../helpers/aws/route53-standin.js';
import { txtAt } from '../../helpers/cli.js';
import { ManualClock } from '../../helpers/clock.js';

const ENV = awsTestEnv();

beforeAll(() => {
  for (const name of ['AWS_PROFILE', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_SESSION_TOKEN'])
    vi.stubEnv(name, undefined);
  for (const [name, value] of Object.entries(ENV)) vi.stubEnv(name, value);
});
afterAll(() => {
  vi.unstubAllEnvs();
});

const standins: Route53Standin[] = [];
afterEach(async () => {
  await Promise.all(standins.splice(0).map((standin) => standin.stop()));
});

async function standin(zones: StandinZoneSpec[], options: Parameters<typeof startRoute53Standin>[0] = {}): Promise<Route53Standin> {
  const started = await startRoute53Standin({ zones, ...options });
  standins.push(started);
  return started;
}

/** A clock whose sleeps pass at once and are remembered. */
class RecordingClock extends ManualClock {
  readonly sleeps: number[] = [];
  override async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    await super.sleep(ms, signal);
  }
}

function recordingLogger(lines: unknown[]): Logger {
  const log = (obj: unknown, msg?: string): void => {
    lines.push(typeof obj === 'string' ? obj : { ...(obj as object), msg });
  };
  const logger: Logger = { trace: log, debug: log, info: log, warn: log, error: log, child: () => logger };
  return logger;
}

function provider(target: Route53Standin, extra: Record<string, unknown> = {}, clock = new RecordingClock(), logLines: unknown[] = []): Route53Provider {
  // Pacing (at most 5 requests a second by default) is tested with batches (test/integration/dns/batch.test.ts); here it stays out of the recorded sleeps.
  const config = route53Schema.parse({ type: 'route53', endpoint: target.endpoint, requestsPerSecond: 50, ...extra });
  return new Route53Provider(config, { name: 'aws', clock, logger: recordingLogger(logLines) });
}

const record = (fqdn: string, value: string): TxtRecord => ({ fqdn, value, domain: fqdn.replace(/^_acme-challenge\./, '') });

function operations(target: Route53Standin, name?: string): string[] {
  return target.requests.map((request) => request.operation).filter((operation) => name === undefined || operation === name);
}

async function failure(promise: Promise<unknown>): Promise<CertkeeperError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(CertkeeperError);
  return error as CertkeeperError;
}

describe('zone discovery', () => {
  it('picks the longest hosted zone that is a suffix of the name, ignoring look-alikes', async () => {
    const r53 = await standin([
      { name: 'example.com' },
      { name: 'sub.example.com' },
      { name: 'ample.com' },
      { name: 'example.com.au' },
      { name: 'b.sub.example.com' },
    ]);
    const dns = provider(r53);
    await dns.presentTxt(record('_acme-challenge.a.sub.example.com', 'deep'));
    await dns.presentTxt(record('_acme-challenge.example.com', 'apex'));
    expect(r53.recordSet('sub.example.com', '_acme-challenge.a.sub.example.com')?.values).toEqual(['"deep"']);
    expect(r53.recordSet('example.com', '_acme-challenge.a.sub.example.com')).toBeUndefined();
    expect(r53.recordSet('example.com', '_acme-challenge.example.com')?.values).toEqual(['"apex"']);
    // Each candidate suffix was asked for exactly, longest first, and each only once.
    const asked = r53.requests.filter((request) => request.operation === 'ListHostedZonesByName').map((request) => request.query.dnsname);
    expect(asked).toEqual(['_acme-challenge.a.sub.example.com', 'a.sub.example.com', 'sub.example.com', '_acme-challenge.example.com', 'example.com']);
  });

  it('chooses the public or the private zone of the same name as configured', async () => {
    const r53 = await standin([{ name: 'example.com', privateZone: true }, { name: 'example.com' }, { name: 'internal.example.com', privateZone: true }]);
    const publicZone = r53.zones().find((zone) => !zone.privateZone && zone.name === 'example.com')!;
    const privateZone = r53.zones().find((zone) => zone.privateZone && zone.name === 'example.com')!;

    await provider(r53).presentTxt(record('_acme-challenge.www.example.com', 'public-value'));
    await provider(r53, { privateZone: true }).presentTxt(record('_acme-challenge.www.example.com', 'private-value'));
    expect(r53.recordSet(publicZone.id, '_acme-challenge.www.example.com')?.values).toEqual(['"public-value"']);
    expect(r53.recordSet(privateZone.id, '_acme-challenge.www.example.com')?.values).toEqual(['"private-value"']);
    // Only the public zone is on the internet, where the CA looks.
    expect(await txtAt(r53.dnsAddress, '_acme-challenge.www.example.com')).toEqual(['public-value']);

    // A private zone further down does not catch a public name: the public parent does.
    await provider(r53).presentTxt(record('_acme-challenge.app.internal.example.com', 'v'));
    expect(r53.recordSet(publicZone.id, '_acme-challenge.app.internal.example.com')?.values).toEqual(['"v"']);
    expect(r53.recordSet('internal.example.com', '_acme-challenge.app.internal.example.com')).toBeUndefined();
  });

  it('pages through many zones sharing a name', async () => {
    const zones: StandinZoneSpec[] = Array.from({ length: 23 }, (_, index) => ({
      name: 'example.com',
      privateZone: true,
      id: `ZPRIVATE${String(index).padStart(3, '0')}`,
    }));
    zones.push({ name: 'example.com', id: 'ZZZPUBLIC' }, { name: 'zzz.example.com', id: 'ZAFTER' });
    const r53 = await standin(zones);
    await provider(r53).presentTxt(record('_acme-challenge.example.com', 'found'));
    expect(r53.recordSet('ZZZPUBLIC', '_acme-challenge.example.com')?.values).toEqual(['"found"']);
    const pages = r53.requests.filter((request) => request.operation === 'ListHostedZonesByName' && request.query.dnsname === 'example.com');
    expect(pages.map((request) => request.query.hostedzoneid)).toEqual([undefined, 'ZPRIVATE010', 'ZPRIVATE020']);
  });

  it('fails with DNS_ZONE_NOT_FOUND when no zone fits, or when two fit equally', async () => {
    const r53 = await standin([{ name: 'example.com' }, { name: 'twice.test', id: 'ZTWICE1' }, { name: 'twice.test', id: 'ZTWICE2' }]);
    const none = await failure(provider(r53).presentTxt(record('_acme-challenge.example.org', 'x')));
    expect(none).toMatchObject({ code: 'DNS_ZONE_NOT_FOUND', retryable: false });
    expect(none.message).toContain('no public hosted zone for TXT _acme-challenge.example.org');
    const privateOnly = await failure(provider(r53, { privateZone: true }).presentTxt(record('_acme-challenge.example.com', 'x')));
    expect(privateOnly.message).toContain('no private hosted zone');
    const ambiguous = await failure(provider(r53).presentTxt(record('_acme-challenge.twice.test', 'x')));
    expect(ambiguous).toMatchObject({ code: 'DNS_ZONE_NOT_FOUND', retryable: false });
    expect(ambiguous.message).toContain('ZTWICE1, ZTWICE2');
    expect(ambiguous.message).toContain('set hostedZoneId');
    expect(operations(r53, 'ChangeResourceRecordSets')).toEqual([]);
  });

  it('uses a configured hostedZoneId without any discovery', async () => {
    const r53 = await standin([{ name: 'example.com', id: 'ZCONFIGURED' }]);
    const dns = provider(r53, { hostedZoneId: '/hostedzone/ZCONFIGURED' });
    await dns.presentTxt(record('_acme-challenge.example.com', 'v'));
    await dns.cleanupTxt(record('_acme-challenge.example.com', 'v'));
    expect(operations(r53, 'ListHostedZonesByName')).toEqual([]);
    expect(r53.requests.filter((request) => request.operation === 'ChangeResourceRecordSets').map((request) => request.path)).toEqual([
      '/2013-04-01/hostedzone/ZCONFIGURED/rrset',
      '/2013-04-01/hostedzone/ZCONFIGURED/rrset',
    ]);

    const missing = await failure(provider(r53, { hostedZoneId: 'ZGONE' }).presentTxt(record('_acme-challenge.example.com', 'v')));
    expect(missing).toMatchObject({ code: 'DNS_ZONE_NOT_FOUND', retryable: false });
    expect(missing.message).toContain('NoSuchHostedZone');
    expect(missing.message).toContain('check hostedZoneId');
  });
});

describe('present and cleanup', () => {
  const FQDN = '_acme-challenge.example.com';

  it("keeps another tool's value, removes only ours, and DELETEs the exact last set", async () => {
    const r53 = await standin([{ name: 'example.com', records: [{ name: FQDN, type: 'TXT', ttl: 300, values: ['"someone-else"'] }] }]);
    const dns = provider(r53);
    await dns.presentTxt(record(FQDN, 'ours'));
    expect(r53.recordSet('example.com', FQDN)).toEqual({ name: FQDN, type: 'TXT', ttl: 10, values: ['"someone-else"', '"ours"'] });
    expect(await txtAt(r53.dnsAddress, FQDN)).toEqual(['someone-else', 'ours']);

    await dns.cleanupTxt(record(FQDN, 'ours'));
    expect(r53.recordSet('example.com', FQDN)?.values).toEqual(['"someone-else"']);
    expect(r53.changes.at(-1)?.actions).toEqual([{ action: 'UPSERT', name: FQDN, type: 'TXT', ttl: 10, values: ['"someone-else"'] }]);

    // Cleanup is idempotent: ours is gone, so nothing is written.
    const before = r53.changes.length;
    await dns.cleanupTxt(record(FQDN, 'ours'));
    expect(r53.changes).toHaveLength(before);

    // Our value alone: cleanup deletes the set, naming exactly its current TTL and values.
    r53.putRecordSet('example.com', { name: FQDN, type: 'TXT', ttl: 42, values: ['"only-ours"'] });
    await dns.cleanupTxt(record(FQDN, 'only-ours'));
    expect(r53.changes.at(-1)?.actions).toEqual([{ action: 'DELETE', name: FQDN, type: 'TXT', ttl: 42, values: ['"only-ours"'] }]);
    expect(r53.recordSet('example.com', FQDN)).toBeUndefined();
    expect(await txtAt(r53.dnsAddress, FQDN)).toEqual([]);
    await dns.cleanupTxt(record(FQDN, 'only-ours'));
    expect(operations(r53, 'ChangeResourceRecordSets')).toHaveLength(3);
  });

  it('presents a value once however often it is asked', async () => {
    const r53 = await standin([{ name: 'example.com' }]);
    const dns = provider(r53);
    await dns.presentTxt(record(FQDN, 'v'));
    await dns.presentTxt(record(FQDN, 'v'));
    expect(r53.recordSet('example.com', FQDN)?.values).toEqual(['"v"']);
    expect(operations(r53, 'ChangeResourceRecordSets')).toHaveLength(1);
  });

  it('serializes an apex and its wildcard presenting at once: both values are there when the CA looks', async () => {
    // PENDING for a while, so the two presents overlap for real.
    const r53 = await standin([{ name: 'example.com' }], { changeDelay: { pendingPolls: 2 } });
    const dns = provider(r53, { changeInterval: '100ms' });
    await Promise.all([dns.presentTxt(record(FQDN, 'apex-value')), dns.presentTxt(record(FQDN, 'wildcard-value'))]);
    // Each write saw the one before it: no value was lost in between.
    expect(r53.changes.map((change) => change.after[0]?.values)).toEqual([['"apex-value"'], ['"apex-value"', '"wildcard-value"']]);
    expect((await txtAt(r53.dnsAddress, FQDN)).sort()).toEqual(['apex-value', 'wildcard-value']);

    await Promise.all([dns.cleanupTxt(record(FQDN, 'apex-value')), dns.cleanupTxt(record(FQDN, 'wildcard-value'))]);
    expect(r53.changes.slice(2).map((change) => change.actions[0]!.action)).toEqual(['UPSERT', 'DELETE']);
    expect(r53.recordSet('example.com', FQDN)).toBeUndefined();
    expect(await txtAt(r53.dnsAddress, FQDN)).toEqual([]);
  });

  it('reads the set again when it changed between reading and deleting', async () => {
    const r53 = await standin([{ name: 'example.com', records: [{ name: FQDN, type: 'TXT', ttl: 10, values: ['"ours"'] }] }]);
    let meddled = false;
    r53.onRequest((request) => {
      // Right after our first read, another writer adds a value: our DELETE no longer matches.
      if (request.operation === 'ListResourceRecordSets' && !meddled) {
        meddled = true;
        r53.putRecordSet('example.com', { name: FQDN, type: 'TXT', ttl: 10, values: ['"ours"', '"newcomer"'] });
      }
    });
    await provider(r53).cleanupTxt(record(FQDN, 'ours'));
    expect(r53.requests.filter((request) => request.operation === 'ChangeResourceRecordSets').map((request) => request.errorCode)).toEqual([
      'InvalidChangeBatch',
      undefined,
    ]);
    expect(r53.recordSet('example.com', FQDN)?.values).toEqual(['"newcomer"']);
  });

  it('waits until the change is INSYNC, polling with the injected clock', async () => {
    const r53 = await standin([{ name: 'example.com' }], { changeDelay: { pendingPolls: 3 } });
    const clock = new RecordingClock();
    const dns = provider(r53, { changeInterval: '3s' }, clock);
    const servedWhilePending: string[][] = [];
    r53.onRequest((request) => {
      if (request.operation === 'GetChange') servedWhilePending.push(r53.servedTxt(FQDN));
    });
    await dns.presentTxt(record(FQDN, 'v'));
    expect(operations(r53, 'GetChange')).toHaveLength(4);
    expect(clock.sleeps).toEqual([3000, 3000, 3000]);
    // DNS serves the value only from the moment the change is INSYNC (right after its third
    // PENDING answer here), and present returned only once GetChange said INSYNC.
    expect(servedWhilePending).toEqual([[], [], ['v'], ['v']]);
  });

  it('gives up on a change that stays PENDING, with a retryable error naming it', async () => {
    const r53 = await standin([{ name: 'example.com', id: 'ZSLOW' }], { changeDelay: { pendingPolls: 1_000 } });
    const clock = new RecordingClock();
    const error = await failure(provider(r53, { changeTimeout: '10s', changeInterval: '2s' }, clock).presentTxt(record(FQDN, 'v')));
    expect(error).toMatchObject({ code: 'DNS_UPDATE_FAILED', retryable: true });
    expect(error.message).toMatch(/adding TXT _acme-challenge\.example\.com in hosted zone ZSLOW \(example\.com\): change C\w+ still PENDING after 10s/);
    expect(clock.sleeps.reduce((sum, ms) => sum + ms, 0)).toBe(10_000);
  });
});

describe('throttling and errors', () => {
  const FQDN = '_acme-challenge.example.com';

  it('rides out a throttling burst longer than the SDK’s own three attempts', async () => {
    const r53 = await standin([{ name: 'example.com' }]);
    const clock = new RecordingClock();
    const logLines: unknown[] = [];
    r53.injectFault({ code: 'Throttling', count: 5, operation: 'ChangeResourceRecordSets' });
    await provider(r53, {}, clock, logLines).presentTxt(record(FQDN, 'v'));
    const attempts = r53.requests.filter((request) => request.operation === 'ChangeResourceRecordSets').map((request) => request.errorCode ?? 'ok');
    expect(attempts).toEqual(['Throttling', 'Throttling', 'Throttling', 'Throttling', 'Throttling', 'ok']);
    expect(clock.sleeps).toEqual([1000]); // one retry of ours, between the SDK's two rounds
    expect(r53.recordSet('example.com', FQDN)?.values).toEqual(['"v"']);
    expect(logLines).toContainEqual(
      expect.objectContaining({ msg: 'Route53 request failed; retrying', awsErrorCode: 'Throttling', operation: 'ChangeResourceRecordSets' }),
    );
  });

  it('retries PriorRequestNotComplete and server errors on every operation', async () => {
    const r53 = await standin([{ name: 'example.com' }]);
    r53.injectFault({ code: 'PriorRequestNotComplete', count: 4, operation: 'ListResourceRecordSets' });
    r53.injectFault({ code: 'InternalFailure', count: 3, operation: 'GetChange' });
    r53.injectFault({ code: 'ServiceUnavailable', count: 3, operation: 'ListHostedZonesByName' });
    const clock = new RecordingClock();
    await provider(r53, {}, clock).presentTxt(record(FQDN, 'v'));
    expect(r53.recordSet('example.com', FQDN)?.values).toEqual(['"v"']);
    expect(clock.sleeps).toEqual([1000, 1000, 1000]);
    expect(r53.requests.filter((request) => request.errorCode === 'InternalFailure').every((request) => request.status === 500)).toBe(true);
  });

  it('gives up on persistent throttling with an error naming the zone, the record and the AWS code', async () => {
    const r53 = await standin([{ name: 'example.com', id: 'ZTHROTTLED' }]);
    r53.injectFault({ code: 'Throttling', count: 1_000, operation: 'ChangeResourceRecordSets' });
    const clock = new RecordingClock();
    const error = await failure(provider(r53, { maxRetries: 2 }, clock).presentTxt(record(FQDN, 'v')));
    expect(error).toMatchObject({
      code: 'DNS_UPDATE_FAILED',
      retryable: true,
      details: { awsErrorCode: 'Throttling', zoneId: 'ZTHROTTLED', operation: 'ChangeResourceRecordSets', httpStatus: 400 },
    });
    expect(error.message).toBe(
      'route53 "aws": adding TXT _acme-challenge.example.com in hosted zone ZTHROTTLED (example.com): ChangeResourceRecordSets failed after 3 tries: Throttling: Rate exceeded',
    );
    expect(operations(r53, 'ChangeResourceRecordSets')).toHaveLength(9); // 3 tries × the SDK's 3 attempts
    expect(clock.sleeps).toEqual([1000, 2000]);
  });

  it('does not retry a rejected change batch', async () => {
    const r53 = await standin([{ name: 'example.com', id: 'ZEXAMPLE' }, { name: 'other.test' }]);
    // The configured zone does not hold the name: Route53 says InvalidChangeBatch.
    const error = await failure(provider(r53, { hostedZoneId: 'ZEXAMPLE' }).presentTxt(record('_acme-challenge.other.test', 'v')));
    expect(error).toMatchObject({ code: 'DNS_UPDATE_FAILED', retryable: false, details: { awsErrorCode: 'InvalidChangeBatch' } });
    expect(error.message).toContain('in hosted zone ZEXAMPLE');
    expect(error.message).toContain('is not permitted in zone example.com.');
    expect(operations(r53, 'ChangeResourceRecordSets')).toHaveLength(1);
  });

  it('explains rejected credentials without retrying, and never logs or reports a secret', async () => {
    const r53 = await standin([{ name: 'example.com' }], { accessKeyIds: ['AKIASOMEONEELSE'] });
    const logLines: unknown[] = [];
    const error = await failure(provider(r53, {}, new RecordingClock(), logLines).presentTxt(record(FQDN, 'v')));
    expect(error).toMatchObject({ code: 'DNS_UPDATE_FAILED', retryable: false, details: { awsErrorCode: 'InvalidClientTokenId' } });
    expect(error.message).toContain('no usable AWS credentials');
    expect(operations(r53)).toEqual(['ListHostedZonesByName']);
    const everything = JSON.stringify({ message: error.message, details: error.details, logLines });
    expect(everything).not.toContain(ENV.AWS_SECRET_ACCESS_KEY);
    expect(everything).not.toContain(ENV.AWS_ACCESS_KEY_ID);
  });

  it('says so when the default chain finds no credentials at all', async () => {
    const r53 = await standin([{ name: 'example.com' }]);
    vi.stubEnv('AWS_ACCESS_KEY_ID', undefined);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', undefined);
    try {
      const error = await failure(provider(r53).presentTxt(record(FQDN, 'v')));
      expect(error).toMatchObject({ code: 'DNS_UPDATE_FAILED', retryable: false, details: { awsErrorCode: 'CredentialsProviderError' } });
      expect(error.message).toContain('finding the hosted zone of TXT _acme-challenge.example.com: ListHostedZonesByName failed: CredentialsProviderError');
      expect(error.message).toContain('no usable AWS credentials');
      expect(r53.requests).toEqual([]);
    } finally {
      vi.stubEnv('AWS_ACCESS_KEY_ID', ENV.AWS_ACCESS_KEY_ID);
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', ENV.AWS_SECRET_ACCESS_KEY);
    }
  });

  it('stops at once when cancelled', async () => {
    const r53 = await standin([{ name: 'example.com' }]);
    const controller = new AbortController();
    controller.abort();
    await expect(provider(r53).presentTxt(record(FQDN, 'v'), controller.signal)).rejects.toMatchObject({ name: 'AbortError' });
    expect(operations(r53, 'ChangeResourceRecordSets')).toEqual([]);
  });
});

describe('roleArn', () => {
  it('assumes the role with STS and signs Route53 calls with the temporary credentials', async () => {
    // Only keys handed out by AssumeRole may call Route53.
    const r53 = await standin([{ name: 'example.com' }], { accessKeyIds: [] });
    const roleArn = 'arn:aws:iam::123456789012:role/certkeeper-dns';
    const dns = provider(r53, { roleArn, stsEndpoint: r53.endpoint });
    await dns.presentTxt(record('_acme-challenge.example.com', 'v'));
    await dns.cleanupTxt(record('_acme-challenge.example.com', 'v'));
    expect(r53.assumedRoles).toEqual([
      { roleArn, sessionName: 'certkeeper-aws', accessKeyId: expect.stringMatching(/^ASIA/), callerAccessKeyId: ENV.AWS_ACCESS_KEY_ID },
    ]);
    const route53Calls = r53.requests.filter((request) => request.operation !== 'AssumeRole');
    expect(route53Calls.length).toBeGreaterThan(0);
    expect(new Set(route53Calls.map((request) => request.accessKeyId))).toEqual(new Set([r53.assumedRoles[0]!.accessKeyId]));
  });
});
