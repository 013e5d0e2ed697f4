// One DNS provider outage through the whole alert path: the real agent and engine (a memory
// store, 100 certificates, an issuer that presents TXT records through a DNS provider that fails) emit
// their events into the dispatcher, which delivers to a real HTTP receiver on loopback that is
// down, then answers 404, then 429 with Retry-After, then 200. The dispatcher is restarted from
// its saved state in the middle. The agent runs on a fake clock (days in milliseconds); the
// dispatcher on the system clock with short delays.

import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { loadConfigFile, type Config } from '../../../src/config/load.js';
import { Agent } from '../../../src/engine/agent.js';
import type { EngineDeps } from '../../../src/engine/contracts.js';
import type { IssueRequest, Issuer } from '../../../src/issuers/contract.js';
import type { DnsProvider } from '../../../src/dns/contract.js';
import type { AgentEvent } from '../../../src/observe/events.js';
import { alertsOnly } from '../../../src/observe/subscribers.js';
import type { NotificationResult } from '../../../src/observe/metrics.js';
import { Dispatcher } from '../../../src/observe/notify/dispatcher.js';
import { buildNotifyTargets } from '../../../src/observe/notify/registry.js';
import { notifySchema } from '../../../src/observe/notify/schema.js';
import { notifyStateIn } from '../../../src/observe/notify/snapshot.js';
import { makeCertificate } from '../../helpers/certs.js';
import { MemoryStore } from '../../helpers/memory-store.js';
import { realTick, TimerClock } from '../../helpers/timer-clock.js';

const CERTS = 100;
const MIN = 60_000;
const DAY = 86_400_000;
const PACE_MS = 300;
const RETRY_AFTER_S = 1;

interface Post {
  /** performance.now() when it arrived. */
  at: number;
  status: number;
  body: { type: string; certs: string[]; group?: boolean; cause?: { provider?: string; code?: string } };
}

/** The receiver: records every POST it answers; `answers` scripts the next statuses (then 200). */
class Receiver {
  readonly posts: Post[] = [];
  answers: number[] = [];
  port = 0;
  private server: http.Server | undefined;

  async up(): Promise<void> {
    this.server = http.createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        const status = this.answers.shift() ?? 200;
        this.posts.push({ at: performance.now(), status, body: JSON.parse(body) as Post['body'] });
        response.writeHead(status, status === 429 ? { 'retry-after': String(RETRY_AFTER_S) } : {}).end(status === 404 ? 'no such hook' : 'ok');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Down: nothing listens on the port (connection refused). */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

const receiver = new Receiver();
afterAll(async () => {
  await receiver.down();
});

async function until(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('an outage of one DNS provider under 100 certificates', () => {
  it('names every failing certificate in a delivered alert before its recovery, in few paced POSTs, across a restart', async () => {
    await receiver.up();
    await receiver.down(); // keeps the port: the receiver is down from the start

    const dir = mkdtempSync(path.join(tmpdir(), 'ck-outage-'));
    const configFile = path.join(dir, 'certkeeper.yaml');
    const names = Array.from({ length: CERTS }, (_, i) => `site${String(i).padStart(3, '0')}`);
    writeFileSync(
      configFile,
      `stateDir: ./state
acme: { directory: "https://ca.test/directory" }
dns: { corp: { type: exec, command: ["/bin/true"] } }
notify:
  ops: { type: webhook, url: "http://127.0.0.1:${receiver.port}/alerts", retries: 3, minInterval: ${PACE_MS}ms, groupWindow: 2s }
certificates:
${names.map((name) => `  - { name: ${name}, domains: [${name}.example.com], dns: corp }`).join('\n')}
`,
    );

    // The DNS provider's API refuses every change until it is fixed.
    let dnsBroken = true;
    const dns: DnsProvider = {
      name: 'corp',
      presentTxt: async () => {
        if (dnsBroken) throw new CertkeeperError('DNS_UPDATE_FAILED', 'corp: DNS API said 401 (credentials expired)');
      },
      cleanupTxt: async () => {},
    };
    const clock = new TimerClock('2026-11-22T00:00:00Z');
    const issuer: Issuer = {
      directoryUrl: 'https://ca.test/directory',
      async issue(request: IssueRequest) {
        await request.dns.presentTxt({ fqdn: `_acme-challenge.${request.domains[0]!}`, value: 'v', domain: request.domains[0]! });
        const notBefore = clock.now();
        return { material: makeCertificate({ domains: request.domains, notBefore, notAfter: new Date(notBefore.getTime() + 90 * DAY) }) };
      },
    };

    const config = loadConfigFile(configFile, { env: {} });
    const stateFile = notifyStateIn(config.stateDir);
    const results: NotificationResult[] = [];
    const newDispatcher = async (): Promise<Dispatcher> =>
      new Dispatcher({
        targets: buildNotifyTargets(notifySchema.parse(config.daemon.notify), { logger: silentLogger }),
        clock: systemClock,
        logger: silentLogger,
        retryDelayMs: 100,
        onResult: (_target, result) => results.push(result),
        store: stateFile,
        saveDelayMs: 10,
        ...(await stateFile.load().then((state) => (state ? { state } : {}))),
      });
    let dispatcher = await newDispatcher();

    // The engine's file-lock waits would sleep on the fake clock; the state store is not under test here.
    const store = new MemoryStore();
    const agent = new Agent({
      clock,
      logger: silentLogger,
      host: 'test-host',
      loadConfig: () => config,
      wire: async (next: Config, onEvent): Promise<EngineDeps> => {
        return {
          config: next,
          store,
          clock,
          logger: silentLogger,
          issuer: async () => issuer,
          dnsProvider: () => dns,
          sink: () => ({ name: 'none', type: 'fake', deploy: async () => ({}) }),
          onEvent,
        };
      },
      onEvent: alertsOnly((event: AgentEvent) => void dispatcher.dispatch(event)),
    });
    const settle = async (): Promise<void> => {
      await realTick();
      await agent.idle();
      await realTick();
    };
    const advance = (ms: number): Promise<void> => clock.advance(ms, settle);

    try {
      // 1. All 100 fail at start; the receiver is down: the one alert is retried, not sent.
      await agent.start();
      await advance(0);
      await until('a retry against the refused connection', () => results.includes('retrying'));
      expect(receiver.posts).toEqual([]);

      // 2. Restart in the middle: the outbox is saved and the next dispatcher picks it up.
      await dispatcher.close(0);
      const saved = await stateFile.load();
      expect(saved!.targets.ops!.queue.flatMap((item) => item.events.map((e) => e.cert)).sort()).toEqual(names);
      dispatcher = await newDispatcher();

      // 3. The receiver comes back wrong (404 twice), then rate-limits once, then works.
      receiver.answers = [404, 404, 429];
      await receiver.up();
      await until('the saved alert, answered 404', () => receiver.posts.length >= 1);
      await until('the 404 handled', () => results.includes('failed'));
      // Nothing was delivered, so the next failure of each certificate is sent again.
      await advance(MIN);
      await until('the second 404', () => receiver.posts.length >= 2);
      await until('the second 404 handled', () => results.filter((r) => r === 'failed').length >= 2);
      await advance(10 * MIN);
      await until('the 429 and the delivered alert after it', () => receiver.posts.length >= 4);
      await until('its delivery recorded', () => results.includes('delivered'));
      // Delivered: the next round is a repeat, suppressed.
      const before = receiver.posts.length;
      await advance(100 * MIN);
      await dispatcher.flush();
      expect(receiver.posts.length).toBe(before);
      expect(results.filter((r) => r === 'suppressed')).toHaveLength(CERTS);

      // 4. The provider is fixed: the next attempt (daily by now) renews all 100, and they recover.
      dnsBroken = false;
      await advance(DAY);
      await until(
        'a recovery alert naming all',
        () => receiver.posts.filter((p) => p.body.type === 'recovered').flatMap((p) => p.body.certs).length >= CERTS,
        30_000,
      );
      await dispatcher.flush();
    } finally {
      await agent.stop(1000);
      await dispatcher.close(0);
    }

    const posts = receiver.posts;
    // Every failing certificate is named in a DELIVERED failure alert before any recovery names it.
    const firstRecovery = posts.findIndex((p) => p.body.type === 'recovered');
    const deliveredFailures = posts.slice(0, firstRecovery).filter((p) => p.status === 200 && p.body.type === 'failed');
    expect(new Set(deliveredFailures.flatMap((p) => p.body.certs))).toEqual(new Set(names));
    expect(
      posts
        .filter((p) => p.body.type === 'recovered' && p.status === 200)
        .flatMap((p) => p.body.certs)
        .sort(),
    ).toEqual(names);
    // Grouped: one alert per attempt at the outage, naming its cause; a handful of POSTs in all.
    expect(posts.map((p) => `${p.status} ${p.body.type} ${p.body.certs.length}`)).toEqual([
      `404 failed ${CERTS}`,
      `404 failed ${CERTS}`,
      `429 failed ${CERTS}`,
      `200 failed ${CERTS}`,
      `200 recovered ${CERTS}`,
    ]);
    expect(posts[3]!.body).toMatchObject({ group: true, cause: { provider: 'corp', code: 'DNS_UPDATE_FAILED' } });
    // Paced, and the 429's Retry-After honoured (arrival times; a few ms of loopback latency allowed).
    for (let i = 1; i < posts.length; i++) expect(posts[i]!.at - posts[i - 1]!.at).toBeGreaterThanOrEqual(PACE_MS - 25);
    expect(posts[3]!.at - posts[2]!.at).toBeGreaterThanOrEqual(RETRY_AFTER_S * 1000 - 25);
    // Metrics tell delivered, retrying and failed apart; nothing was dropped.
    expect(results.filter((r) => r === 'delivered')).toHaveLength(2);
    expect(results.filter((r) => r === 'failed')).toHaveLength(2);
    expect(results).toContain('retrying');
    expect(results).not.toContain('dropped');
    // The saved state says when the target last delivered (doctor reads it), with nothing waiting.
    const final = await stateFile.load();
    expect(final!.targets.ops!.lastDeliveredAt).toBeDefined();
    expect(final!.targets.ops!.queue).toEqual([]);
    expect(final!.targets.ops!.open).toEqual({});
  });
});
