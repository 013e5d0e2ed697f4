// The /metrics of a running `certkeeper run` (the compiled CLI), as Prometheus scrapes it: promtool
// accepts it; a watched endpoint whose intermediate expires before its leaf reports the
// intermediate's notAfter; certificate series carry the configured issuer; a reload rejected on
// SIGHUP leaves the last reload time alone. No CA is needed: it sits on a closed loopback port, so
// the certificate fails (and its failure series fill) while the watch probes a loopback TLS server.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/devstack/ports.js';
import { makeChain } from '../../helpers/certs.js';
import { killDaemons, startDaemon, until } from '../../helpers/daemon.js';
import { checkMetrics } from '../../helpers/promtool.js';
import { startTlsServer, type TestServer } from '../../helpers/tls-server.js';

const DAY = 86_400_000;
const servers: TestServer[] = [];
afterEach(async () => {
  killDaemons();
  for (const server of servers.splice(0)) await server.close();
});

const inDays = (days: number): Date => new Date(Math.floor((Date.now() + days * DAY) / 1000) * 1000);

/** One sample of the exposition, by its exact series (name and labels as printed). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('certkeeper run: /metrics', () => {
  it('passes promtool, reports the earliest expiry of a served chain and the issuer, and keeps the reload time when SIGHUP brings a broken config', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ck-metrics-scrape-'));
    const leafNotAfter = inDays(60);
    const intermediateNotAfter = inDays(10);
    const chain = makeChain({ domains: ['www.example.test'], notAfter: leafNotAfter, intermediateNotAfter });
    const tls = await startTlsServer(chain.material);
    servers.push(tls);
    writeFileSync(path.join(dir, 'root.pem'), chain.rootPem);
    const port = await freePort();
    const good = `stateDir: ./state
issuers:
  - { name: primary, directory: "https://127.0.0.1:9/dir" }
dns:
  d: { type: rfc2136, server: "127.0.0.1:9", tsigKeyName: k, tsigSecret: "c2VjcmV0" }
http: { listen: "127.0.0.1:${port}" }
watch:
  caBundle: ./root.pem
  endpoints:
    - { address: "${tls.address}", sni: www.example.test, label: www }
certificates:
  - { name: www, domains: [www.example.test], dns: d }
`;
    const config = path.join(dir, 'certkeeper.yaml');
    writeFileSync(config, good);
    const daemon = startDaemon(config);
    const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

    // The first plan's failed order and the watch's first round.
    const text = await until(
      'a failed order and a watched endpoint on /metrics',
      async () => {
        const body = await scrape();
        const failures = sample(body, 'certkeeper_certificate_consecutive_failures{name="www",issuer="primary"}');
        return failures !== undefined && failures >= 1 && body.includes('certkeeper_endpoint_up{endpoint="www"} 1') ? body : undefined;
      },
      60_000,
      daemon,
    );

    expect(sample(text, 'certkeeper_endpoint_expiration_timestamp_seconds{endpoint="www"}')).toBe(intermediateNotAfter.getTime() / 1000);
    expect(sample(text, 'certkeeper_endpoint_leaf_expiration_timestamp_seconds{endpoint="www"}')).toBe(leafNotAfter.getTime() / 1000);
    expect(sample(text, 'certkeeper_certificate_ready{name="www",issuer="primary"}')).toBe(0);
    expect(sample(text, 'certkeeper_consecutive_failures{name="www"}')).toBeGreaterThanOrEqual(1); // the deprecated name, still there
    expect(text).toContain('process_resident_memory_bytes');
    // The CA's closed port: each attempt at its directory is timed as a network error, under the directory's label.
    expect(sample(text, 'certkeeper_acme_request_duration_seconds_count{endpoint="directory",status="error"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'certkeeper_store_up{backend="file"}')).toBe(1);

    const lint = checkMetrics(text);
    expect(lint.problems).toEqual([]);
    expect(lint.status).toBe(0);

    // SIGHUP onto a broken config: rejected, and the time still says when the running config was loaded.
    const loadedAt = sample(text, 'certkeeper_config_last_reload_timestamp_seconds');
    expect(loadedAt).toBeGreaterThan(0);
    expect(sample(text, 'certkeeper_config_last_reload_successful')).toBe(1);
    writeFileSync(config, `${good}unknownKey: true\n`);
    daemon.child.kill('SIGHUP');
    const rejected = await until(
      'the rejected reload on /metrics',
      async () => {
        const body = await scrape();
        return sample(body, 'certkeeper_config_last_reload_successful') === 0 ? body : undefined;
      },
      20_000,
      daemon,
    );
    expect(daemon.output()).toContain('reload rejected');
    expect(sample(rejected, 'certkeeper_config_last_reload_timestamp_seconds')).toBe(loadedAt);

    // A good config again: loaded, and the time moves.
    writeFileSync(config, good);
    daemon.child.kill('SIGHUP');
    const reloaded = await until(
      'the good reload on /metrics',
      async () => {
        const body = await scrape();
        return sample(body, 'certkeeper_config_last_reload_successful') === 1 ? body : undefined;
      },
      20_000,
      daemon,
    );
    expect(sample(reloaded, 'certkeeper_config_last_reload_timestamp_seconds')).toBeGreaterThan(loadedAt!);
  });
});
