import { describe, expect, it } from 'vitest';
import { CertkeeperError } from '../../../src/core/errors.js';
import type { Logger } from '../../../src/core/logger.js';
import type { AgentEvent, AgentEventType, Severity } from '../../../src/observe/events.js';
import type { NotificationResult } from '../../../src/observe/metrics.js';
import type { Notifier } from '../../../src/observe/notify/contract.js';
import { Dispatcher, type DeliveryPolicy, type NotifyTarget } from '../../../src/observe/notify/dispatcher.js';
import { DEFAULT_NOTIFY_EVENTS, DEFAULT_REPEAT_AFTER_MS } from '../../../src/observe/notify/delivery-schema.js';
import { ManualClock } from '../../helpers/clock.js';

const HOUR = 3_600_000;

function recordingLogger(lines: { level: string; obj: Record<string, unknown>; msg: string | undefined }[]): Logger {
  const at =
    (level: string) =>
    (obj: Record<string, unknown> | string, msg?: string): void => {
      lines.push(typeof obj === 'string' ? { level, obj: {}, msg: obj } : { level, obj, msg });
    };
  const logger: Logger = { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger;
}

/** A notifier whose behaviour per call is scripted: 'ok', an error to throw, or 'hang'. */
class FakeNotifier implements Notifier {
  readonly type = 'fake';
  readonly delivered: AgentEvent[] = [];
  calls = 0;
  private waiters: (() => void)[] = [];
  constructor(
    readonly name: string,
    private readonly script: (call: number) => 'ok' | 'hang' | 'throw-sync' | Error = () => 'ok',
  ) {}
  send(event: AgentEvent, _signal: AbortSignal): Promise<void> {
    this.calls++;
    const step = this.script(this.calls);
    if (step === 'throw-sync') throw new Error('bug in notifier');
    if (step === 'hang') return new Promise<void>(() => {}); // ignores its signal on purpose
    if (step instanceof Error) return Promise.reject(step);
    this.delivered.push(event);
    for (const wake of this.waiters.splice(0)) wake();
    return Promise.resolve();
  }
  /** Resolves once `count` events were delivered. */
  received(count: number): Promise<void> {
    if (this.delivered.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(() => (this.delivered.length >= count ? resolve() : void this.received(count).then(resolve))));
  }
}

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

function setup(targets: NotifyTarget[], extra: { maxQueue?: number } = {}) {
  clock = new ManualClock('2026-03-01T00:00:00Z');
  const logs: { level: string; obj: Record<string, unknown>; msg: string | undefined }[] = [];
  const results: [string, NotificationResult][] = [];
  const dispatcher = new Dispatcher({ targets, clock, logger: recordingLogger(logs), onResult: (name, result) => results.push([name, result]), ...extra });
  return { dispatcher, logs, results };
}

describe('Dispatcher filters', () => {
  it('by default delivers failures, expiry and recovery at warning or above, not routine events', async () => {
    const ops = new FakeNotifier('ops');
    const { dispatcher } = setup([target(ops)]);
    expect(dispatcher.dispatch(event('obtaining', 'info'))[0]).toMatchObject({ action: 'filtered', reason: 'event-not-selected' });
    expect(dispatcher.dispatch(event('obtained', 'info'))[0]).toMatchObject({ action: 'filtered', reason: 'event-not-selected' });
    expect(dispatcher.dispatch(event('failed', 'warning'))[0]).toMatchObject({ action: 'queued', reason: 'new' });
    expect(dispatcher.dispatch(event('deploy_failed', 'warning', { sink: 'nginx' }))[0]).toMatchObject({ action: 'queued' });
    expect(dispatcher.dispatch(event('expiring', 'critical'))[0]).toMatchObject({ action: 'queued' });
    await dispatcher.flush();
    expect(ops.delivered.map((e) => e.type)).toEqual(['failed', 'deploy_failed', 'expiring']);
  });

  it('honours minSeverity and a custom event list', async () => {
    const pager = new FakeNotifier('pager');
    const chat = new FakeNotifier('chat');
    const { dispatcher } = setup([target(pager, { minSeverity: 'critical' }), target(chat, { events: ['obtained', 'failed'], minSeverity: 'info' })]);
    const decisions = dispatcher.dispatch(event('failed', 'warning'));
    expect(decisions).toEqual([
      { target: 'pager', action: 'filtered', reason: 'below-min-severity' },
      { target: 'chat', action: 'queued', reason: 'new' },
    ]);
    dispatcher.dispatch(event('obtained', 'info'));
    dispatcher.dispatch(event('expiring', 'critical'));
    await dispatcher.flush();
    expect(pager.delivered.map((e) => e.type)).toEqual(['expiring']);
    expect(chat.delivered.map((e) => e.type)).toEqual(['failed', 'obtained']);
  });
});

describe('Dispatcher repeat suppression', () => {
  it('suppresses the same (cert, type, severity) within repeatAfter and sends it again after', async () => {
    const ops = new FakeNotifier('ops');
    const { dispatcher, results } = setup([target(ops)]);
    dispatcher.dispatch(event('failed', 'warning'));
    clock.advance(1 * HOUR);
    expect(dispatcher.dispatch(event('failed', 'warning'))[0]).toMatchObject({ action: 'suppressed', reason: 'repeat' });
    clock.advance(5 * HOUR - 1);
    expect(dispatcher.dispatch(event('failed', 'warning'))[0]).toMatchObject({ action: 'suppressed' });
    clock.advance(1);
    expect(dispatcher.dispatch(event('failed', 'warning'))[0]).toMatchObject({ action: 'queued', reason: 'repeat-after-elapsed' });
    await dispatcher.flush();
    expect(ops.delivered).toHaveLength(2);
    expect(results.filter(([, r]) => r === 'suppressed')).toHaveLength(2);
  });

  it('keeps other certificates, event types and sinks apart', async () => {
    const ops = new FakeNotifier('ops');
    const { dispatcher } = setup([target(ops)]);
    dispatcher.dispatch(event('failed', 'warning'));
    expect(dispatcher.dispatch(event('failed', 'warning', { cert: 'api' }))[0]!.action).toBe('queued');
    expect(dispatcher.dispatch(event('deploy_failed', 'warning', { sink: 'nginx' }))[0]!.action).toBe('queued');
    expect(dispatcher.dispatch(event('deploy_failed', 'warning', { sink: 'haproxy' }))[0]!.action).toBe('queued');
    expect(dispatcher.dispatch(event('deploy_failed', 'warning', { sink: 'nginx' }))[0]!.action).toBe('suppressed');
    await dispatcher.flush();
    expect(ops.delivered).toHaveLength(4);
  });

  it('lets an escalation through at once, and suppresses a lower severity after it', async () => {
    const ops = new FakeNotifier('ops');
    const { dispatcher } = setup([target(ops, { repeatAfterMs: 6 * HOUR })]);
    dispatcher.dispatch(event('failed', 'warning'));
    clock.advance(10 * 60_000);
    expect(dispatcher.dispatch(event('failed', 'critical'))[0]).toMatchObject({ action: 'queued', reason: 'escalation' });
    expect(dispatcher.dispatch(event('failed', 'critical'))[0]).toMatchObject({ action: 'suppressed' });
    expect(dispatcher.dispatch(event('failed', 'warning'))[0]).toMatchObject({ action: 'suppressed' });
    await dispatcher.flush();
    expect(ops.delivered.map((e) => e.severity)).toEqual(['warning', 'critical']);
  });

  it('does not rate-limit informational events', async () => {
    const log = new FakeNotifier('log');
    const { dispatcher } = setup([target(log, { events: ['obtained'], minSeverity: 'info' })]);
    dispatcher.dispatch(event('obtained', 'info'));
    dispatcher.dispatch(event('obtained', 'info'));
    await dispatcher.flush();
    expect(log.delivered).toHaveLength(2);
  });
});

describe('Dispatcher recovery', () => {
  it('sends recovered only to targets that were told about the failure, whatever its severity', async () => {
    const ops = new FakeNotifier('ops');
    const pager = new FakeNotifier('pager');
    const { dispatcher } = setup([target(ops), target(pager, { minSeverity: 'critical' })]);
    // No alert yet: nobody gets a recovery.
    expect(dispatcher.dispatch(event('recovered', 'info')).map((d) => d.reason)).toEqual(['no-prior-alert', 'no-prior-alert']);
    dispatcher.dispatch(event('failed', 'warning')); // pager filters the warning
    const decisions = dispatcher.dispatch(event('recovered', 'info'));
    expect(decisions).toEqual([
      { target: 'ops', action: 'queued', reason: 'recovery' },
      { target: 'pager', action: 'filtered', reason: 'no-prior-alert' },
    ]);
    await dispatcher.flush();
    expect(ops.delivered.map((e) => e.type)).toEqual(['failed', 'recovered']);
    expect(pager.delivered).toEqual([]);
  });

  it('recovery passes minSeverity, is sent once, and re-arms alerts for the next failure', async () => {
    const pager = new FakeNotifier('pager');
    const { dispatcher } = setup([target(pager, { minSeverity: 'critical' })]);
    dispatcher.dispatch(event('failed', 'warning'));
    dispatcher.dispatch(event('failed', 'critical'));
    expect(dispatcher.dispatch(event('recovered', 'info'))[0]!.action).toBe('queued');
    expect(dispatcher.dispatch(event('recovered', 'info'))[0]!.reason).toBe('no-prior-alert');
    // The next failure is news, not a repeat of the one before the recovery.
    expect(dispatcher.dispatch(event('failed', 'critical'))[0]).toMatchObject({ action: 'queued', reason: 'new' });
    await dispatcher.flush();
    expect(pager.delivered.map((e) => `${e.type}/${e.severity}`)).toEqual(['failed/critical', 'recovered/info', 'failed/critical']);
  });

  it('a suppressed repeat still counts as told; an unselected recovered is not sent', async () => {
    const quiet = new FakeNotifier('quiet');
    const { dispatcher } = setup([target(quiet, { events: ['failed'] })]);
    dispatcher.dispatch(event('failed', 'warning'));
    expect(dispatcher.dispatch(event('recovered', 'info'))[0]).toMatchObject({ action: 'filtered', reason: 'event-not-selected' });
    await dispatcher.flush();
    expect(quiet.delivered.map((e) => e.type)).toEqual(['failed']);
  });

  it('keeps what it told targets across a restart through snapshot()', async () => {
    const ops = new FakeNotifier('ops');
    const first = setup([target(ops)]);
    first.dispatcher.dispatch(event('failed', 'warning'));
    await first.dispatcher.close();
    const state = JSON.parse(JSON.stringify(first.dispatcher.snapshot()));
    const again = new FakeNotifier('ops');
    const second = new Dispatcher({ targets: [target(again)], clock, logger: recordingLogger([]), state });
    clock.advance(HOUR);
    expect(second.dispatch(event('failed', 'warning'))[0]!.action).toBe('suppressed');
    expect(second.dispatch(event('recovered', 'info'))[0]!.action).toBe('queued');
    await second.flush();
    expect(again.delivered.map((e) => e.type)).toEqual(['recovered']);
  });
});

describe('Dispatcher delivery', () => {
  it('retries a failed delivery with backoff on the injected clock, in order', async () => {
    const flaky = new FakeNotifier('flaky', (call) => (call <= 2 ? new CertkeeperError('HOOK_FAILED', 'HTTP 503', { retryable: true }) : 'ok'));
    const { dispatcher, results } = setup([target(flaky)]);
    const start = clock.now().getTime();
    dispatcher.dispatch(event('failed', 'warning'));
    dispatcher.dispatch(event('expiring', 'critical'));
    await dispatcher.flush();
    expect(flaky.calls).toBe(4);
    expect(flaky.delivered.map((e) => e.type)).toEqual(['failed', 'expiring']);
    expect(clock.now().getTime() - start).toBe(5_000 + 25_000); // the sleeps between attempts
    expect(results).toEqual([
      ['flaky', 'sent'],
      ['flaky', 'sent'],
    ]);
  });

  it('waits as long as the receiver asks (Retry-After), capped', async () => {
    const limited = new FakeNotifier('limited', (call) => (call === 1 ? new CertkeeperError('HOOK_FAILED', 'HTTP 429', { retryable: true, retryAfterSeconds: 120 }) : 'ok'));
    const { dispatcher } = setup([target(limited)]);
    const start = clock.now().getTime();
    dispatcher.dispatch(event('failed', 'warning'));
    await dispatcher.flush();
    expect(clock.now().getTime() - start).toBe(120_000);
  });

  it('gives up after the configured retries, or at once when retrying cannot help, and logs without secrets', async () => {
    const down = new FakeNotifier('down', () => new CertkeeperError('HOOK_FAILED', 'notify target "down" (webhook): HTTP 500', { retryable: true }));
    const gone = new FakeNotifier('gone', () => new CertkeeperError('HOOK_FAILED', 'notify target "gone" (slack): HTTP 404: no_service', { retryable: false }));
    const { dispatcher, results, logs } = setup([target(down, { retries: 2 }), target(gone)]);
    dispatcher.dispatch(event('failed', 'warning'));
    await dispatcher.flush();
    expect(down.calls).toBe(3);
    expect(gone.calls).toBe(1);
    expect(results.sort()).toEqual([
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
    expect(results).toContainEqual(['ok', 'sent']);
    expect(results).not.toContainEqual(['hanging', 'failed']);
    await dispatcher.flush(); // the deadline (50 ms, twice) ends the hanging target's attempts
    expect(hanging.calls).toBe(2);
    expect(results).toContainEqual(['hanging', 'failed']);
    expect(results).toContainEqual(['buggy', 'failed']); // a plain Error is not retryable
  });

  it('drops the oldest delivery when a target queue is full', async () => {
    const slow = new FakeNotifier('slow');
    const { dispatcher, results } = setup([target(slow, { events: ['obtained'], minSeverity: 'info' })], { maxQueue: 2 });
    for (const serial of ['1', '2', '3', '4']) dispatcher.dispatch(event('obtained', 'info', { serial }));
    await dispatcher.flush();
    // The first is already in flight when the rest arrive; of the three waiting, the oldest goes.
    expect(slow.delivered.map((e) => e.serial)).toEqual(['1', '3', '4']);
    expect(results.filter(([, r]) => r === 'dropped')).toHaveLength(1);
  });

  it('close() abandons deliveries that outlive the grace period and refuses new events', async () => {
    const hanging = new FakeNotifier('hanging', () => 'hang');
    const { dispatcher, results, logs } = setup([target(hanging, { timeoutMs: 60_000 })]);
    dispatcher.dispatch(event('failed', 'warning'));
    dispatcher.dispatch(event('expiring', 'critical'));
    await dispatcher.close(1_000);
    expect(hanging.calls).toBe(1);
    expect(results).toEqual([
      ['hanging', 'dropped'],
      ['hanging', 'dropped'],
    ]);
    expect(logs.some((line) => line.msg === 'notifications abandoned at shutdown')).toBe(true);
    expect(dispatcher.dispatch(event('failed', 'critical'))[0]).toMatchObject({ action: 'dropped', reason: 'closed' });
  });
});
