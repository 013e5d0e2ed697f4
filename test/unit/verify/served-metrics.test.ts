// The endpoint expiry series against a real loopback TLS server: the earliest notAfter of the
// served chain (an intermediate that expires before the leaf is what blackbox_exporter's
// probe_ssl_earliest_cert_expiry catches), and the leaf's on its own series.

import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ServedMetrics } from '../../../src/verify/metrics.js';
import { probeEndpoint } from '../../../src/verify/probe.js';
import { parseEndpoint } from '../../../src/verify/schema.js';
import { judge } from '../../../src/verify/watcher.js';
import { makeChain, makeSelfSigned } from '../../helpers/certs.js';
import { startTlsServer, type TestServer } from '../../helpers/tls-server.js';

const DAY = 86_400_000;
const servers: TestServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

/** Whole seconds from now: certificates keep no milliseconds. */
const inDays = (days: number): Date => new Date(Math.floor((Date.now() + days * DAY) / 1000) * 1000);

/** Probes `pem` served on loopback and returns the endpoint's two expiry samples. */
async function scrape(
  fullchainPem: string,
  keyPem: string,
  caBundlePem?: string,
): Promise<{ earliest: number | undefined; leaf: number | undefined; trusted: boolean | null }> {
  const server = await startTlsServer({ certPem: '', chainPem: '', fullchainPem, keyPem });
  servers.push(server);
  const endpoint = parseEndpoint(server.address, { sni: 'www.example.test', label: 'www' })!;
  const result = await probeEndpoint(endpoint, caBundlePem ? { caBundlePem } : {});
  const registry = new Registry();
  new ServedMetrics(registry).updateEndpoints([judge(result, new Date(), [21, 7, 1], [])]);
  const value = async (name: string): Promise<number | undefined> =>
    (await registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels.endpoint === 'www')?.value;
  return {
    earliest: await value('certkeeper_endpoint_expiration_timestamp_seconds'),
    leaf: await value('certkeeper_endpoint_leaf_expiration_timestamp_seconds'),
    trusted: result.trusted,
  };
}

describe('endpoint expiry metrics', () => {
  it('report the earliest notAfter in the served chain (an intermediate expiring first), and the leaf separately', async () => {
    const leafNotAfter = inDays(60);
    const intermediateNotAfter = inDays(10);
    const chain = makeChain({ domains: ['www.example.test'], notAfter: leafNotAfter, intermediateNotAfter });
    const samples = await scrape(chain.material.fullchainPem, chain.material.keyPem, chain.rootPem);
    expect(samples.trusted).toBe(true);
    expect(samples.earliest).toBe(intermediateNotAfter.getTime() / 1000);
    expect(samples.leaf).toBe(leafNotAfter.getTime() / 1000);
  });

  it('leave the root out, served or from the trust store: clients check their own copy', async () => {
    const leafNotAfter = inDays(60);
    const intermediateNotAfter = inDays(10);
    const chain = makeChain({ domains: ['www.example.test'], notAfter: leafNotAfter, intermediateNotAfter, rootNotAfter: inDays(5) });
    for (const served of [chain.material.fullchainPem, chain.material.fullchainPem + chain.rootPem]) {
      const samples = await scrape(served, chain.material.keyPem, chain.rootPem);
      expect(samples.trusted).toBe(true);
      expect(samples.earliest).toBe(intermediateNotAfter.getTime() / 1000);
    }
  });

  it('count a self-signed leaf, which is the whole chain', async () => {
    const notAfter = inDays(3);
    const material = makeSelfSigned({ domains: ['www.example.test'], notAfter });
    const samples = await scrape(material.fullchainPem, material.keyPem);
    expect(samples.earliest).toBe(notAfter.getTime() / 1000);
    expect(samples.leaf).toBe(notAfter.getTime() / 1000);
  });
});
