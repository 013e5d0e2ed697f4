// The dispatcher's state machine on an injected clock: what is queued, grouped, paced, retried,
// delivered, and what delivery (only delivery) makes it remember.

import { describe, expect, it } from 'vitest';
import { CertkeeperError } from '../../../src/core/errors.js';
import type { Logger } from '../../../src/core/logger.js';
import type { AgentEvent, AgentEventType, Severity } from '../../../src/observe/events.js';
import type { NotificationResult } from '../../../src/observe/metrics.js';
import type { Alert } from '../../../src/observe/notify/alert.js';
import type { Notifier } from '../../../src/observe/notify/contract.js';
import { Dispatcher, type DeliveryPolicy, type DispatcherSnapshot, type NotifyStateStore, type NotifyTarget } from '../../../src/observe/notify/dispatcher.js';
import { DEFAULT_NOTIFY_EVENTS, DEFAULT_REPEAT_AFTER_MS } from '../../../src/observe/notify/delivery-schema.js';
import { deliveryPolicy } from '../../../src/observe/notify/registry.js';
import { notifyTargetSchema } from '../../../src/observe/notify/schema.js';
import { parseSnapshot } from '../../../src/observe/notify/snapshot.js';
import { ManualClock } from '../../helpers/clock.js';

const SECOND = 1000;
const HOUR = 3_600_000;

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

type Step = 'ok' | 'hang' | 'throw-sync' | Error;

/** A notifier whose behaviour per call is scripted; records what it accepted and when (on the test clock). */
class FakeNotifier implements Notifier {
  readonly type = 'fake';
  readonly alerts: Alert[] = [];
  readonly sentAt: number[] = [];
  readonly attemptsAt: number[] = [];
  calls = 0;
  private waiters: (() => void)[] = [];
  constructor(
    readonly name: string,
    private readonly script: (call: number) => Step = () => 'ok',
  ) {}
  send(alert: Alert, _signal: AbortSignal): Promise<void> {
    this.calls++;
    this.attemptsAt.push(clock.now().getTime());
    const step = this.script(this.calls);
    if (step === 'throw-sync') throw new Error('bug in notifier');
    if (step === 'hang') return new Promise<void>(() => {}); // ignores its signal on purpose
    if (step instanceof Error) return Promise.reject(step);
    this.alerts.push(structuredClone(alert));
    this.sentAt.push(clock.now().getTime());
    for (const wake of this.waiters.splice(0)) wake();
    return Promise.resolve();
  }
  /** Every delivered event, flattened ("type/severity/cert"). */
  get delivered(): string[] {
    return this.alerts.flatMap((alert) => alert.events.map((e) => `${e.type}/${e.severity}/${e.cert}`));
  }
  /** Resolves once `count` alerts were delivered. */
  received(count: number): Promise<void> {
    if (this.alerts.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(() => (this.alerts.length >= count ? resolve() : void this.received(count).then(resolve))));
  }
}

const HTTP_404 = (): CertkeeperError => new CertkeeperError('HOOK_FAILED', 'notify target (webhook): HTTP 404', { retryable: false });
const HTTP_503 = (): CertkeeperError => new CertkeeperError('HOOK_FAILED', 'notify target (webhook): HTTP 503', { retryable: true });
const HTTP_429 = (seconds: number): CertkeeperError =>
  new CertkeeperError('HOOK_FAILED', 'notify target (webhook): HTTP 429', { retryable: true, retryAfterSeconds: seconds });

function policy(overrides: Partial<DeliveryPolicy> = {}): DeliveryPolicy {
  return { events: DEFAULT_NOTIFY_EVENTS, minSeverity: 'warning', repeatAfterMs: DEFAULT_REPEAT_AFTER_MS, retries: 3, timeoutMs: 5_000, ...overrides };
}

function target(notifier: Notifier, overrides: Partial<DeliveryPolicy> = {}): NotifyTarget {
  return { name: notifier.name, notifier, policy: policy(overrides) };
}

let clock: ManualClock;

function event(type: AgentEventType, severity: Severity, overrides: Partial<AgentEvent> = {}): AgentEvent {
  return { type, severity, at: clock.now().toISOString(), cert: 'www', domains: ['www.example.com'], message: `${type} ${severity}`, ...overrides };
}

/** A failure through DNS provider "corp" (one cause), for certificate `cert`. */
function dnsFailure(cert: string, severity: Severity = 'warning'): AgentEvent {
  return event('failed', severity, { cert, code: 'DNS_UPDATE_FAILED', provider: 'corp', issuer: 'default', error: 'DNS API said 401' });
}

function memoryStore(): NotifyStateStore & { saved: DispatcherSnapshot[] } {
  const saved: DispatcherSnapshot[] = [];
  return {
    saved,
    load: async () => saved.at(-1),
    save: async (snapshot) => void saved.push(structuredClone(snapshot)),
  };
}

interface Setup {
  dispatcher: Dispatcher;
  logs: LogLine[];
  results: [string, NotificationResult][];
}

function setup(targets: NotifyTarget[], extra: { maxQueue?: number; state?: DispatcherSnapshot; store?: NotifyStateStore; keepClock?: boolean } = {}): Setup {
  if (!extra.keepClock) clock = new ManualClock('2026-03-01T00:00:00Z');
  const logs: LogLine[] = [];
  const results: [string, NotificationResult][] = [];
  const dispatcher = new Dispatcher({
    targets,
    clock,
    logger: recordingLogger(logs),
    onResult: (name, result) => results.push([name, result]),
    saveDelayMs: 1,
    ...(extra.maxQueue ? { maxQueue: extra.maxQueue } : {}),
    ...(extra.state ? { state: extra.state } : {}),
    ...(extra.store ? { store: extra.store } : {}),
  });
  return { dispatcher, logs, results };
}

const count = (results: [string, NotificationResult][], result: NotificationResult): number => results.filter(([, r]) => r === result).length;
/** Lets the worker run (it starts after the current turn, so a burst of events merges first). */
const turn = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('Dispatcher filters', () => {
  it('by default delivers failures, expiry and recovery at warning or above, not routine events', async () => {
    const ops = new FakeNotifier('ops');
    const { dispatcher } = setup([target(ops)]);
    expect(dispatcher.dispatch(event('obtaining', 'info'))[0]).toMatchObject({ action: 'filtered', reason: 'event-not-selected' });
    expect(dispatcher.dispatch(event('obtained', 'info'))[0]).toMatchObject({ action: 'filtered', reason: 'event-not-selected' });
    expect(dispatcher.dispatch(event('failed', 'warning'))[0]).toMatchObject({ action: 'queued', reason: 'new' });
    expect(dispatcher.dispatch(event('deploy_failed', 'warning', { sink: 'nginx' }))[0]).toMatchObject({ action: 'queued' });
    await dispatcher.flush();
    expect(dispatcher.dispatch(event('expiring', 'critical'))[0]).toMatchObject({ action: 'queued', reason: 'escalation' });
    await dispatcher.flush();
    expect(ops.delivered).toEqual(['failed/warning/www', 'deploy_failed/warning/www', 'expiring/critical/www']);
  });

  it('honours minSeverity and a custom event list; `expired` goes wherever failed or expiring is selected', async () => {
    const pager = new FakeNotifier('pager');
    const chat = new FakeNotifier('chat');
    const quiet = new FakeNotifier('quiet');
    const { dispatcher } = setup([
      target(pager, { minSeverity: 'critical' }),
      target(chat, { events: ['obtained', 'failed'], minSeverity: 'info' }),
      target(quiet, { events: ['deploy_failed'] }),
    ]);
    expect(dispatcher.dispatch(event('failed', 'warning'))).toEqual([
      { target: 'pager', action: 'filtered', reason: 'below-min-severity' },
      { target: 'chat', action: 'queued', reason: 'new' },
      { target: 'quiet', action: 'filtered', reason: 'event-not-selected' },
    ]);
    dispatcher.dispatch(event('obtained', 'info', { cert: 'api' }));
    await dispatcher.flush();
    dispatcher.dispatch(event('expired', 'critical'));
    await dispatcher.flush();
    expect(pager.delivered).toEqual(['expired/critical/www']);
    expect(chat.delivered).toEqual(['failed/warning/www', 'obtained/info/api', 'expired/critical/www']);
    expect(quiet.delivered).toEqual([]);
  });
});

describe('Dispatcher: delivery is the fact', () => {
  it('queued is not sent: the memory changes only once the receiver took it', async () => {
    const ops = new FakeNotifier('ops');
    const { dispatcher, results } = setup([target(ops)]);
    expect(dispatcher.dispatch(event('failed', 'warning'))[0]!.action).toBe('queued');
    const queued = dispatcher.snapshot().targets.ops!;
    expect(queued.queue).toHaveLength(1);
    expect(queued.open).toEqual({});
    expect(queued.lastDeliveredAt).toBeUndefined();
    await dispatcher.flush();
    const delivered = dispatcher.snapshot().targets.ops!;
    expect(delivered.queue).toEqual([]);
    expect(delivered.open.www!.families).toEqual({ renewal: { at: clock.now().toISOString(), stage: 1 } });
    expect(delivered.lastDeliveredAt).toBe(clock.now().toISOString());
    expect(results).toEqual([['ops', 'delivered']]);
  });

  it('a receiver answering 404 leaves the alert open: the next failure is sent, not suppressed (regression)', async () => {
    let broken = true;
    const ops = new FakeNotifier('ops', () => (broken ? HTTP_404() : 'ok'));
    const { dispatcher, results } = setup([target(ops)]);
    dispatcher.dispatch(event('failed', 'warning'));
    await dispatcher.flush();
    expect(results).toEqual([['ops', 'failed']]);
    broken = false; // the receiver is fixed
    clock.advance(10 * 60_000);
    // The 2nd failure is news (nothing was delivered); the 3rd and 4th are repeats of the 2nd.
    expect(dispatcher.dispatch(event('failed', 'warning'))[0]).toMatchObject({ action: 'queued', reason: 'new' });
    await dispatcher.flush();
    clock.advance(10 * 60_000);
    expect(dispatcher.dispatch(event('failed', 'warning'))[0]).toMatchObject({ action: 'suppressed', reason: 'repeat' });
    expect(ops.delivered).toEqual(['failed/warning/www']);
    expect(dispatcher.snapshot().targets.ops!.lastFailure).toMatchObject({ error: 'notify target (webhook): HTTP 404' });
  });

  it('repeats of a waiting alert join it instead of being counted as sent', async () => {
    const ops = new FakeNotifier('ops');
    const { dispatcher } = setup([target(ops)]);
    expect(dispatcher.dispatch(event('failed', 'warning'))[0]!.action).toBe('queued');
    expect(dispatcher.dispatch(event('failed', 'warning', { message: 'again' }))[0]).toMatchObject({ action: 'grouped' });
    await dispatcher.flush();
    expect(ops.alerts).toHaveLength(1);
    expect(ops.alerts[0]!.events[0]!.message).toBe('again'); // the latest word
  });

  it('suppresses the same stage within repeatAfter of its delivery and sends it again after', async () => {
    const ops = new FakeNotifier('ops');
    const { dispatcher, results } = setup([target(ops)]);
    dispatcher.dispatch(event('failed', 'warning'));
    await dispatcher.flush();
    clock.advance(1 * HOUR);
    expect(dispatcher.dispatch(event('failed', 'warning'))[0]).toMatchObject({ action: 'suppressed', reason: 'repeat' });
    clock.advance(5 * HOUR - 1);
    expect(dispatcher.dispatch(event('failed', 'warning'))[0]).toMatchObject({ action: 'suppressed' });
    clock.advance(1);
    expect(dispatcher.dispatch(event('failed', 'warning'))[0]).toMatchObject({ action: 'queued', reason: 'repeat-after-elapsed' });
    await dispatcher.flush();
    expect(ops.alerts).toHaveLength(2);
    expect(count(results, 'suppressed')).toBe(2);
  });

  it('keeps certificates, deploy sinks and verifications apart', async () => {
    const ops = new FakeNotifier('ops');
    const { dispatcher } = setup([target(ops, { groupWindowMs: 0 })]);
    dispatcher.dispatch(event('failed', 'warning'));
    dispatcher.dispatch(event('failed', 'warning', { cert: 'api' }));
    dispatcher.dispatch(event('deploy_failed', 'warning', { sink: 'nginx' }));
    dispatcher.dispatch(event('deploy_failed', 'warning', { sink: 'haproxy' }));
    await dispatcher.flush();
    expect(dispatcher.dispatch(event('deploy_failed', 'warning', { sink: 'nginx' }))[0]!.action).toBe('suppressed');
    expect(dispatcher.dispatch(event('verify_failed', 'warning', { endpoint: '127.0.0.1:443' }))[0]!.action).toBe('queued');
    await dispatcher.flush();
    expect(ops.delivered.sort()).toEqual([
      'deploy_failed/warning/www',
      'deploy_failed/warning/www',
      'failed/warning/api',
      'failed/warning/www',
      'verify_failed/warning/www',
    ]);
  });

  it('lets an escalation through at once, and suppresses a lower severity after it', async () => {
    const ops = new FakeNotifier('ops');
    const { dispatcher } = setup([target(ops, { repeatAfterMs: 6 * HOUR })]);
    dispatcher.dispatch(event('failed', 'warning'));
    await dispatcher.flush();
    clock.advance(10 * 60_000);
    expect(dispatcher.dispatch(event('failed', 'critical'))[0]).toMatchObject({ action: 'queued', reason: 'escalation' });
    await dispatcher.flush();
    expect(dispatcher.dispatch(event('failed', 'critical'))[0]).toMatchObject({ action: 'suppressed' });
    expect(dispatcher.dispatch(event('failed', 'warning'))[0]).toMatchObject({ action: 'suppressed' });
    await dispatcher.flush();
    expect(ops.delivered).toEqual(['failed/warning/www', 'failed/critical/www']);
  });

  it('one escalation step is one alert: a critical expiring and a critical failed in the same second send one (regression)', async () => {
    const ops = new FakeNotifier('ops');
    const { dispatcher, results } = setup([target(ops)]);
    dispatcher.dispatch(dnsFailure('www'));
    await dispatcher.flush();
    clock.advance(6 * 60_000);
    // The alert window opens: the plan says expiring, the retry says failed (critical), together.
    dispatcher.dispatch(event('expiring', 'critical', { message: 'www expires at … (in 20 h) and was not renewed' }));
    dispatcher.dispatch(dnsFailure('www', 'critical'));
    await dispatcher.flush();
    expect(ops.delivered).toEqual(['failed/warning/www', 'expiring/critical/www']);
    expect(count(results, 'suppressed')).toBe(1);
  });

  it('expired is never a repeat of expiring; its own repeat is (regression)', async () => {
    const ops = new FakeNotifier('ops');
    const { dispatcher } = setup([target(ops)]);
    dispatcher.dispatch(event('expiring', 'critical', { message: 'www expires … (in 0 h)' }));
    await dispatcher.flush();
    clock.advance(30 * 60_000);
    expect(dispatcher.dispatch(event('expiring', 'critical'))[0]).toMatchObject({ action: 'suppressed' });
    expect(dispatcher.dispatch(event('expired', 'critical', { message: 'www expired at …' }))[0]).toMatchObject({ action: 'queued', reason: 'escalation' });
    await dispatcher.flush();
    // The renewal that keeps failing after notAfter is part of the same step: not another alert.
    expect(dispatcher.dispatch(event('expired', 'critical', { error: 'DNS API said 401' }))[0]).toMatchObject({ action: 'suppressed' });
    expect(dispatcher.dispatch(event('failed', 'critical'))[0]).toMatchObject({ action: 'suppressed' });
    expect(ops.alerts.map((alert) => alert.message)).toEqual(['www expires … (in 0 h)', 'www expired at …']);
  });

  it('recovered goes only where a failure alert was delivered, whatever its severity (regression: "recovered after 3 failures" as first word)', async () => {
    let down = true;
    const ops = new FakeNotifier('ops', () => (down ? HTTP_503() : 'ok'));
    const pager = new FakeNotifier('pager');
    const { dispatcher } = setup([target(ops, { retries: 1 }), target(pager, { minSeverity: 'critical' })]);
    expect(dispatcher.dispatch(event('recovered', 'info')).map((d) => d.reason)).toEqual(['no-prior-alert', 'no-prior-alert']);
    dispatcher.dispatch(event('failed', 'warning')); // ops cannot take it; pager filters the warning
    await dispatcher.flush();
    expect(dispatcher.dispatch(event('recovered', 'info'))).toEqual([
      { target: 'ops', action: 'filtered', reason: 'no-prior-alert' },
      { target: 'pager', action: 'filtered', reason: 'no-prior-alert' },
    ]);
    down = false;
    dispatcher.dispatch(event('failed', 'warning'));
    await dispatcher.flush();
    expect(dispatcher.dispatch(event('recovered', 'info'))[0]).toMatchObject({ action: 'queued', reason: 'recovery' });
    await dispatcher.flush();
    expect(ops.delivered).toEqual(['failed/warning/www', 'recovered/info/www']);
    expect(pager.delivered).toEqual([]);
  });

  it('a recovery waits behind the failure it ends, and is left out if that failure is never delivered', async () => {
    let call = 0;
    const ops = new FakeNotifier('ops', () => (++call === 1 ? HTTP_404() : 'ok'));
    const { dispatcher } = setup([target(ops, { groupWindowMs: 0 })]);
    dispatcher.dispatch(event('failed', 'warning', { cert: 'a' }));
    dispatcher.dispatch(event('failed', 'warning', { cert: 'b', code: 'OTHER' }));
    // Both recover before anything went out: each recovery follows its own failure alert.
    expect(dispatcher.dispatch(event('recovered', 'info', { cert: 'a' }))[0]).toMatchObject({ action: 'queued', reason: 'recovery' });
    expect(dispatcher.dispatch(event('recovered', 'info', { cert: 'b' }))[0]).toMatchObject({ action: 'queued', reason: 'recovery' });
    await dispatcher.flush();
    // a's failure got a 404: nobody was told, so nobody is told it recovered.
    expect(ops.delivered).toEqual(['failed/warning/b', 'recovered/info/b']);
  });

  it('recovery passes minSeverity, is sent once, and re-arms alerts for the next failure', async () => {
    const pager = new FakeNotifier('pager');
    const { dispatcher } = setup([target(pager, { minSeverity: 'critical' })]);
    dispatcher.dispatch(event('failed', 'warning'));
    dispatcher.dispatch(event('failed', 'critical'));
    await dispatcher.flush();
    expect(dispatcher.dispatch(event('recovered', 'info'))[0]!.action).toBe('queued');
    await dispatcher.flush();
    expect(dispatcher.dispatch(event('recovered', 'info'))[0]!.reason).toBe('no-prior-alert');
    // The next failure is news, not a repeat of the one before the recovery.
    expect(dispatcher.dispatch(event('failed', 'critical'))[0]).toMatchObject({ action: 'queued', reason: 'new' });
    await dispatcher.flush();
    expect(pager.delivered).toEqual(['failed/critical/www', 'recovered/info/www', 'failed/critical/www']);
  });

  it('a failure right after a recovery that is still waiting is news', async () => {
    const ops = new FakeNotifier('ops');
    const { dispatcher } = setup([target(ops, { groupWindowMs: 0 })]);
    dispatcher.dispatch(event('failed', 'warning'));
    await dispatcher.flush();
    dispatcher.dispatch(event('recovered', 'info'));
    expect(dispatcher.dispatch(event('failed', 'warning'))[0]).toMatchObject({ action: 'queued', reason: 'after-recovery' });
    await dispatcher.flush();
    expect(ops.delivered).toEqual(['failed/warning/www', 'recovered/info/www', 'failed/warning/www']);
  });

  it('an unselected recovered is not sent but still ends the alert', async () => {
    const quiet = new FakeNotifier('quiet');
    const { dispatcher } = setup([target(quiet, { events: ['failed'] })]);
    dispatcher.dispatch(event('failed', 'warning'));
    await dispatcher.flush();
    expect(dispatcher.dispatch(event('recovered', 'info'))[0]).toMatchObject({ action: 'filtered', reason: 'event-not-selected' });
    expect(dispatcher.dispatch(event('failed', 'warning'))[0]).toMatchObject({ action: 'queued', reason: 'new' });
    await dispatcher.flush();
    expect(quiet.delivered).toEqual(['failed/warning/www', 'failed/warning/www']);
  });
});

describe('Dispatcher grouping', () => {
  it('sends the first failure of a cause at once and the rest of the window as one alert naming every certificate', async () => {
    const ops = new FakeNotifier('ops');
    const { dispatcher } = setup([target(ops, { groupWindowMs: 30 * SECOND })]);
    const start = clock.now().getTime();
    expect(dispatcher.dispatch(dnsFailure('c000'))[0]!.action).toBe('queued');
    await ops.received(1);
    expect(ops.sentAt).toEqual([start]);
    for (let i = 1; i < 100; i++) {
      clock.advance(100); // a burst over 10 s
      expect(dispatcher.dispatch(dnsFailure(`c${String(i).padStart(3, '0')}`))[0]).toMatchObject({ action: 'grouped' });
    }
    // A different cause is its own alert, at once.
    dispatcher.dispatch(event('failed', 'warning', { cert: 'other', code: 'ACME_UNREACHABLE', issuer: 'default', provider: 'corp' }));
    await dispatcher.flush();
    expect(ops.alerts).toHaveLength(3);
    expect(ops.alerts[1]!.certs).toEqual(['other']);
    const group = ops.alerts[2]!;
    expect(group.certs).toHaveLength(99);
    expect(group.cause).toMatchObject({ kind: 'dns', provider: 'corp', code: 'DNS_UPDATE_FAILED' });
    expect(group.message).toBe('renewal failed for 99 certificates: DNS provider "corp" (DNS_UPDATE_FAILED): DNS API said 401');
    expect(ops.sentAt[2]).toBe(start + 30 * SECOND); // at the window's end
  });

  it('a burst that arrives in one turn is one alert', async () => {
    const ops = new FakeNotifier('ops');
    const { dispatcher } = setup([target(ops, { groupWindowMs: 30 * SECOND })]);
    for (let i = 0; i < 130; i++) dispatcher.dispatch(dnsFailure(`c${i}`));
    await dispatcher.flush();
    expect(ops.alerts).toHaveLength(1);
    expect(ops.alerts[0]!.certs).toHaveLength(130);
  });

  it('groups recoveries of one outage the same way, after their failures', async () => {
    const ops = new FakeNotifier('ops');
    const { dispatcher } = setup([target(ops, { groupWindowMs: 30 * SECOND })]);
    for (let i = 0; i < 5; i++) dispatcher.dispatch(dnsFailure(`c${i}`));
    await dispatcher.flush();
    clock.advance(HOUR);
    dispatcher.dispatch(event('recovered', 'info', { cert: 'c0' }));
    await ops.received(2);
    for (let i = 1; i < 5; i++) dispatcher.dispatch(event('recovered', 'info', { cert: `c${i}` }));
    await dispatcher.flush();
    expect(ops.alerts.map((alert) => `${alert.type}:${alert.certs.join(',')}`)).toEqual(['failed:c0,c1,c2,c3,c4', 'recovered:c0', 'recovered:c1,c2,c3,c4']);
    expect(ops.alerts[2]!.cause?.key).toBe('dns:corp:DNS_UPDATE_FAILED');
  });

  it('a failure held in a group is still named before its recovery goes out', async () => {
    const ops = new FakeNotifier('ops');
    const { dispatcher } = setup([target(ops, { groupWindowMs: 30 * SECOND })]);
    dispatcher.dispatch(dnsFailure('first'));
    await ops.received(1);
    clock.advance(SECOND);
    dispatcher.dispatch(dnsFailure('held')); // waits for the window
    clock.advance(SECOND);
    dispatcher.dispatch(event('recovered', 'info', { cert: 'held' }));
    await dispatcher.flush();
    expect(ops.alerts.map((alert) => `${alert.type}:${alert.certs.join(',')}`)).toEqual(['failed:first', 'failed:held', 'recovered:held']);
  });
});

describe('Dispatcher pacing and retries', () => {
  it('paces requests to a target (minInterval) and delivers in order', async () => {
    const chat = new FakeNotifier('chat');
    const { dispatcher } = setup([target(chat, { minIntervalMs: SECOND, groupWindowMs: 0 })]);
    const start = clock.now().getTime();
    for (const cert of ['a', 'b', 'c']) dispatcher.dispatch(event('failed', 'warning', { cert, code: `CODE_${cert}` }));
    await dispatcher.flush();
    expect(chat.alerts.map((alert) => alert.certs[0])).toEqual(['a', 'b', 'c']);
    expect(chat.sentAt.map((at) => at - start)).toEqual([0, SECOND, 2 * SECOND]);
  });

  it('retries with backoff on the injected clock, in order; the target waits meanwhile', async () => {
    const flaky = new FakeNotifier('flaky', (call) => (call <= 2 ? HTTP_503() : 'ok'));
    const { dispatcher, results } = setup([target(flaky, { groupWindowMs: 0 })]);
    const start = clock.now().getTime();
    dispatcher.dispatch(event('failed', 'warning'));
    dispatcher.dispatch(event('deploy_failed', 'warning', { sink: 'nginx' }));
    await dispatcher.flush();
    expect(flaky.calls).toBe(4);
    expect(flaky.alerts.map((alert) => alert.type)).toEqual(['failed', 'deploy_failed']);
    expect(flaky.attemptsAt.map((at) => at - start)).toEqual([0, 5_000, 30_000, 30_000]);
    expect(results.map(([, r]) => r)).toEqual(['retrying', 'retrying', 'delivered', 'delivered']);
  });

  it("honours a 429's Retry-After for the whole target, without spending a retry", async () => {
    const limited = new FakeNotifier('limited', (call) => (call === 1 ? HTTP_429(120) : 'ok'));
    const { dispatcher, results } = setup([target(limited, { retries: 0, groupWindowMs: 0 })]);
    const start = clock.now().getTime();
    dispatcher.dispatch(event('failed', 'warning', { cert: 'a' }));
    dispatcher.dispatch(event('failed', 'warning', { cert: 'b', code: 'OTHER' }));
    await dispatcher.flush();
    expect(limited.attemptsAt.map((at) => at - start)).toEqual([0, 120_000, 120_000]);
    expect(results.map(([, r]) => r)).toEqual(['retrying', 'delivered', 'delivered']);
  });

  it('gives up after the configured retries, or at once when retrying cannot help, and logs without secrets', async () => {
    const down = new FakeNotifier('down', () => new CertkeeperError('HOOK_FAILED', 'notify target "down" (webhook): HTTP 500', { retryable: true }));
    const gone = new FakeNotifier('gone', () => new CertkeeperError('HOOK_FAILED', 'notify target "gone" (slack): HTTP 404: no_service', { retryable: false }));
    const { dispatcher, results, logs } = setup([target(down, { retries: 2 }), target(gone)]);
    dispatcher.dispatch(event('failed', 'warning'));
    await dispatcher.flush();
    expect(down.calls).toBe(3);
    expect(gone.calls).toBe(1);
    expect(results.filter(([, r]) => r !== 'retrying').sort()).toEqual([
      ['down', 'failed'],
      ['gone', 'failed'],
    ]);
    const warnings = logs.filter((line) => line.level === 'warn');
    expect(warnings.map((line) => [line.obj.target, line.obj.attempts, line.msg])).toEqual([
      ['gone', 1, 'notification not delivered'],
      ['down', 3, 'notification not delivered'],
    ]);
  });

  it('never blocks or throws from dispatch, whatever a target does', async () => {
    const hanging = new FakeNotifier('hanging', () => 'hang');
    const buggy = new FakeNotifier('buggy', () => 'throw-sync');
    const ok = new FakeNotifier('ok');
    const { dispatcher, results } = setup([target(hanging, { timeoutMs: 50, retries: 1 }), target(buggy), target(ok)]);
    const started = performance.now();
    const decisions = dispatcher.dispatch(event('failed', 'warning'));
    expect(performance.now() - started).toBeLessThan(50);
    expect(decisions.map((d) => d.action)).toEqual(['queued', 'queued', 'queued']);
    await ok.received(1); // delivered while the hanging target is still waiting
    await new Promise((resolve) => setImmediate(resolve));
    expect(results).toContainEqual(['ok', 'delivered']);
    expect(results).not.toContainEqual(['hanging', 'failed']);
    await dispatcher.flush(); // the deadline (50 ms, twice) ends the hanging target's attempts
    expect(hanging.calls).toBe(2);
    expect(results).toContainEqual(['hanging', 'failed']);
    expect(results).toContainEqual(['buggy', 'failed']); // a plain Error is not retryable
  });
});

describe('Dispatcher outbox', () => {
  it('at its bound coalesces into waiting alerts instead of dropping, and counts what it merged', async () => {
    let down = true;
    const slow = new FakeNotifier('slow', () => (down ? HTTP_503() : 'ok'));
    const { dispatcher, results } = setup([target(slow, { retries: 10, groupWindowMs: 0 })], { maxQueue: 16 });
    // 40 failures with 40 different codes: 40 alerts, where only 16 may wait.
    for (let i = 0; i < 40; i++) dispatcher.dispatch(event('failed', 'warning', { cert: `c${i}`, code: `CODE_${i}` }));
    expect(dispatcher.pending().slow).toBe(16);
    expect(count(results, 'coalesced')).toBe(24);
    expect(count(results, 'dropped')).toBe(0);
    down = false;
    await dispatcher.flush();
    const named = new Set(slow.alerts.flatMap((alert) => alert.certs));
    expect(named.size).toBe(40); // nothing lost
    const merged = slow.alerts.find((alert) => alert.coalesced > 0)!;
    expect(merged.cause).toMatchObject({ label: 'various causes' });
    expect(slow.alerts.reduce((sum, alert) => sum + alert.coalesced, 0)).toBe(24);
  });

  it("bounds each target's outbox by its own maxQueue from the config (default 100)", async () => {
    let down = true;
    const tight = new FakeNotifier('tight', () => (down ? HTTP_503() : 'ok'));
    const roomy = new FakeNotifier('roomy', () => (down ? HTTP_503() : 'ok'));
    const tightPolicy = deliveryPolicy(
      notifyTargetSchema.parse({ type: 'webhook', url: 'https://alerts.example.com/in', maxQueue: 24, retries: 10, groupWindow: 0 }),
    );
    const roomyPolicy = deliveryPolicy(notifyTargetSchema.parse({ type: 'webhook', url: 'https://alerts.example.com/in', retries: 10, groupWindow: 0 }));
    const { dispatcher, results } = setup([
      { name: 'tight', notifier: tight, policy: tightPolicy },
      { name: 'roomy', notifier: roomy, policy: roomyPolicy },
    ]);
    for (let i = 0; i < 150; i++) dispatcher.dispatch(event('failed', 'warning', { cert: `c${i}`, code: `CODE_${i}` }));
    expect(dispatcher.pending()).toEqual({ tight: 24, roomy: 100 });
    expect(results.filter(([name, r]) => name === 'tight' && r === 'coalesced')).toHaveLength(126);
    expect(results.filter(([name, r]) => name === 'roomy' && r === 'coalesced')).toHaveLength(50);
    expect(count(results, 'dropped')).toBe(0);
    down = false;
    await dispatcher.flush();
    for (const notifier of [tight, roomy]) expect(new Set(notifier.alerts.flatMap((alert) => alert.certs)).size).toBe(150); // nothing lost
  });

  it('a reload to a smaller maxQueue keeps every waiting alert and coalesces what comes next', async () => {
    const down = new FakeNotifier('ops', () => HTTP_503());
    const first = setup([target(down, { retries: 10, groupWindowMs: 0, maxQueue: 40 })]);
    for (let i = 0; i < 30; i++) first.dispatcher.dispatch(event('failed', 'warning', { cert: `c${i}`, code: `CODE_${i}` }));
    await turn();
    const state = first.dispatcher.detach();
    const up = new FakeNotifier('ops');
    const second = setup([target(up, { retries: 10, groupWindowMs: 0, maxQueue: 16 })], { state, keepClock: true });
    expect(second.dispatcher.pending().ops).toBe(30);
    second.dispatcher.dispatch(event('failed', 'warning', { cert: 'late', code: 'LATE' }));
    expect(second.dispatcher.pending().ops).toBe(30);
    expect(count(second.results, 'coalesced')).toBe(1);
    await second.dispatcher.flush();
    expect(new Set(up.alerts.flatMap((alert) => alert.certs)).size).toBe(31);
  });

  it('survives a restart: the snapshot holds the outbox, and a new dispatcher delivers it', async () => {
    const down = new FakeNotifier('ops', () => HTTP_503());
    const store = memoryStore();
    const first = setup([target(down, { groupWindowMs: 30 * SECOND })], { store });
    for (let i = 0; i < 3; i++) first.dispatcher.dispatch(dnsFailure(`c${i}`));
    await turn();
    await first.dispatcher.close(0);
    const saved = await store.load();
    expect(saved!.targets.ops!.queue.map((item) => item.events.map((e) => e.cert))).toEqual([['c0', 'c1', 'c2']]);
    expect(saved!.targets.ops!.open).toEqual({});

    const up = new FakeNotifier('ops');
    const second = setup([target(up, { groupWindowMs: 30 * SECOND })], {
      state: JSON.parse(JSON.stringify(saved)) as DispatcherSnapshot,
      store,
      keepClock: true,
    });
    await second.dispatcher.flush();
    expect(up.alerts.map((alert) => alert.certs)).toEqual([['c0', 'c1', 'c2']]);
    // What it was delivered is remembered: repeats are suppressed, recoveries go out.
    expect(second.dispatcher.dispatch(dnsFailure('c1'))[0]!.action).toBe('suppressed');
    expect(second.dispatcher.dispatch(event('recovered', 'info', { cert: 'c1' }))[0]!.action).toBe('queued');
    await second.dispatcher.flush();
    await second.dispatcher.close();
    expect(up.delivered.at(-1)).toBe('recovered/info/c1');
    expect(store.saved.at(-1)!.targets.ops!.queue).toEqual([]);
    expect(Object.keys(store.saved.at(-1)!.targets.ops!.open).sort()).toEqual(['c0', 'c2']);
  });

  it('saves soon after every change, not only at shutdown', async () => {
    const store = memoryStore();
    const ops = new FakeNotifier('ops', () => 'hang');
    const { dispatcher } = setup([target(ops, { timeoutMs: 60_000 })], { store });
    dispatcher.dispatch(event('failed', 'warning'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(store.saved.length).toBeGreaterThan(0);
    expect(store.saved.at(-1)!.targets.ops!.queue).toHaveLength(1);
    await dispatcher.close(0);
  });

  it('detach() hands the outbox over at a reload; an aborted attempt stays queued', async () => {
    const hanging = new FakeNotifier('ops', () => 'hang');
    const first = setup([target(hanging, { timeoutMs: 60_000 })]);
    first.dispatcher.dispatch(event('failed', 'warning'));
    await turn();
    expect(hanging.calls).toBe(1);
    const state = first.dispatcher.detach();
    expect(first.dispatcher.dispatch(event('failed', 'critical'))[0]).toMatchObject({ action: 'dropped', reason: 'closed' });
    const next = new FakeNotifier('ops');
    const second = setup([target(next)], { state, keepClock: true });
    await second.dispatcher.flush();
    expect(next.delivered).toEqual(['failed/warning/www']);
    expect(first.results).toEqual([['ops', 'dropped']]); // the event after detach, not the handed-over alert
  });

  it('close() without a store abandons what outlives the grace period, counted as dropped', async () => {
    const hanging = new FakeNotifier('hanging', () => 'hang');
    const { dispatcher, results, logs } = setup([target(hanging, { timeoutMs: 60_000, groupWindowMs: 0 })]);
    dispatcher.dispatch(event('failed', 'warning'));
    dispatcher.dispatch(event('deploy_failed', 'warning', { sink: 'nginx' }));
    await dispatcher.close(1_000);
    expect(hanging.calls).toBe(1);
    expect(results).toEqual([
      ['hanging', 'dropped'],
      ['hanging', 'dropped'],
    ]);
    expect(logs.some((line) => line.msg === 'notifications abandoned at shutdown')).toBe(true);
    expect(dispatcher.dispatch(event('failed', 'critical'))[0]).toMatchObject({ action: 'dropped', reason: 'closed' });
  });

  it('reads the version 1 state: what it remembered stays open, so recoveries still go out', async () => {
    const legacy = {
      targets: {
        ops: {
          openAlerts: ['www'],
          lastSent: {
            'www|failed|': { at: '2026-03-01T00:00:00.000Z', severity: 'warning' },
            'api|deploy_failed|nginx': { at: '2026-03-01T00:00:00.000Z', severity: 'critical' },
          },
        },
      },
    };
    clock = new ManualClock('2026-03-01T01:00:00Z');
    const state = parseSnapshot(legacy, clock.now())!;
    expect(state.targets.ops!.open).toMatchObject({ www: { families: { renewal: { stage: 1 } } }, api: { families: { 'deploy:nginx': { stage: 2 } } } });
    const ops = new FakeNotifier('ops');
    const { dispatcher } = setup([target(ops)], { state, keepClock: true });
    expect(dispatcher.dispatch(event('failed', 'warning'))[0]!.action).toBe('suppressed');
    expect(dispatcher.dispatch(event('recovered', 'info', { cert: 'api' }))[0]!.action).toBe('queued');
    expect(parseSnapshot({ nonsense: true }, clock.now())).toBeUndefined();
    await dispatcher.flush();
  });

  it('drops, and says so, the outbox of a target removed from the config', () => {
    const state: DispatcherSnapshot = {
      version: 2,
      targets: {
        gone: {
          since: '2026-03-01T00:00:00.000Z',
          open: {},
          windows: {},
          queue: [
            { key: 'failed|none', type: 'failed', events: [event('failed', 'warning')], coalesced: 0, notBefore: '2026-03-01T00:00:00.000Z', attempts: 0 },
          ],
        },
      },
    };
    const { results, logs } = setup([target(new FakeNotifier('ops'))], { state });
    expect(results).toEqual([['gone', 'dropped']]);
    expect(logs.some((line) => line.msg?.includes('removed from the config'))).toBe(true);
  });
});
