import { afterEach, describe, expect, it } from 'vitest';
import { parseEndpoint } from '../../../src/verify/schema.js';
import { probeAll, probeEndpoint } from '../../../src/verify/probe.js';
import { makeCertificate, makeSelfSigned, testCa } from '../../helpers/certs.js';
import { startClosingServer, startSilentServer, startStartTlsServer, startTlsServer, type TestServer } from '../../helpers/tls-server.js';

const DAY = 86_400_000;
const servers: TestServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});
async function keep<T extends TestServer>(server: Promise<T>): Promise<T> {
  const started = await server;
  servers.push(started);
  return started;
}
const endpoint = (address: string, sni = 'www.example.test', protocol: 'tls' | 'starttls-smtp' | 'starttls-imap' | 'postgres' = 'tls') =>
  parseEndpoint(address, { sni, protocol })!;

describe('probeEndpoint', () => {
  it('reads the served chain: serial, validity, issuer, names; trusted with the CA bundle; name matches', async () => {
    const cert = makeCertificate({ domains: ['www.example.test', 'example.test'], serial: '1A2B3C4D' });
    const server = await keep(startTlsServer(cert));
    const result = await probeEndpoint(endpoint(server.address), { caBundlePem: testCa().certPem });
    expect(result).toMatchObject({ reachable: true, failure: null, trusted: true, nameMatch: true, sni: 'www.example.test' });
    expect(result.leaf).toMatchObject({ serial: '1A2B3C4D', names: ['www.example.test', 'example.test'] });
    expect(result.leaf!.issuer).toContain('certkeeper test CA');
    expect(result.chain.length).toBeGreaterThanOrEqual(2);
    expect(result.chain[1]!.subject).toContain('certkeeper test CA');
  });

  it('reports an untrusted chain against the system store alone, without failing the probe', async () => {
    const server = await keep(startTlsServer(makeCertificate({ domains: ['www.example.test'] })));
    const result = await probeEndpoint(endpoint(server.address));
    expect(result).toMatchObject({ reachable: true, trusted: false });
    expect(result.trustError).toBeTruthy();
  });

  it('reports a wrong name', async () => {
    const server = await keep(startTlsServer(makeCertificate({ domains: ['other.example.test'] })));
    const result = await probeEndpoint(endpoint(server.address), { caBundlePem: testCa().certPem });
    expect(result).toMatchObject({ reachable: true, trusted: true, nameMatch: false });
    expect(result.nameError).toContain('www.example.test');
  });

  it('reads an expired certificate (and its chain fails validation)', async () => {
    const notBefore = new Date(Date.now() - 100 * DAY);
    const server = await keep(startTlsServer(makeCertificate({ domains: ['www.example.test'], notBefore, notAfter: new Date(Date.now() - DAY) })));
    const result = await probeEndpoint(endpoint(server.address), { caBundlePem: testCa().certPem });
    expect(result.reachable).toBe(true);
    expect(Date.parse(result.leaf!.notAfter)).toBeLessThan(Date.now());
    expect(result.trusted).toBe(false);
    expect(result.trustError).toMatch(/expired/i);
  });

  it('gives up on a server that accepts and never answers, at the deadline', async () => {
    const server = await keep(startSilentServer());
    const result = await probeEndpoint(endpoint(server.address), { timeoutMs: 300 });
    expect(result).toMatchObject({ reachable: false, failure: 'timeout', leaf: null });
  });

  it('reports a connection closed mid-handshake', async () => {
    const server = await keep(startClosingServer());
    const result = await probeEndpoint(endpoint(server.address), { timeoutMs: 5_000 });
    expect(result.reachable).toBe(false);
    expect(['closed', 'handshake']).toContain(result.failure);
  });

  it('reports a refused connection', async () => {
    const server = await startSilentServer();
    await server.close(); // the port is now free: nothing listens
    const result = await probeEndpoint(endpoint(server.address), { timeoutMs: 2_000 });
    expect(result).toMatchObject({ reachable: false, failure: 'refused' });
  });

  it('sends no SNI to an IP address and matches IP names', async () => {
    const server = await keep(startTlsServer(makeSelfSigned({ domains: ['www.example.test'] })));
    const result = await probeEndpoint(parseEndpoint(server.address)!);
    expect(result).toMatchObject({ reachable: true, sni: null, nameMatch: false });
  });

  it.each(['smtp', 'imap', 'postgres'] as const)('upgrades through STARTTLS (%s)', async (kind) => {
    const cert = makeCertificate({ domains: ['mail.example.test'], serial: 'ABCDEF01' });
    const server = await keep(startStartTlsServer(kind, cert));
    const protocol = kind === 'smtp' ? 'starttls-smtp' : kind === 'imap' ? 'starttls-imap' : 'postgres';
    const result = await probeEndpoint(endpoint(server.address, 'mail.example.test', protocol), { caBundlePem: testCa().certPem, timeoutMs: 5_000 });
    expect(result).toMatchObject({ reachable: true, trusted: true, nameMatch: true, protocol });
    expect(result.leaf!.serial).toBe('ABCDEF01');
  });

  it('probeAll keeps input order and bounds concurrency', async () => {
    const a = await keep(startTlsServer(makeCertificate({ domains: ['www.example.test'], serial: '0A' })));
    const b = await keep(startTlsServer(makeCertificate({ domains: ['www.example.test'], serial: '0B' })));
    let inFlight = 0;
    let peak = 0;
    const results = await probeAll([endpoint(a.address), endpoint(b.address), endpoint(a.address)], {
      concurrency: 2,
      probe: async (target, options) => {
        peak = Math.max(peak, ++inFlight);
        try {
          return await probeEndpoint(target, options);
        } finally {
          inFlight--;
        }
      },
    });
    expect(results.map((r) => r.leaf?.serial)).toEqual(['A', 'B', 'A']);
    expect(peak).toBeLessThanOrEqual(2);
  });
});
