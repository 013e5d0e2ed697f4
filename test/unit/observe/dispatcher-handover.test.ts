// What a target was told to wait survives a reload (detach → new dispatcher) and a restart (the
// saved snapshot): a receiver's Retry-After, the retry backoff and the pace. On a clock whose
// sleeps fire only when the test moves it, so nothing waits by itself while a dispatcher is replaced.

import { describe, expect, it } from 'vitest';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { AgentEvent } from '../../../src/observe/events.js';
import type { Alert } from '../../../src/observe/notify/alert.js';
import type { Notifier } from '../../../src/observe/notify/contract.js';
import { DEFAULT_NOTIFY_EVENTS, DEFAULT_REPEAT_AFTER_MS } from '../../../src/observe/notify/delivery-schema.js';
import { Dispatcher, type DeliveryPolicy, type DispatcherSnapshot, type NotifyStateStore } from '../../../src/observe/notify/dispatcher.js';
import { parseSnapshot } from '../../../src/observe/notify/snapshot.js';
import { realTick, TimerClock } from '../../helpers/timer-clock.js';

const SECOND = 1000;
const START = '2026-03-01T00:00:00Z';

const HTTP_503 = (): CertkeeperError => new CertkeeperError('HOOK_FAILED', 'notify target (webhook): HTTP 503', { retryable: true });
const HTTP_429 = (seconds: number): CertkeeperError =>
  new CertkeeperError('HOOK_FAILED', 'notify target (webhook): HTTP 429', { retryable: true, retryAfterSeconds: seconds });

/** Answers per call as scripted (then delivers); records when each attempt came, from `start`. */
class ScriptedNotifier implements Notifier {
  readonly type = 'fake';
  readonly name = 'ops';
  readonly attemptsAt: number[] = [];
  readonly delivered: string[] = [];
  private calls = 0;
  constructor(
    private readonly clock: TimerClock,
    private readonly script: (call: number) => 'ok' | Error = () => 'ok',
  ) {}
  send(alert: Alert): Promise<void> {
    this.attemptsAt.push(this.clock.now().getTime() - new Date(START).getTime());
    const step = this.script(++this.calls);
    if (step instanceof Error) return Promise.reject(step);
    this.delivered.push(...alert.certs);
    return Promise.resolve();
  }
}

function dispatcher(
  clock: TimerClock,
  notifier: Notifier,
  overrides: Partial<DeliveryPolicy> = {},
  extra: { state?: DispatcherSnapshot; store?: NotifyStateStore } = {},
): Dispatcher {
  const policy: DeliveryPolicy = {
    events: DEFAULT_NOTIFY_EVENTS,
    minSeverity: 'warning',
    repeatAfterMs: DEFAULT_REPEAT_AFTER_MS,
    retries: 3,
    timeoutMs: 5_000,
    groupWindowMs: 0,
    ...overrides,
  };
  return new Dispatcher({ targets: [{ name: 'ops', notifier, policy }], clock, logger: silentLogger, saveDelayMs: 1, ...extra });
}

function failure(clock: TimerClock, cert: string, code = 'DNS_UPDATE_FAILED'): AgentEvent {
  return { type: 'failed', severity: 'warning', at: clock.now().toISOString(), cert, domains: [`${cert}.example.com`], message: `${cert} failed`, code };
}

describe('a reload keeps what the target was told to wait', () => {
  it("a 429's Retry-After: the next dispatcher waits it out (regression: it retried at once)", async () => {
    const clock = new TimerClock(START);
    const limited = new ScriptedNotifier(clock, () => HTTP_429(120));
    const first = dispatcher(clock, limited);
    first.dispatch(failure(clock, 'www'));
    await realTick();
    expect(limited.attemptsAt).toEqual([0]);
    const state = first.detach();

    const next = new ScriptedNotifier(clock);
    const second = dispatcher(clock, next, {}, { state });
    await realTick();
    await clock.advance(119 * SECOND);
    expect(next.attemptsAt).toEqual([]);
    await clock.advance(SECOND);
    expect(next.attemptsAt).toEqual([120 * SECOND]);
    expect(next.delivered).toEqual(['www']);
    await second.close(0);
  });

  it('the retry backoff: the retry goes when it was due, and the hand-over spends no attempt', async () => {
    const clock = new TimerClock(START);
    const first = dispatcher(clock, new ScriptedNotifier(clock, () => HTTP_503()));
    first.dispatch(failure(clock, 'www'));
    await realTick();
    await clock.advance(2 * SECOND); // reloaded 2 s into the 5 s backoff
    const state = first.detach();

    const flaky = new ScriptedNotifier(clock, (call) => (call === 1 ? HTTP_503() : 'ok'));
    const second = dispatcher(clock, flaky, {}, { state });
    await realTick();
    await clock.advance(60 * SECOND);
    // Attempt 2 at 5 s, attempt 3 25 s after it: the schedule of a dispatcher never replaced.
    expect(flaky.attemptsAt).toEqual([5 * SECOND, 30 * SECOND]);
    expect(flaky.delivered).toEqual(['www']);
    await second.close(0);
  });

  it("a new pace counts from the target's last request", async () => {
    const clock = new TimerClock(START);
    const chat = new ScriptedNotifier(clock);
    const first = dispatcher(clock, chat, { minIntervalMs: 10 * SECOND });
    first.dispatch(failure(clock, 'a'));
    await realTick();
    const state = first.detach();

    // Faster now: the next request 2 s after the last one, neither at once nor 10 s after.
    const second = dispatcher(clock, chat, { minIntervalMs: 2 * SECOND }, { state });
    second.dispatch(failure(clock, 'b', 'OTHER'));
    await realTick();
    expect(chat.attemptsAt).toEqual([0]);
    await clock.advance(20 * SECOND);
    expect(chat.attemptsAt).toEqual([0, 2 * SECOND]);
    await second.close(0);
  });
});

describe('a restart keeps it too', () => {
  it("saves a 429's Retry-After with the outbox, and the next start waits it out", async () => {
    const clock = new TimerClock(START);
    const saved: DispatcherSnapshot[] = [];
    const store: NotifyStateStore = { load: async () => saved.at(-1), save: async (snapshot) => void saved.push(structuredClone(snapshot)) };
    const first = dispatcher(clock, new ScriptedNotifier(clock, () => HTTP_429(300)), {}, { store });
    first.dispatch(failure(clock, 'www'));
    await realTick();
    await clock.advance(10 * SECOND);
    await first.close(0);
    const text = JSON.parse(JSON.stringify(saved.at(-1))) as unknown;
    const state = parseSnapshot(text, clock.now())!;
    expect(state).toEqual(text);

    const next = new ScriptedNotifier(clock);
    const second = dispatcher(clock, next, {}, { state, store });
    await realTick();
    await clock.advance(289 * SECOND);
    expect(next.attemptsAt).toEqual([]);
    await clock.advance(SECOND);
    expect(next.attemptsAt).toEqual([300 * SECOND]);
    await second.close(0);
    expect(saved.at(-1)!.targets.ops!.queue).toEqual([]);
  });
});
