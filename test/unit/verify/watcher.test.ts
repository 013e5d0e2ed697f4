import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { parseConfig } from '../../../src/config/load.js';
import type { AgentEvent } from '../../../src/observe/events.js';
import { ServedMetrics } from '../../../src/verify/metrics.js';
import { parseEndpoint, type WatchSettings } from '../../../src/verify/schema.js';
import { loadWatchResults, Watcher, WATCH_STATE_FILE } from '../../../src/verify/watcher.js';
import { makeCertificate, testCa } from '../../helpers/certs.js';
import { startTlsServer, type TestTlsServer } from '../../helpers/tls-server.js';
import { realTick, TimerClock } from '../../helpers/timer-clock.js';

const DAY = 86_400_000;
const servers: TestTlsServer[] = [];
const watchers: Watcher[] = [];
afterEach(async () => {
  for (const watcher of watchers.splice(0)) await watcher.stop();
  for (const server of servers.splice(0)) await server.close();
});

async function serve(domains: string[], days: number, serial?: string): Promise<TestTlsServer> {
  // Real time: the TLS stack checks validity against the real clock, and so does this watcher's (TimerClock started now).
  const notBefore = new Date(Date.now() - DAY);
  const server = await startTlsServer(makeCertificate({ domains, notBefore, notAfter: new Date(Date.now() + days * DAY), ...(serial ? { serial } : {}) }));
  servers.push(server);
  return server;
}

describe('Watcher', () => {
  it('probes on its interval, alerts at the thresholds, reports drift, records results and metrics', async () => {
    const healthy = await serve(['ok.example.test'], 60);
    const soon = await serve(['soon.example.test'], 5);
    const managedCopy = await serve(['www.example.test'], 60, 'BEEF');
    const settings: WatchSettings = {
      endpoints: [
        parseEndpoint(healthy.address, { sni: 'ok.example.test', label: 'ok' })!,
        parseEndpoint(soon.address, { sni: 'soon.example.test', label: 'soon' })!,
        parseEndpoint(managedCopy.address, { sni: 'www.example.test', label: 'lb' })!,
        parseEndpoint('127.0.0.1:1', { label: 'down' })!,
      ],
      intervalMs: 3_600_000,
      alertDays: [21, 7, 1],
      caBundlePem: testCa().certPem,
      timeoutMs: 2_000,
      concurrency: 10,
    };
    const clock = new TimerClock(new Date());
    const stateDir = mkdtempSync(path.join(tmpdir(), 'ck-watch-'));
    const events: AgentEvent[] = [];
    const registry = new Registry();
    const metrics = new ServedMetrics(registry);
    let rounds = 0;
    const watcher = new Watcher({
      settings,
      clock,
      logger: silentLogger,
      stateDir,
      managed: async () => [{ name: 'www', domains: ['www.example.test'], serial: 'CAFE' }],
      onEvent: (event) => events.push(event),
      onResults: (results) => {
        rounds++;
        metrics.updateEndpoints(results);
      },
    });
    watchers.push(watcher);
    watcher.start();
    while (rounds < 1) await realTick();
    const byName = Object.fromEntries(watcher.results.map((r) => [r.endpoint, r]));
    expect(byName.ok).toMatchObject({ ok: true, reachable: true, trusted: true, nameMatch: true, drift: null });
    expect(byName.soon).toMatchObject({ ok: false, alert: { alert: true, thresholdDays: 7, severity: 'critical' } });
    expect(byName.lb!.drift).toMatchObject({ cert: 'www', current: false });
    expect(byName.down).toMatchObject({ ok: false, reachable: false, problems: ['unreachable'] });
    expect(events.map((e) => `${e.cert}:${e.type}:${e.severity}`).sort()).toEqual(['down:verify_failed:warning', 'soon:expiring:critical']);

    const saved = await loadWatchResults(stateDir);
    expect(saved?.map((r) => r.endpoint)).toEqual(['ok', 'soon', 'lb', 'down']);
    expect(readFileSync(path.join(stateDir, WATCH_STATE_FILE), 'utf8')).toContain('"serial"');
    const text = await registry.metrics();
    expect(text).toMatch(/certkeeper_endpoint_up\{endpoint="ok"\} 1/);
    expect(text).toMatch(/certkeeper_endpoint_up\{endpoint="down"\} 0/);
    expect(text).toMatch(/certkeeper_endpoint_expiration_timestamp_seconds\{endpoint="soon"\} \d+/);

    // The next round an hour later: the endpoint that came back healthy sends its all-clear once.
    soon.serve(makeCertificate({ domains: ['soon.example.test'], notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 60 * DAY) }));
    events.length = 0;
    await clock.advance(3_600_000);
    while (rounds < 2) await realTick();
    expect(events.map((e) => `${e.cert}:${e.type}`).sort()).toEqual(['down:verify_failed', 'soon:recovered']);
  });

  it('watch: config — endpoint forms, defaults, list shorthand, problems', () => {
    const base = 'acme: { directory: "https://ca.test/d" }\ndns: { corp: { type: exec, command: ["/bin/true"] } }\n';
    const dir = mkdtempSync(path.join(tmpdir(), 'ck-watchcfg-'));
    const config = parseConfig(
      `${base}watch:\n  interval: 30m\n  endpoints:\n    - teams.example.com\n    - { address: "db.internal", protocol: postgres, label: orders }\n    - { address: "[::1]:8443", sni: api.example.com }\n`,
      path.join(dir, 'c.yaml'),
      { env: {} },
    );
    expect(config.watch).toMatchObject({ intervalMs: 1_800_000, alertDays: [21, 7, 1], timeoutMs: 10_000, concurrency: 100 });
    expect(config.watch!.endpoints).toMatchObject([
      { address: 'teams.example.com:443', host: 'teams.example.com', port: 443, protocol: 'tls' },
      { address: 'db.internal:5432', protocol: 'postgres', label: 'orders' },
      { address: '[::1]:8443', host: '::1', port: 8443, sni: 'api.example.com' },
    ]);
    const short = parseConfig(`${base}watch: ["a.example.com:443"]\n`, path.join(dir, 'c.yaml'), { env: {} });
    expect(short.watch!.endpoints[0]!.address).toBe('a.example.com:443');
    expect(() => parseConfig(`${base}watch: ["a.example.com:443", "a.example.com:443"]\n`, path.join(dir, 'c.yaml'), { env: {} })).toThrow(/listed twice/);
    expect(() => parseConfig(`${base}watch: { endpoints: ["a b"] }\n`, path.join(dir, 'c.yaml'), { env: {} })).toThrow(/watch\.endpoints\[0\]/);
    expect(() => parseConfig(`${base}watch: { endpoints: [], caBundle: ./missing.pem }\n`, path.join(dir, 'c.yaml'), { env: {} })).toThrow(/watch\.caBundle/);
    const verify = parseConfig(
      `${base}certificates:\n  - { name: www, domains: [www.example.com], dns: corp, verify: ["www.example.com", { address: "10.0.0.5:443", sni: www.example.com, settle: 2m }] }\n`,
      path.join(dir, 'c.yaml'),
      { env: {} },
    );
    expect(verify.certificates[0]!.verify).toMatchObject([
      { address: 'www.example.com:443', settleMs: 60_000 },
      { address: '10.0.0.5:443', sni: 'www.example.com', settleMs: 120_000 },
    ]);
  });
});
