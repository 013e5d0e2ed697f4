// Issuance edge cases against Pebble with pebble-challtestsrv as its DNS: external account
// binding, authorization reuse, propagation timeouts and cancellation (cleanup still runs),
// a CA that is unreachable or untrusted, and an account the CA no longer knows.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAcmeIssuer, type AcmeIssuerOptions } from '../../../src/acme/issuer.js';
import { generatePrivateKey } from '../../../src/acme/keys.js';
import { systemClock } from '../../../src/core/clock.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger, type Logger } from '../../../src/core/logger.js';
import type { DnsProvider } from '../../../src/dns/contract.js';
import { parseCertificate } from '../../../src/core/x509.js';
import { randomEabHmacKey, startPebble, type PebbleInstance } from '../../../src/devstack/pebble.js';
import { freePort } from '../../../src/devstack/ports.js';
import { query } from '../../../src/dns/wire/client.js';
import { rdata, txtValue } from '../../../src/dns/wire/message.js';
import { challTestSrvProvider, startChallTestSrv, type ChallTestSrv } from '../../helpers/challtestsrv.js';
import { ManualClock } from '../../helpers/clock.js';
import { MemoryStore } from '../../helpers/memory-store.js';
import { challengeLookups } from '../../helpers/challenge-lookups.js';

let dns: ChallTestSrv;

beforeAll(async () => {
  dns = await startChallTestSrv();
});

afterAll(async () => {
  await dns?.stop();
});

async function txtAt(fqdn: string): Promise<string[]> {
  const response = await query(dns.dnsServer, fqdn, 'TXT');
  return response.answers.filter((record) => record.type === 'TXT').map((record) => txtValue(rdata(record)));
}

async function failureOf(promise: Promise<unknown>): Promise<CertkeeperError> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(CertkeeperError);
  return outcome as CertkeeperError;
}

function issuerFor(pebble: PebbleInstance, overrides: Partial<AcmeIssuerOptions> = {}) {
  return createAcmeIssuer({
    directoryUrl: pebble.directoryUrl,
    email: 'ops@example.test',
    caBundlePem: pebble.caBundlePem,
    store: new MemoryStore(),
    clock: systemClock,
    logger: silentLogger,
    resolvers: [dns.dnsServer],
    lookups: challengeLookups,
    ...overrides,
  });
}

describe('external account binding', () => {
  const eab = { kid: 'certkeeper-kid', hmacKey: randomEabHmacKey() };
  let pebble: PebbleInstance;
  beforeAll(async () => {
    pebble = await startPebble({ dnsServer: dns.dnsServer, eab });
  });
  afterAll(async () => {
    await pebble?.stop();
  });

  it('registers with EAB when the CA requires it, and stores the account once', async () => {
    const store = new MemoryStore();
    const lines: string[] = [];
    const issuer = issuerFor(pebble, { eab, store, logger: recordingLogger(lines) });
    const result = await issuer.issue({ certName: 'eab', domains: ['eab.example.test'], keyType: 'ecdsa-p256', dns: challTestSrvProvider(dns) });
    expect(parseCertificate(result.material.certPem).domains).toEqual(['eab.example.test']);
    const stored = await store.getAccount(pebble.directoryUrl, 'ops@example.test');
    expect(stored?.accountUrl).toBe(result.accountUrl);

    // Nothing secret reached a log line: the EAB key, the account key, the certificate key.
    const logged = lines.join('\n');
    expect(lines.length).toBeGreaterThan(5);
    expect(logged).not.toContain(eab.hmacKey);
    expect(logged).not.toContain('PRIVATE KEY');
    expect(logged).not.toContain(pemBody(stored!.keyPem));
    expect(logged).not.toContain(pemBody(result.material.keyPem));
    // A second issuer over the same store (a new process) reuses the account.
    const again = await issuerFor(pebble, { eab, store }).issue({
      certName: 'eab',
      domains: ['eab.example.test'],
      keyType: 'ecdsa-p256',
      dns: challTestSrvProvider(dns),
    });
    expect(again.accountUrl).toBe(result.accountUrl);
    expect(store.accountWrites.filter((write) => write.accountUrl !== null)).toHaveLength(1);
  });

  it('reports a missing binding as a permanent ACME_ERROR', async () => {
    const error = await failureOf(
      issuerFor(pebble).issue({ certName: 'x', domains: ['noeab.example.test'], keyType: 'ecdsa-p256', dns: challTestSrvProvider(dns) }),
    );
    expect(error.code).toBe('ACME_ERROR');
    expect(error.retryable).toBe(false);
    expect(error.details?.acmeType).toBe('externalAccountRequired');
  });

  it('reports a wrong HMAC key as a permanent ACME_ERROR, without the key in the message', async () => {
    const wrong = { kid: eab.kid, hmacKey: randomEabHmacKey() };
    const error = await failureOf(
      issuerFor(pebble, { eab: wrong }).issue({ certName: 'x', domains: ['badeab.example.test'], keyType: 'ecdsa-p256', dns: challTestSrvProvider(dns) }),
    );
    expect(error.code).toBe('ACME_ERROR');
    expect(error.retryable).toBe(false);
    expect(error.message).not.toContain(wrong.hmacKey);
    expect(error.message).not.toContain(eab.hmacKey);
  });
});

describe('with Pebble reusing every authorization', () => {
  let pebble: PebbleInstance;
  beforeAll(async () => {
    pebble = await startPebble({ dnsServer: dns.dnsServer, authzReusePercent: 100 });
  });
  afterAll(async () => {
    await pebble?.stop();
  });

  it('presents nothing for authorizations that are already valid', async () => {
    const issuer = issuerFor(pebble);
    const first = challTestSrvProvider(dns);
    await issuer.issue({ certName: 'reuse', domains: ['authz.example.test', '*.authz.example.test'], keyType: 'ecdsa-p256', dns: first });
    expect(first.calls.filter((call) => call.action === 'present')).toHaveLength(2);

    const second = challTestSrvProvider(dns);
    const steps: string[] = [];
    const result = await issuer.issue({
      certName: 'reuse',
      domains: ['authz.example.test', '*.authz.example.test'],
      keyType: 'ecdsa-p256',
      dns: second,
      onProgress: (event) => steps.push(event.step),
    });
    expect(second.calls).toEqual([]);
    expect(steps).toEqual(['ordering', 'finalizing', 'issued']);
    expect(parseCertificate(result.material.certPem).domains.sort()).toEqual(['*.authz.example.test', 'authz.example.test']);
  });
});

describe('failures around the DNS step', () => {
  let pebble: PebbleInstance;
  beforeAll(async () => {
    pebble = await startPebble({ dnsServer: dns.dnsServer, authzReusePercent: 0 });
  });
  afterAll(async () => {
    await pebble?.stop();
  });

  it('cleans up when the record never propagates (DNS_PROPAGATION_TIMEOUT)', async () => {
    // Writes go to challtestsrv, but the propagation check polls a port where nothing answers.
    const silent = `127.0.0.1:${await freePort({ udp: true })}`;
    const provider = challTestSrvProvider(dns, { propagationNameservers: [silent], propagationTimeoutMs: 1_500 });
    const error = await failureOf(
      issuerFor(pebble).issue({ certName: 'slow', domains: ['slow.example.test', '*.slow.example.test'], keyType: 'ecdsa-p256', dns: provider }),
    );
    expect(error.code).toBe('DNS_PROPAGATION_TIMEOUT');
    expect(provider.calls.filter((c) => c.action === 'present')).toHaveLength(2);
    expect(provider.calls.filter((c) => c.action === 'cleanup')).toHaveLength(2);
    expect(await txtAt('_acme-challenge.slow.example.test')).toEqual([]);
  });

  it('cleans up when cancelled while waiting for propagation (CANCELLED)', async () => {
    const silent = `127.0.0.1:${await freePort({ udp: true })}`;
    const provider = challTestSrvProvider(dns, { propagationNameservers: [silent], propagationTimeoutMs: 60_000 });
    const controller = new AbortController();
    const issuing = issuerFor(pebble).issue({
      certName: 'cancel',
      domains: ['cancel.example.test'],
      keyType: 'ecdsa-p256',
      dns: provider,
      signal: controller.signal,
      onProgress: (event) => {
        if (event.step === 'dns-present') setTimeout(() => controller.abort(), 300);
      },
    });
    const error = await failureOf(issuing);
    expect(error.code).toBe('CANCELLED');
    expect(provider.calls.map((c) => c.action)).toEqual(['present', 'cleanup']);
    expect(await txtAt('_acme-challenge.cancel.example.test')).toEqual([]);
  });

  it('keeps the original error when cleanup fails too, and logs the cleanup failure', async () => {
    const base = challTestSrvProvider(dns, { mutateValue: (value) => `wrong-${value}`, propagationTimeoutMs: 800 });
    let cleanups = 0;
    const provider: DnsProvider = {
      ...base,
      presentTxt: base.presentTxt,
      async cleanupTxt(): Promise<void> {
        cleanups++;
        throw new CertkeeperError('DNS_UPDATE_FAILED', 'cleanup refused');
      },
    };
    const warnings: Record<string, unknown>[] = [];
    const logger = capturingLogger(warnings);
    const error = await failureOf(
      issuerFor(pebble, { logger }).issue({ certName: 'both', domains: ['both.example.test'], keyType: 'ecdsa-p256', dns: provider }),
    );
    expect(error.code).toBe('DNS_PROPAGATION_TIMEOUT');
    expect(cleanups).toBe(1);
    expect(warnings).toContainEqual(expect.objectContaining({ fqdn: '_acme-challenge.both.example.test', code: 'DNS_UPDATE_FAILED' }));
    await dns.clearTxt('_acme-challenge.both.example.test');
  });
});

/** A logger keeping every call at every level, serialized. */
function recordingLogger(lines: string[]): Logger {
  const record = (...args: unknown[]): void => void lines.push(JSON.stringify(args));
  const logger: Logger = {
    trace: record,
    debug: record,
    info: record,
    warn: record,
    error: record,
    child: (bindings) => (lines.push(JSON.stringify(bindings)), logger),
  };
  return logger;
}

function pemBody(pem: string): string {
  return pem
    .split('\n')
    .filter((line) => line && !line.startsWith('-----'))
    .slice(0, 2)
    .join('');
}

/** A logger keeping the objects of warn() calls. */
function capturingLogger(warnings: Record<string, unknown>[]): Logger {
  const logger: Logger = {
    ...silentLogger,
    warn: ((obj: Record<string, unknown> | string) => {
      if (typeof obj === 'object') warnings.push(obj);
    }) as Logger['warn'],
    child: () => logger,
  };
  return logger;
}

describe('reaching the CA', () => {
  it('reports a CA that does not answer as ACME_UNREACHABLE after retrying on the injected clock', async () => {
    const port = await freePort();
    const clock = new ManualClock();
    const started = Date.now();
    const error = await failureOf(
      createAcmeIssuer({
        directoryUrl: `https://127.0.0.1:${port}/dir`,
        email: null,
        store: new MemoryStore(),
        clock,
        logger: silentLogger,
        resolvers: [dns.dnsServer],
        lookups: challengeLookups,
      }).issue({ certName: 'x', domains: ['down.example.test'], keyType: 'ecdsa-p256', dns: challTestSrvProvider(dns) }),
    );
    expect(error.code).toBe('ACME_UNREACHABLE');
    expect(error.retryable).toBe(true);
    expect(error.details?.code).toBe('ECONNREFUSED');
    // Retries slept on the manual clock (1 s + 2 s), not in real time.
    expect(clock.now().getTime() - new Date('2026-11-22T00:00:00Z').getTime()).toBe(3_000);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('reports an untrusted server certificate as a permanent ACME_UNREACHABLE', async () => {
    const pebble = await startPebble({ dnsServer: dns.dnsServer });
    try {
      const error = await failureOf(
        issuerFor(pebble, { caBundlePem: undefined }).issue({
          certName: 'x',
          domains: ['tls.example.test'],
          keyType: 'ecdsa-p256',
          dns: challTestSrvProvider(dns),
        }),
      );
      expect(error.code).toBe('ACME_UNREACHABLE');
      expect(error.retryable).toBe(false);
      expect(error.message).toMatch(/caBundle/);
    } finally {
      await pebble.stop();
    }
  });

  it('registers again when the CA no longer knows the stored account', async () => {
    const pebble = await startPebble({ dnsServer: dns.dnsServer });
    try {
      const store = new MemoryStore();
      const origin = new URL(pebble.directoryUrl).origin;
      await store.putAccount({
        directoryUrl: pebble.directoryUrl,
        email: 'ops@example.test',
        accountUrl: `${origin}/my-account/deadbeef`,
        keyPem: await generatePrivateKey('ecdsa-p256'),
      });
      const result = await issuerFor(pebble, { store }).issue({
        certName: 'x',
        domains: ['gone.example.test'],
        keyType: 'ecdsa-p256',
        dns: challTestSrvProvider(dns),
      });
      expect(result.accountUrl).not.toBe(`${origin}/my-account/deadbeef`);
      expect((await store.getAccount(pebble.directoryUrl, 'ops@example.test'))?.accountUrl).toBe(result.accountUrl);
    } finally {
      await pebble.stop();
    }
  });
});
