// Notifications end to end over real sockets: a loopback HTTP server stands in for a generic
// webhook receiver, Slack and Teams; exec targets run a real script. The dispatcher runs on the
// system clock with short retry delays; these targets do not group (groupWindow: 0).
// notify-outage.test.ts drives grouping, pacing and the outbox through a whole outage.

import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import type { AgentEvent, AgentEventType, Severity } from '../../../src/observe/events.js';
import { createLogger } from '../../../src/observe/logger.js';
import type { NotificationResult } from '../../../src/observe/metrics.js';
import { Dispatcher } from '../../../src/observe/notify/dispatcher.js';
import { buildNotifyTargets } from '../../../src/observe/notify/registry.js';
import { notifySchema } from '../../../src/observe/notify/schema.js';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

/** A loopback receiver: records every POST; per-path scripted answers (status, body, headers) or a hang. */
class Receiver {
  readonly received: Received[] = [];
  readonly script = new Map<string, ({ status: number; body?: string; headers?: Record<string, string> } | 'hang')[]>();
  private server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '/';
      this.received.push({ path, headers: request.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') });
      const step = this.script.get(path)?.shift() ?? { status: path.startsWith('/teams') ? 202 : 200, body: path.startsWith('/slack') ? 'ok' : '' };
      if (step === 'hang') return; // never answers
      response.writeHead(step.status, { 'content-type': 'text/plain', ...step.headers });
      response.end(step.body ?? '');
    });
  });
  base = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
  at(prefix: string): Received[] {
    return this.received.filter((entry) => entry.path.startsWith(prefix));
  }
}

let receiver: Receiver;
let dir: string;
/** The system clock moved by this much, so suppression windows can pass without waiting. */
let clockOffset = 0;

beforeAll(async () => {
  receiver = new Receiver();
  await receiver.start();
  dir = await mkdtemp(path.join(tmpdir(), 'certkeeper-notify-'));
});

afterAll(async () => {
  await receiver.stop();
  await rm(dir, { recursive: true, force: true });
});

function event(type: AgentEventType, severity: Severity, overrides: Partial<AgentEvent> = {}): AgentEvent {
  return {
    type,
    severity,
    at: clock.now().toISOString(),
    cert: 'www',
    domains: ['www.example.test'],
    message: type === 'recovered' ? 'www renewed after 3 failures' : 'renewal of www failed: the CA saw no TXT record',
    serial: '0A1B',
    notAfter: '2026-03-04T00:00:00.000Z',
    ...(type === 'failed' ? { error: 'no TXT record for _acme-challenge.www.example.test', code: 'VALIDATION_FAILED', consecutiveFailures: 3 } : {}),
    ...overrides,
  };
}

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The system clock, moved forward by the test so suppression windows can pass. */
const clock = { now: () => new Date(Date.now() + clockOffset), sleep: systemClock.sleep };

function build(config: unknown) {
  const lines: string[] = [];
  const { logger } = createLogger({ level: 'debug', pretty: false, destination: { write: (line: string) => lines.push(line) } });
  const results: [string, NotificationResult][] = [];
  const targets = buildNotifyTargets(notifySchema.parse(config), { logger });
  const dispatcher = new Dispatcher({ targets, clock, logger, retryDelayMs: 20, onResult: (target, result) => results.push([target, result]) });
  return { dispatcher, lines, results };
}

describe('notifications to real receivers', () => {
  it('delivers failure, escalation and recovery to webhook, Slack and Teams, suppressing repeats', async () => {
    const secret = 'T0001/B0001/hUsHhUsHsEcReT';
    const { dispatcher, lines, results } = build({
      hook: {
        type: 'webhook',
        url: `${receiver.base}/hook/${secret}`,
        headers: { Authorization: 'Bearer hook-token', 'Content-Type': 'text/plain' },
        groupWindow: 0,
      },
      slack: { type: 'slack', url: `${receiver.base}/slack/${secret}`, groupWindow: 0, minInterval: '50ms' },
      teams: { type: 'teams', url: `${receiver.base}/teams/${secret}`, groupWindow: 0, minInterval: '50ms' },
    });

    const first = event('failed', 'warning');
    dispatcher.dispatch(first);
    await dispatcher.flush(); // delivered: from here it counts as sent
    clockOffset += 3_600_000;
    dispatcher.dispatch(event('failed', 'warning')); // a backoff loop repeating itself: suppressed
    dispatcher.dispatch(event('failed', 'critical')); // the window opened: escalates at once
    dispatcher.dispatch(event('obtained', 'info')); // routine: not selected by default
    await dispatcher.flush();
    dispatcher.dispatch(event('recovered', 'info'));
    await dispatcher.flush();

    const hook = receiver.at('/hook/');
    expect(hook.map((r) => `${(r.body as AgentEvent).type}/${(r.body as AgentEvent).severity}`)).toEqual([
      'failed/warning',
      'failed/critical',
      'recovered/info',
    ]);
    expect(hook[0]!.body).toEqual({ ...first, certs: ['www'] });
    expect(hook[0]!.headers).toMatchObject({ 'content-type': 'application/json', authorization: 'Bearer hook-token', 'user-agent': 'certkeeper' });

    const slack = receiver.at('/slack/').map((r) => r.body as { text: string; blocks: unknown[] });
    expect(slack.map((body) => body.text.split(':')[1])).toEqual(['warning', 'rotating_light', 'white_check_mark']);
    expect(slack[2]!.text).toContain('[RESOLVED] www: recovered');
    expect(slack[0]!.blocks.length).toBeGreaterThan(2);

    const teams = receiver.at('/teams/').map((r) => r.body as { type: string; attachments: { contentType: string }[] });
    expect(teams).toHaveLength(3);
    expect(teams[1]!.attachments[0]!.contentType).toBe('application/vnd.microsoft.card.adaptive');

    expect(results.filter(([, r]) => r === 'delivered')).toHaveLength(9);
    expect(results.filter(([, r]) => r === 'suppressed')).toHaveLength(3);
    expect(lines.join('')).not.toContain('hUsHhUsHsEcReT');
  });

  it('retries a receiver that fails, honours Retry-After, and logs a failure without the URL', async () => {
    const secret = 'sEcReTpAtH-42';
    receiver.script.set(`/flaky/${secret}`, [{ status: 503 }, { status: 429, headers: { 'retry-after': '0' } }]);
    receiver.script.set(`/gone/${secret}`, [{ status: 404, body: `no such hook: /gone/${secret}` }]);
    const closedPort = await freePort();
    const { dispatcher, lines, results } = build({
      flaky: { type: 'webhook', url: `${receiver.base}/flaky/${secret}` },
      gone: { type: 'slack', url: `${receiver.base}/gone/${secret}` },
      refused: { type: 'teams', url: `http://127.0.0.1:${closedPort}/${secret}`, retries: 1 },
    });
    dispatcher.dispatch(event('deploy_failed', 'warning', { sink: 'nginx' }));
    await dispatcher.flush();

    expect(receiver.at('/flaky/')).toHaveLength(3);
    expect(receiver.at('/gone/')).toHaveLength(1); // 404: retrying cannot help
    expect(results.filter(([, r]) => r !== 'retrying').sort()).toEqual([
      ['flaky', 'delivered'],
      ['gone', 'failed'],
      ['refused', 'failed'],
    ]);
    expect(results.filter(([target, r]) => target === 'flaky' && r === 'retrying')).toHaveLength(2);
    const log = lines.join('');
    expect(log).not.toContain(secret);
    const failures = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === 'notification not delivered');
    expect(failures.map((line) => [line.target, line.attempts, line.err]).sort()).toEqual([
      ['gone', 1, 'notify target "gone" (slack): HTTP 404: no such hook: [REDACTED]'],
      ['refused', 2, 'notify target "refused" (teams): request failed (ECONNREFUSED)'],
    ]);
  });

  it('a hanging receiver does not delay the other targets and times out', async () => {
    receiver.script.set('/stuck/x', ['hang', 'hang']);
    const { dispatcher, results } = build({
      stuck: { type: 'webhook', url: `${receiver.base}/stuck/x`, timeout: '300ms', retries: 1 },
      quick: { type: 'webhook', url: `${receiver.base}/quick/x` },
    });
    const before = receiver.at('/quick/').length;
    const started = performance.now();
    dispatcher.dispatch(event('failed', 'warning', { cert: 'api' }));
    expect(performance.now() - started).toBeLessThan(50);
    await expect.poll(() => receiver.at('/quick/').length, { timeout: 2_000, interval: 10 }).toBe(before + 1);
    expect(results).not.toContainEqual(['stuck', 'failed']);
    await dispatcher.flush();
    expect(performance.now() - started).toBeGreaterThanOrEqual(600);
    expect(results).toContainEqual(['stuck', 'failed']);
    expect(receiver.at('/stuck/')).toHaveLength(2);
  });

  it('runs exec targets with the event in CERTKEEPER_* variables, and reports their failures', async () => {
    const script = path.join(dir, 'notify.sh');
    await writeFile(
      script,
      '#!/bin/sh\nenv | grep -E "^(CERTKEEPER_[A-Z_]*|EXTRA)=" | grep -v EVENT_JSON | sort > "$OUT_DIR/$CERTKEEPER_EVENT.env"\n[ -z "$FAIL" ] || { echo "pager API said no" >&2; exit 3; }\n',
    );
    await chmod(script, 0o755);
    const { dispatcher, lines, results } = build({
      page: { type: 'exec', command: [script], env: { OUT_DIR: dir, EXTRA: 'yes', CERTKEEPER_EVENT: 'forged' }, groupWindow: 0 },
      broken: { type: 'exec', command: [script], env: { OUT_DIR: path.join(dir, 'missing'), FAIL: '1' }, retries: 0, groupWindow: 0 },
    });
    const failed = event('failed', 'critical', { cert: 'mail' });
    dispatcher.dispatch(failed);
    dispatcher.dispatch(event('recovered', 'info', { cert: 'mail' }));
    await dispatcher.flush();

    expect((await readdir(dir)).filter((name) => name.endsWith('.env')).sort()).toEqual(['failed.env', 'recovered.env']);
    const env = Object.fromEntries(
      (await readFile(path.join(dir, 'failed.env'), 'utf8'))
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(env).toEqual({
      CERTKEEPER_AT: failed.at,
      CERTKEEPER_CAUSE: '',
      CERTKEEPER_CERTS: 'mail',
      CERTKEEPER_CERT_COUNT: '1',
      CERTKEEPER_CERT_NAME: 'mail',
      CERTKEEPER_DOMAINS: 'www.example.test',
      CERTKEEPER_ERROR: 'no TXT record for _acme-challenge.www.example.test',
      CERTKEEPER_EVENT: 'failed',
      CERTKEEPER_GROUP: '',
      CERTKEEPER_MESSAGE: 'renewal of www failed: the CA saw no TXT record',
      CERTKEEPER_NOT_AFTER: '2026-03-04T00:00:00.000Z',
      CERTKEEPER_SERIAL: '0A1B',
      CERTKEEPER_SEVERITY: 'critical',
      CERTKEEPER_SINK: '',
      CERTKEEPER_TEST: '',
      EXTRA: 'yes',
    });
    // Its failure alert was never delivered, so it is not sent the recovery either.
    expect(results.filter(([target]) => target === 'broken')).toEqual([['broken', 'failed']]);
    const failure = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line.target === 'broken' && line.msg === 'notification not delivered');
    expect(failure).toMatchObject({ code: 'HOOK_FAILED' });
    expect(String(failure!.err)).toContain('pager API said no');
  });
});
