// Every value read back from the store goes through the codec of the code that writes it. For
// each kind, a damaged or foreign-shaped value is written raw through the store (the repositories
// on FileStorage, as `stateDir:` opens them) and the defined behaviour is asserted: what a reader
// does with a value it cannot trust, and that the message names the key, never the content.

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createIssuerChain } from '../../../src/engine/issuer-chain.js';
import type { AcmeIssuer } from '../../../src/acme/issuer.js';
import type { IssueRequest } from '../../../src/issuers/contract.js';
import { CertkeeperError, describeError } from '../../../src/core/errors.js';
import type { Logger } from '../../../src/core/logger.js';
import type { IssuerSettings } from '../../../src/config/issuers.js';
import type { DoctorContext } from '../../../src/doctor/contract.js';
import { sinkCheck } from '../../../src/doctor/sinks.js';
import { acmSinkSchema } from '../../../src/sinks/acm/schema.js';
import type { DnsProvider, TxtRecord } from '../../../src/dns/contract.js';
import { challengeLedgerKey, ledgeredProvider, removeLeftoverChallenges } from '../../../src/engine/challenge-ledger.js';
import type { Config } from '../../../src/config/load.js';
import { ARI_STATE_KEY, readAriRecord, renewalInfoFor, windowOf } from '../../../src/engine/renewal-info.js';
import { scheduledRenewal } from '../../../src/plan/renewal.js';
import type { CertificateSpec } from '../../../src/core/types.js';
import type { CertificateSummary } from '../../../src/state/contract.js';
import { activeRateLimit, issuerStateKey, recordRateLimit, rateLimitsIn } from '../../../src/state/issuer-state.js';
import { issuerStorageKey } from '../../../src/state/repos/issuers.js';
import type { RepositoryStore } from '../../../src/state/repository-store.js';
import { renderEndpoints } from '../../../src/cli/commands/probe.js';
import { NOTIFY_STATE_FILE, notifyStateInStore, type DispatcherSnapshot } from '../../../src/observe/notify/snapshot.js';
import type { ProbeResult } from '../../../src/core/endpoint-results.js';
import { judge, loadStoredWatchResults, saveWatchResults, WATCH_DATA, WATCH_STATE_FILE } from '../../../src/verify/watcher.js';
import { readVerification, servingStatus, VERIFY_STATE_KEY, type VerifyReport } from '../../../src/verify/deploy.js';
import { makeCertificate } from '../../helpers/certs.js';
import { ManualClock } from '../../helpers/clock.js';
import { openFileStore } from '../../helpers/state.js';

type LogLine = { level: string; obj: Record<string, unknown>; msg: string | undefined };

function recordingLogger(lines: LogLine[]): Logger {
  const at =
    (level: string) =>
    (obj: Record<string, unknown> | string, msg?: string): void => {
      lines.push(typeof obj === 'string' ? { level, obj: {}, msg: obj } : { level, obj, msg });
    };
  const logger: Logger = { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger;
}

const DIRECTORY = 'https://ca.test/dir';
const HOUR = 3_600_000;
const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

let tmp: string;
let clock: ManualClock;
let store: RepositoryStore;
let logs: LogLine[];
let logger: Logger;

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ck-codecs-'));
  clock = new ManualClock('2026-11-22T00:00:00Z');
  store = await openFileStore(path.join(tmp, 'state'), clock);
  logs = [];
  logger = recordingLogger(logs);
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** A stored certificate for `www`, as planning peeks it. */
async function storedWww(): Promise<CertificateSummary> {
  await store.putCertificate('www', makeCertificate({ domains: ['example.com'], notBefore: new Date('2026-11-01T00:00:00Z'), days: 90 }), {
    directoryUrl: DIRECTORY,
    issuedAt: clock.now(),
  });
  return (await store.peekCertificate('www'))!;
}

const warnings = (): LogLine[] => logs.filter((line) => line.level === 'warn');

describe('the ARI window (acme.ari)', () => {
  const window = { start: '2026-12-01T00:00:00.000Z', end: '2026-12-03T00:00:00.000Z', selectedAt: '2026-12-02T00:00:00.000Z' };

  it('a string where a date belongs is ignored with a warning naming the key, and planning falls back to the expiry thresholds', async () => {
    const cert = await storedWww();
    const base = {
      serial: cert.info.serial,
      directoryUrl: DIRECTORY,
      supported: true,
      checkedAt: clock.now().toISOString(),
      nextCheckAt: new Date(clock.now().getTime() + HOUR).toISOString(),
    };
    await store.putSinkState('www', ARI_STATE_KEY, { ...base, ...window, start: 'next tuesday' });

    const record = await readAriRecord(store, cert, logger);
    expect(record).toBeUndefined();
    const scheduled = scheduledRenewal(cert.info, { kind: 'fraction', fraction: 1 / 3 }, windowOf(record));
    expect(scheduled.rule).toBe('threshold');
    expect(warnings()).toHaveLength(1);
    expect(JSON.stringify(warnings()[0])).toContain('certs/www/data/acme.ari');
    expect(JSON.stringify(warnings()[0])).not.toContain('next tuesday');
  });

  it('a record whose next check is no date is asked for again (it used to be never re-checked) and replaced', async () => {
    const cert = await storedWww();
    const base = { serial: cert.info.serial, directoryUrl: DIRECTORY, supported: true, checkedAt: clock.now().toISOString(), nextCheckAt: 'never' };
    await store.putSinkState('www', ARI_STATE_KEY, { ...base, ...window });
    let asked = 0;
    const config = {
      acme: { directoryUrl: DIRECTORY, email: null },
      issuers: [{ name: 'default', directoryUrl: DIRECTORY, email: null }],
    } as unknown as Config;
    const renewalInfo = async () => {
      asked++;
      return {
        supported: true as const,
        certId: 'id.1',
        info: { start: new Date(window.start), end: new Date(window.end), explanationUrl: null, retryAfterSeconds: 3600 },
      };
    };
    const record = await renewalInfoFor(cert, { config, store, clock, logger, renewalInfo });
    expect(asked).toBe(1);
    expect(windowOf(record)).toMatchObject({ start: new Date(window.start), end: new Date(window.end) });
    // What is stored now reads back cleanly.
    expect(await readAriRecord(store, cert, logger)).toEqual(record);
  });

  it('a value that is not JSON is ignored the same way', async () => {
    const cert = await storedWww();
    await store.storage.put('certs/www/data/acme.ari', encode('{"serial": "'));
    expect(await readAriRecord(store, cert, logger)).toBeUndefined();
    expect(JSON.stringify(warnings())).toContain('certs/www/data/acme.ari');
  });

  it("a well-formed record of another certificate version is not this one's window (no warning)", async () => {
    const cert = await storedWww();
    await store.putSinkState('www', ARI_STATE_KEY, {
      serial: '01',
      directoryUrl: DIRECTORY,
      supported: true,
      ...window,
      checkedAt: clock.now().toISOString(),
      nextCheckAt: clock.now().toISOString(),
    });
    expect(await readAriRecord(store, cert, logger)).toBeUndefined();
    expect(warnings()).toHaveLength(0);
  });
});

describe('the last verification (verify.last)', () => {
  const report: VerifyReport = {
    cert: 'www',
    serial: 'AB01',
    ok: true,
    serving: 'new',
    endpoints: [{ endpoint: 'web', address: '127.0.0.1:443', serving: 'new', servedSerial: 'AB01', error: null, trusted: true, nameMatch: true }],
    redeployed: [],
    attempts: 1,
    at: '2026-11-22T00:00:00.000Z',
    error: null,
  };

  it('reads back what the verification wrote', async () => {
    await store.putSinkState('www', VERIFY_STATE_KEY, report);
    expect(await readVerification(store, 'www')).toEqual(report);
  });

  it.each([
    ['a foreign shape carrying serial and serving', { serial: 'AB01', serving: 'new' }],
    ['a serving that is no verdict', { ...report, serving: 'maybe' }],
    ['an endpoint verdict that is not one', { ...report, endpoints: [{ endpoint: 'web' }] }],
  ])('%s is unknown, never shown as what it claims', async (_what, value) => {
    await store.putSinkState('www', VERIFY_STATE_KEY, value);
    const read = await readVerification(store, 'www');
    expect(read).toBeUndefined();
    expect(servingStatus(read, 'AB01')).toBeNull();
  });

  it('a value that is not JSON is unknown', async () => {
    await store.storage.put('certs/www/data/verify.last', encode('not json'));
    expect(await readVerification(store, 'www')).toBeUndefined();
  });
});

describe('the rate-limit state of a CA and account (issuers/<hash>)', () => {
  const issuer: IssuerSettings = { name: 'a', directoryUrl: 'https://a.test/dir', email: 'ops@example.test' };
  const storageKey = issuerStorageKey(issuerStateKey(issuer));

  it('a recorded limit reads back and ends when it says', async () => {
    const until = new Date(clock.now().getTime() + 600_000).toISOString();
    await recordRateLimit(store, issuer, { rateLimitedUntil: until, detail: 'HTTP 429', at: clock.now().toISOString() });
    expect(await activeRateLimit(store, issuer, clock.now())).toEqual({ rateLimitedUntil: until, detail: 'HTTP 429', at: clock.now().toISOString() });
    clock.advance(600_000);
    expect(await activeRateLimit(store, issuer, clock.now())).toBeUndefined();
  });

  it.each([
    ['a string where the end of the limit belongs', { rateLimitedUntil: 'in two hours', detail: 'HTTP 429', at: '2026-11-22T00:00:00.000Z' }],
    ['a number there', { rateLimitedUntil: 1_795_000_000_000, detail: 'HTTP 429', at: '2026-11-22T00:00:00.000Z' }],
    ['a foreign shape', { until: '2026-11-23T00:00:00.000Z' }],
  ])('%s never lifts the limit silently: the CA is held off for an hour, naming the key', async (_what, value) => {
    await store.putIssuerState(issuerStateKey(issuer), value);
    const limited = await activeRateLimit(store, issuer, clock.now());
    expect(limited).toMatchObject({ rateLimitedUntil: new Date(clock.now().getTime() + HOUR).toISOString() });
    expect(limited?.damaged).toContain(storageKey);
    expect(limited?.damaged).not.toContain('in two hours');
  });

  it('a value that is not JSON holds the CA off the same way', async () => {
    await store.storage.put(storageKey, encode('{"rateLimitedUntil": '));
    const limited = await activeRateLimit(store, issuer, clock.now());
    expect(limited).toMatchObject({ rateLimitedUntil: new Date(clock.now().getTime() + HOUR).toISOString() });
    expect(limited?.damaged).toContain(storageKey);
  });

  it('the issuer chain asks that CA nothing during the hold, records the hold so it ends, then asks again', async () => {
    await store.putIssuerState(issuerStateKey(issuer), { rateLimitedUntil: 'in two hours', detail: 'HTTP 429', at: '2026-11-22T00:00:00.000Z' });
    const calls: IssueRequest[] = [];
    const ca: AcmeIssuer = {
      directoryUrl: issuer.directoryUrl,
      async issue(request) {
        calls.push(request);
        return {
          material: makeCertificate({ domains: request.domains }),
          orderUrl: 'o',
          accountUrl: 'acc',
          directoryUrl: issuer.directoryUrl,
          replaced: false,
        };
      },
    };
    const chain = createIssuerChain({ issuers: [issuer], issuerFor: async () => ca, rateLimits: rateLimitsIn(store), clock, logger });
    const dns: DnsProvider = { name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} };
    const request = { certName: 'www', domains: ['example.com'], keyType: 'ecdsa-p256' as const, dns };

    const refused = await chain.issue(request).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(CertkeeperError);
    expect((refused as CertkeeperError).code).toBe('ACME_RATE_LIMITED');
    expect((refused as CertkeeperError).retryAfterSeconds).toBe(3600);
    expect(calls).toHaveLength(0);
    expect(JSON.stringify(warnings())).toContain(storageKey);
    // The hold is what is stored now, so it ends by itself.
    expect(await store.getIssuerState(issuerStateKey(issuer))).toMatchObject({ rateLimitedUntil: new Date(clock.now().getTime() + HOUR).toISOString() });

    clock.advance(30 * 60_000);
    await expect(chain.issue(request)).rejects.toMatchObject({ code: 'ACME_RATE_LIMITED', retryAfterSeconds: 1800 });
    clock.advance(30 * 60_000);
    expect(await chain.issue(request)).toMatchObject({ issuer: 'a' });
    expect(calls).toHaveLength(1);
  });
});

describe("what a damaged value's error says", () => {
  it('names the key and never quotes the value', async () => {
    await store.storage.put('certs/www/data/acme.ari', encode('{"token": SECRETSECRETSECRET}'));
    const error = await store.getSinkState('www', 'acme.ari').catch((thrown: unknown) => thrown);
    expect(error).toMatchObject({ code: 'STATE_CORRUPT' });
    expect(describeError(error)).toContain('certs/www/data/acme.ari');
    expect(describeError(error)).not.toContain('SECRET');
  });
});

describe('the challenge ledger (acme.challenges)', () => {
  const key = challengeLedgerKey('order');
  const txt = (name: string, value: string): TxtRecord => ({ fqdn: `_acme-challenge.${name}`, value, domain: name });

  /** A DNS provider keeping its TXT records in memory (fqdn=value). */
  function memoryDns(): DnsProvider & { present: string[] } {
    const present: string[] = [];
    return {
      name: 'corp',
      present,
      async presentTxt(record) {
        present.push(`${record.fqdn}=${record.value}`);
      },
      async cleanupTxt(record) {
        const at = present.indexOf(`${record.fqdn}=${record.value}`);
        if (at >= 0) present.splice(at, 1);
      },
    };
  }

  it('a ledger that is not JSON no longer stops every order of the certificate: it is started afresh, naming the key', async () => {
    await store.storage.put(`certs/www/data/${key}`, encode('{"records": [{"provider": "corp", "fq'));
    const dns = memoryDns();
    const deps = { store, logger, dnsProvider: () => dns };
    expect(await removeLeftoverChallenges('www', 'order', deps)).toBe(0);
    const provider = ledgeredProvider(dns, 'www', 'order', deps);
    await provider.presentTxt(txt('example.com', 'v1'));
    expect(dns.present).toEqual(['_acme-challenge.example.com=v1']);
    expect(await store.getSinkState('www', key)).toEqual({ records: [{ provider: 'corp', ...txt('example.com', 'v1') }] });
    expect(JSON.stringify(warnings())).toContain(`certs/www/data/${key}`);
  });

  it('a damaged entry is left out with a warning; the others are still removed', async () => {
    const dns = memoryDns();
    dns.present.push('_acme-challenge.example.com=v1');
    await store.putSinkState('www', key, {
      records: [
        { provider: 'corp', fqdn: 7, value: 'v0' },
        { provider: 'corp', ...txt('example.com', 'v1') },
      ],
    });
    const deps = { store, logger, dnsProvider: () => dns };
    expect(await removeLeftoverChallenges('www', 'order', deps)).toBe(1);
    expect(dns.present).toEqual([]);
    expect(await store.getSinkState('www', key)).toEqual({ records: [] });
    expect(JSON.stringify(warnings())).toContain(`certs/www/data/${key}`);
  });

  it('a foreign shape is an empty ledger with a warning', async () => {
    await store.putSinkState('www', key, { records: 'none' });
    const dns = memoryDns();
    expect(await removeLeftoverChallenges('www', 'order', { store, logger, dnsProvider: () => dns })).toBe(0);
    expect(warnings()).toHaveLength(1);
  });

  it('a store that cannot be read still writes nothing to DNS', async () => {
    const dns = memoryDns();
    const unreachable = {
      ...store,
      getSinkState: async () => Promise.reject(new CertkeeperError('STATE_UNREACHABLE', 'store down')),
      putSinkState: store.putSinkState.bind(store),
    };
    const provider = ledgeredProvider(dns, 'www', 'order', { store: unreachable as unknown as RepositoryStore, logger, dnsProvider: () => dns });
    await expect(provider.presentTxt(txt('example.com', 'v1'))).rejects.toMatchObject({ code: 'STATE_UNREACHABLE' });
    expect(dns.present).toEqual([]);
  });
});

describe("an acm sink's state as the doctor reads it", () => {
  const sink = acmSinkSchema.parse({ type: 'acm', region: 'eu-west-1', endpoint: 'http://127.0.0.1:9' });
  const spec = { name: 'www', keyType: 'ecdsa-p256' } as unknown as CertificateSpec;
  const run = () => sinkCheck(spec, 'alb', sink).run({ store, clock, logger, signal: new AbortController().signal } as unknown as DoctorContext);

  it.each([
    ['a foreign shape', async () => store.putSinkState('www', 'alb', { certificateArn: 42, region: 'eu-west-1' })],
    ['a value that is not JSON', async () => store.storage.put('certs/www/data/alb', encode('{"certificateArn": '))],
  ])('%s is a warning naming the key (it read as "nothing imported yet", or failed the check)', async (_what, damage) => {
    await damage();
    const [line] = await run();
    expect(line).toMatchObject({ status: 'warn', cert: 'www' });
    expect(line!.message).toContain('certs/www/data/alb');
    expect(line!.message).toContain('by its tag');
  });

  it('nothing recorded is still "nothing imported yet"', async () => {
    const [line] = await run();
    expect(line).toMatchObject({ status: 'pass' });
    expect(line!.message).toContain('nothing imported yet');
  });
});

describe('the last watch round (agent data "watch", or watch.json before the store kept it)', () => {
  const probed: ProbeResult = {
    endpoint: 'web',
    address: 'web.example.com:443',
    sni: 'web.example.com',
    protocol: 'tls',
    reachable: true,
    failure: null,
    error: null,
    at: '2026-11-22T00:00:00.000Z',
    durationMs: 12,
    leaf: {
      subject: 'CN=web.example.com',
      issuer: 'CN=Test CA',
      serial: 'AB01',
      notBefore: '2026-11-01T00:00:00.000Z',
      notAfter: '2027-01-30T00:00:00.000Z',
      names: ['web.example.com'],
      fingerprint256: 'AA:BB',
    },
    chain: [],
    trusted: true,
    trustError: null,
    nameMatch: true,
    nameError: null,
  };
  const round = () => [judge(probed, clock.now(), [21, 7, 1], [{ name: 'www', domains: ['web.example.com'], serial: 'AB01' }])];
  const stateDir = () => path.join(tmp, 'state');
  const options = () => ({ logger, agentId: 'test' });

  it('reads back what the watcher wrote, in the store and in watch.json', async () => {
    await store.agentData.put(WATCH_DATA, round());
    expect(await loadStoredWatchResults(store.agentData, stateDir(), options())).toEqual(round());
    await saveWatchResults(stateDir(), round());
    expect(await loadStoredWatchResults(undefined, stateDir(), options())).toEqual(round());
    expect(warnings()).toHaveLength(0);
  });

  it('a foreign shape is no round, with a warning naming the key (it reached `status` and failed its table)', async () => {
    await store.agentData.put(WATCH_DATA, [{ endpoint: 'x:443' }]);
    const results = await loadStoredWatchResults(store.agentData, stateDir(), options());
    expect(results).toBeUndefined();
    expect(renderEndpoints(results ?? [])).toBe('no endpoints\n');
    expect(JSON.stringify(warnings())).toContain('agents/test/watch');
  });

  it('a damaged value in the store is no round: the older watch.json is not shown in its place', async () => {
    await saveWatchResults(stateDir(), round());
    await store.storage.put('agents/test/watch', encode('[{"endpoint": '));
    expect(await loadStoredWatchResults(store.agentData, stateDir(), options())).toBeUndefined();
    expect(JSON.stringify(warnings())).toContain('agents/test/watch');
  });

  it('a damaged watch.json is no round, with a warning naming the file', async () => {
    await fs.mkdir(stateDir(), { recursive: true });
    await fs.writeFile(path.join(stateDir(), WATCH_STATE_FILE), JSON.stringify([{ ...round()[0], daysLeft: 'many' }]));
    expect(await loadStoredWatchResults(undefined, stateDir(), options())).toBeUndefined();
    expect(JSON.stringify(warnings())).toContain(WATCH_STATE_FILE);
  });
});

describe('the notification outbox and alert memory (agent data "notify")', () => {
  const event = {
    type: 'failed',
    at: '2026-11-22T00:00:00.000Z',
    cert: 'www',
    domains: ['example.com'],
    severity: 'critical',
    message: 'renewal of www failed',
    error: 'no TXT',
    code: 'VALIDATION_FAILED',
    provider: 'corp',
    issuer: 'default',
    consecutiveFailures: 3,
    daysLeft: 12.5,
    action: 'renew',
  };
  const snapshot = (queued: Record<string, unknown>) => ({
    version: 2,
    targets: {
      ops: {
        since: '2026-11-01T00:00:00.000Z',
        open: {},
        windows: {},
        queue: [{ key: 'www|failed', type: 'failed', events: [queued], coalesced: 0, notBefore: '2026-11-22T00:00:00.000Z', attempts: 0 }],
      },
    },
  });
  const state = () => notifyStateInStore(store.agentData, path.join(tmp, 'state', NOTIFY_STATE_FILE), () => clock.now());

  it('reads back a queued event with every field it carries', async () => {
    await store.agentData.put('notify', snapshot(event));
    const loaded = (await state().load()) as DispatcherSnapshot;
    expect(loaded.targets.ops!.queue[0]!.events[0]).toEqual(event);
  });

  it('a queued event with a field of the wrong type is damaged state, naming the key (it was taken as an AgentEvent)', async () => {
    await store.agentData.put('notify', snapshot({ ...event, consecutiveFailures: 'three' }));
    const error = await state()
      .load()
      .catch((thrown: unknown) => thrown);
    expect(error).toMatchObject({ code: 'STATE_CORRUPT' });
    expect((error as CertkeeperError).message).toContain('agent data "notify"');
  });
});
