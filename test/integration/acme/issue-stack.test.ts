// Issuance end to end against the real local stack: Pebble validating through a BIND that the
// rfc2136 provider updates with TSIG. Apex + wildcard on one TXT name, key types, account
// reuse, CNAME-delegated validation, and cleanup after success and after a failed validation.

import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAcmeIssuer } from '../../../src/acme/issuer.js';
import { type IssueStep } from '../../../src/issuers/contract.js';
import { systemClock } from '../../../src/core/clock.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { keyMatchesCertificate, parseCertificate } from '../../../src/core/x509.js';
import { startStack, type Stack } from '../../../src/devstack/stack.js';
import type { DnsProvider, TxtRecord } from '../../../src/dns/contract.js';
import { rfc2136Schema } from '../../../src/dns/providers/rfc2136/schema.js';
import { createDnsProvider } from '../../../src/dns/registry.js';
import { query } from '../../../src/dns/wire/client.js';
import { rdata, txtValue } from '../../../src/dns/wire/message.js';
import { startChallTestSrv, type ChallTestSrv } from '../../helpers/challtestsrv.js';
import { MemoryStore } from '../../helpers/memory-store.js';
import { challengeLookups } from '../../helpers/challenge-lookups.js';

let stack: Stack;
let store: MemoryStore;

beforeAll(async () => {
  // No authz reuse: every order must really go through DNS.
  stack = await startStack({ pebble: { authzReusePercent: 0 } });
  store = new MemoryStore();
});

afterAll(async () => {
  await stack?.stop();
});

function rfc2136(): DnsProvider {
  const config = rfc2136Schema.parse({
    type: 'rfc2136',
    server: stack.bind.address,
    tsigKeyName: stack.bind.tsig.keyName,
    tsigAlgorithm: stack.bind.tsig.algorithm,
    tsigSecret: stack.bind.tsig.secret,
    ttl: 10,
    propagation: { nameservers: [stack.bind.address], timeout: '20s', interval: '200ms' },
  });
  return createDnsProvider(config, { name: 'bind', clock: systemClock, logger: silentLogger });
}

/** Wraps a provider and records what the issuer asked of it. */
function recording(inner: DnsProvider, afterPresent?: (record: TxtRecord) => Promise<void>): DnsProvider & { presented: TxtRecord[]; cleaned: TxtRecord[] } {
  const presented: TxtRecord[] = [];
  const cleaned: TxtRecord[] = [];
  return {
    name: inner.name,
    propagationNameservers: inner.propagationNameservers,
    propagationTimeoutMs: inner.propagationTimeoutMs,
    propagationIntervalMs: inner.propagationIntervalMs,
    presented,
    cleaned,
    async presentTxt(record, signal) {
      presented.push(record);
      await inner.presentTxt(record, signal);
      await afterPresent?.(record);
    },
    async cleanupTxt(record, signal) {
      cleaned.push(record);
      await inner.cleanupTxt(record, signal);
    },
  };
}

function issuer() {
  return createAcmeIssuer({
    directoryUrl: stack.pebble.directoryUrl,
    email: 'ops@example.test',
    caBundlePem: stack.pebble.caBundlePem,
    store,
    clock: systemClock,
    logger: silentLogger,
    resolvers: [stack.bind.address],
    lookups: challengeLookups,
  });
}

async function txtAt(server: string, fqdn: string): Promise<string[]> {
  const response = await query(server, fqdn, 'TXT');
  return response.answers.filter((record) => record.type === 'TXT').map((record) => txtValue(rdata(record)));
}

describe('issuing against Pebble + BIND', () => {
  let firstAccountUrl: string;

  it('issues an apex + wildcard certificate (ecdsa-p256), presenting both values on one name, and cleans up', async () => {
    let servedAfterSecondPresent: string[] = [];
    const dns = recording(rfc2136(), async (record) => {
      servedAfterSecondPresent = await txtAt(stack.bind.address, record.fqdn);
    });
    const steps: IssueStep[] = [];
    const result = await issuer().issue({
      certName: 'www',
      domains: ['www.example.test', '*.www.example.test'],
      keyType: 'ecdsa-p256',
      dns,
      onProgress: (event) => steps.push(event.step),
    });
    firstAccountUrl = result.accountUrl;

    // One TXT name, two different values, both present before validation.
    expect(dns.presented.map((r) => r.fqdn)).toEqual(['_acme-challenge.www.example.test', '_acme-challenge.www.example.test']);
    expect(new Set(dns.presented.map((r) => r.value)).size).toBe(2);
    expect(servedAfterSecondPresent.sort()).toEqual(dns.presented.map((r) => r.value).sort());
    expect(dns.cleaned).toHaveLength(2);
    expect(await txtAt(stack.bind.address, '_acme-challenge.www.example.test')).toEqual([]);
    expect(steps).toEqual(['ordering', 'dns-present', 'propagated', 'validated', 'finalizing', 'issued']);

    const { material } = result;
    const info = parseCertificate(material.certPem);
    expect(info.domains.sort()).toEqual(['*.www.example.test', 'www.example.test']);
    expect(info.keyType).toBe('ecdsa-p256');
    expect(keyMatchesCertificate(material.certPem, material.keyPem)).toBe(true);
    expect(material.keyPem).toContain('-----BEGIN PRIVATE KEY-----');
    expect(material.fullchainPem).toBe(material.certPem + material.chainPem);
    expect(material.chainPem).toContain('-----BEGIN CERTIFICATE-----');
    expect(material.chainPem).not.toContain(material.certPem.trim());

    // The chain leads to the root Pebble publishes.
    const leaf = new X509Certificate(material.certPem);
    const intermediate = new X509Certificate(material.chainPem);
    const root = new X509Certificate(await stack.pebble.rootsPem());
    expect(leaf.verify(intermediate.publicKey)).toBe(true);
    expect(intermediate.verify(root.publicKey)).toBe(true);

    expect(store.accountWrites.filter((a) => a.accountUrl !== null)).toHaveLength(1);
  });

  it('issues rsa-2048 with the same account, without registering again', async () => {
    const writesBefore = store.accountWrites.length;
    const result = await issuer().issue({ certName: 'api', domains: ['api.example.test'], keyType: 'rsa-2048', dns: rfc2136() });
    expect(parseCertificate(result.material.certPem).keyType).toBe('rsa-2048');
    expect(result.accountUrl).toBe(firstAccountUrl);
    expect(store.accountWrites.length).toBe(writesBefore);
  });

  it('reuses a given private key', async () => {
    const first = await issuer().issue({ certName: 'reuse', domains: ['reuse.example.test'], keyType: 'ecdsa-p384', dns: rfc2136() });
    const second = await issuer().issue({
      certName: 'reuse',
      domains: ['reuse.example.test'],
      keyType: 'ecdsa-p384',
      keyPem: first.material.keyPem,
      dns: rfc2136(),
    });
    expect(parseCertificate(second.material.certPem).keyType).toBe('ecdsa-p384');
    expect(second.material.keyPem).toBe(first.material.keyPem);
    expect(parseCertificate(second.material.certPem).serial).not.toBe(parseCertificate(first.material.certPem).serial);
  });

  it('follows a CNAME on _acme-challenge to the delegated name', async () => {
    const dns = recording(rfc2136());
    const result = await issuer().issue({ certName: 'delegated', domains: ['delegated.example.test'], keyType: 'ecdsa-p256', dns });
    expect(dns.presented.map((r) => r.fqdn)).toEqual(['_acme-challenge.delegated.validation.test']);
    expect(parseCertificate(result.material.certPem).domains).toEqual(['delegated.example.test']);
    expect(await txtAt(stack.bind.address, '_acme-challenge.delegated.validation.test')).toEqual([]);
  });

  describe('when the CA sees a different value than the propagation check', () => {
    let mirror: ChallTestSrv;
    beforeAll(async () => {
      mirror = await startChallTestSrv();
    });
    afterAll(async () => {
      await mirror?.stop();
    });

    it("fails with VALIDATION_FAILED carrying the CA's reason, and removes every record it presented", async () => {
      // The provider writes a wrong value to BIND (what Pebble asks) but the right one to a
      // server that its propagation check polls: propagation passes, validation does not.
      const bind = rfc2136();
      const liar: DnsProvider = {
        name: 'liar',
        propagationNameservers: [mirror.dnsServer],
        propagationTimeoutMs: 20_000,
        propagationIntervalMs: 100,
        async presentTxt(record, signal) {
          await bind.presentTxt({ ...record, value: `wrong-${record.value}` }, signal);
          await mirror.setTxt(record.fqdn, record.value);
        },
        async cleanupTxt(record, signal) {
          await bind.cleanupTxt({ ...record, value: `wrong-${record.value}` }, signal);
          await mirror.clearTxt(record.fqdn);
        },
      };
      const dns = recording(liar);
      const error = await issuer()
        .issue({ certName: 'fail', domains: ['fail.example.test', '*.fail.example.test'], keyType: 'ecdsa-p256', dns })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(CertkeeperError);
      const failure = error as CertkeeperError;
      expect(failure.code).toBe('VALIDATION_FAILED');
      expect(failure.retryable).toBe(true);
      expect(failure.message).toMatch(/fail\.example\.test/);
      expect(failure.message).toMatch(/Correct value not found/i);
      expect(failure.details?.acmeType).toBe('unauthorized');
      expect(dns.presented).toHaveLength(2);
      expect(dns.cleaned.map((r) => r.value).sort()).toEqual(dns.presented.map((r) => r.value).sort());
      expect(await txtAt(stack.bind.address, '_acme-challenge.fail.example.test')).toEqual([]);
      expect(await txtAt(mirror.dnsServer, '_acme-challenge.fail.example.test')).toEqual([]);
    });
  });
});
