// Queued alerts survive a reload, end to end: `certkeeper run` queues failure alerts for a
// webhook receiver that is down, is reloaded by SIGHUP onto a changed config (the target's pace
// changed, another target added), and then the receiver comes up. Every queued alert is delivered
// exactly once: no loss, and the dispatcher the reload replaced sends nothing more.
// No CA is needed: the certificates fail because their CAs are unreachable (two CAs, two causes,
// so more than one alert waits).

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import type http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/devstack/ports.js';
import { killDaemons, startDaemon, startReceiver, until, type ReceivedAlert } from '../../helpers/daemon.js';

const receivers: http.Server[] = [];
afterEach(async () => {
  killDaemons();
  for (const server of receivers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

interface SavedQueueItem {
  type: string;
  attempts: number;
  events: { cert: string }[];
}
interface SavedState {
  targets: Record<string, { queue: SavedQueueItem[]; open: Record<string, unknown>; lastDeliveredAt?: string }>;
}

const CERTS = ['east1', 'east2', 'west1', 'west2'];

interface Ports {
  ops: number;
  audit: number;
  /** Two CAs nothing answers at. */
  east: number;
  west: number;
}

function config(ports: Ports, withAudit: boolean, opsPace: string): string {
  return `stateDir: ./state
issuers:
  - { name: east, directory: "https://127.0.0.1:${ports.east}/dir", email: ops@example.test }
  - { name: west, directory: "https://127.0.0.1:${ports.west}/dir", email: ops@example.test }
backoff: [1s]
dns: { corp: { type: exec, command: ["/bin/true"] } }
notify:
  ops: { type: webhook, url: "http://127.0.0.1:${ports.ops}/alerts", events: [failed, recovered], retries: 10, groupWindow: 2s, minInterval: ${opsPace} }
${withAudit ? `  audit: { type: webhook, url: "http://127.0.0.1:${ports.audit}/alerts", events: [failed, recovered], retries: 10, groupWindow: 2s }\n` : ''}certificates:
${CERTS.map((name) => `  - { name: ${name}, domains: [${name}.example.test], dns: corp, issuers: [${name.startsWith('east') ? 'east' : 'west'}] }`).join('\n')}
`;
}

/** Every certificate named by the delivered failure alerts, once per naming. */
function namedByFailures(received: ReceivedAlert[]): string[] {
  return received
    .filter((alert) => alert.type === 'failed')
    .flatMap((alert) => alert.certs)
    .sort();
}

describe('certkeeper run: queued alerts across a reload', () => {
  it('delivers every alert queued for a receiver that was down exactly once after SIGHUP onto a changed config', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ck-notify-reload-'));
    // Nothing listens on these yet: the receivers are down.
    const ports: Ports = { ops: await freePort(), audit: await freePort(), east: await freePort(), west: await freePort() };
    const file = path.join(dir, 'certkeeper.yaml');
    writeFileSync(file, config(ports, false, '100ms'));
    const stateFile = path.join(dir, 'state', 'store', 'agents', hostname(), 'notify');
    const saved = (): SavedState => JSON.parse(readFileSync(stateFile, 'utf8')) as SavedState;

    const daemon = startDaemon(file);
    // Both causes' alerts wait, naming every certificate, and delivery was tried (refused).
    await until(
      'failure alerts queued for the receiver that is down, and tried',
      async () => {
        const queue = saved().targets.ops?.queue ?? [];
        const named = new Set(queue.flatMap((item) => item.events.map((event) => event.cert)));
        return CERTS.every((cert) => named.has(cert)) && queue.length >= 2 && queue.some((item) => item.attempts > 0) ? true : undefined;
      },
      30_000,
      daemon,
    );

    // Reload onto a changed config: ops paced differently, and a second target.
    writeFileSync(file, config(ports, true, '300ms'));
    const reloadsBefore = daemon.output().split('config reloaded').length;
    daemon.child.kill('SIGHUP');
    await until('the reload', async () => (daemon.output().split('config reloaded').length > reloadsBefore ? true : undefined), 20_000, daemon);

    // The receivers come up.
    const ops = await startReceiver(ports.ops);
    const audit = await startReceiver(ports.audit);
    receivers.push(ops.receiver, audit.receiver);
    await until(
      'every queued alert delivered to ops',
      async () => (new Set(namedByFailures(ops.received)).size === CERTS.length ? true : undefined),
      60_000,
      daemon,
    );
    await until(
      'the delivery recorded',
      async () => {
        const target = saved().targets.ops;
        return target?.queue.length === 0 && CERTS.every((cert) => cert in target.open) ? true : undefined;
      },
      20_000,
      daemon,
    );
    // The certificates go on failing; the added target hears of them too.
    await until('the added target alerted', async () => (new Set(namedByFailures(audit.received)).size === CERTS.length ? true : undefined), 60_000, daemon);

    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);
    // Exactly once: each certificate in one delivered failure alert per target, none lost, none
    // sent again by the replaced dispatcher or as a repeat of what was delivered.
    expect(namedByFailures(ops.received)).toEqual(CERTS);
    expect(namedByFailures(audit.received)).toEqual(CERTS);
    expect(daemon.output()).not.toContain('undelivered alerts are dropped');
    const final = saved().targets;
    expect(final.ops!.queue).toEqual([]);
    expect(Object.keys(final.ops!.open).sort()).toEqual(CERTS);
    expect(final.audit!.queue).toEqual([]);
  }, 120_000);
});
