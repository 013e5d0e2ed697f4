// The notification dispatcher: takes agent events from the daemon and delivers them to every
// notify target that wants them, without ever blocking or failing the caller. Per target it
// filters (event types, minimum severity), suppresses repeats within `repeatAfter` (escalations
// and recoveries pass), sends a `recovered` only where the alert it ends was sent, and delivers
// in order from its own queue with bounded retries, so one slow or broken target delays nobody.

import type { Clock } from '../../core/clock.js';
import { CertkeeperError, toCertkeeperError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { AgentEvent, AgentEventType, Severity } from '../events.js';
import type { NotificationResult } from '../metrics.js';
import type { Notifier } from './contract.js';

export interface DeliveryPolicy {
  events: readonly AgentEventType[];
  minSeverity: Severity;
  repeatAfterMs: number;
  /** Extra attempts after a failed delivery. */
  retries: number;
  /** Deadline of one attempt (the notifier's signal aborts then). */
  timeoutMs: number;
}

export interface NotifyTarget {
  name: string;
  notifier: Notifier;
  policy: DeliveryPolicy;
}

export type DispatchAction = 'queued' | 'filtered' | 'suppressed' | 'dropped';

export interface DispatchDecision {
  target: string;
  action: DispatchAction;
  /** Why, e.g. "escalation", "repeat", "below-min-severity", "no-prior-alert". */
  reason: string;
}

/** What the dispatcher remembers per target; persist it to keep suppression and recovery across restarts. */
export interface DispatcherSnapshot {
  targets: Record<string, { openAlerts: string[]; lastSent: Record<string, { at: string; severity: Severity }> }>;
}

export interface DispatcherOptions {
  targets: NotifyTarget[];
  clock: Clock;
  logger: Logger;
  /** First retry delay, multiplied by 5 per attempt (5 s, 25 s, 125 s, …); default 5 s. */
  retryDelayMs?: number;
  /** Cap of one retry delay, also of a receiver's Retry-After; default 10 min. */
  maxRetryDelayMs?: number;
  /** Deliveries waiting per target; beyond it the oldest is dropped. Default 100. */
  maxQueue?: number;
  /** Called per delivery outcome; wire AgentMetrics.notification here. */
  onResult?: (target: string, result: NotificationResult) => void;
  /** State from a previous dispatcher's `snapshot()` (restart or config reload). */
  state?: DispatcherSnapshot;
}

/** Events that open an alert: a later `recovered` for the certificate closes it. */
const ALERT_TYPES: ReadonlySet<AgentEventType> = new Set<AgentEventType>(['failed', 'deploy_failed', 'expiring', 'verify_failed', 'rehearsal_failed']);

const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

interface Job {
  event: AgentEvent;
}

interface TargetState {
  target: NotifyTarget;
  queue: Job[];
  worker: Promise<void> | undefined;
  /** Certificates with an alert delivered (or queued) to this target and not yet recovered. */
  openAlerts: Set<string>;
  /** Last alert per (cert, type, sink): when, and how severe. */
  lastSent: Map<string, { at: number; severity: Severity }>;
}

export class Dispatcher {
  private readonly states: TargetState[];
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly maxQueue: number;
  private readonly onResult: ((target: string, result: NotificationResult) => void) | undefined;
  private readonly shutdown = new AbortController();
  private closed = false;

  constructor(options: DispatcherOptions) {
    this.clock = options.clock;
    this.logger = options.logger;
    this.retryDelayMs = options.retryDelayMs ?? 5_000;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 600_000;
    this.maxQueue = Math.max(1, options.maxQueue ?? 100);
    this.onResult = options.onResult;
    this.states = options.targets.map((target) => {
      const saved = options.state?.targets[target.name];
      return {
        target,
        queue: [],
        worker: undefined,
        openAlerts: new Set(saved?.openAlerts ?? []),
        lastSent: new Map(Object.entries(saved?.lastSent ?? {}).map(([key, value]) => [key, { at: new Date(value.at).getTime(), severity: value.severity }])),
      };
    });
  }

  /** Queues `event` for every target that wants it and returns at once; never throws. */
  dispatch(event: AgentEvent): DispatchDecision[] {
    const decisions: DispatchDecision[] = [];
    for (const state of this.states) {
      try {
        const decision = this.closed ? { action: 'dropped' as const, reason: 'closed' } : this.admit(state, event);
        decisions.push({ target: state.target.name, ...decision });
        if (decision.action === 'queued') this.enqueue(state, { event });
        else if (decision.action === 'suppressed' || decision.action === 'dropped') this.result(state.target, decision.action);
        if (decision.action !== 'queued') {
          this.logger.debug({ target: state.target.name, event: event.type, cert: event.cert, action: decision.action, reason: decision.reason }, 'notification not queued');
        }
      } catch (error) {
        // A bug here must not reach the renewal that emitted the event.
        this.logger.error({ target: state.target.name, err: toCertkeeperError(error).message }, 'notification dispatch failed');
        decisions.push({ target: state.target.name, action: 'dropped', reason: 'internal-error' });
      }
    }
    return decisions;
  }

  /** Resolves when every queue is empty (deliveries sent, failed or dropped). */
  async flush(): Promise<void> {
    for (;;) {
      const workers = this.states.map((state) => state.worker).filter((worker): worker is Promise<void> => worker !== undefined);
      if (workers.length === 0) return;
      await Promise.all(workers);
    }
  }

  /**
   * Stops taking events and lets queued deliveries finish for up to `graceMs` (on the injected
   * clock); then aborts what is in flight and drops the rest, logging how many.
   */
  async close(graceMs = 10_000): Promise<void> {
    this.closed = true;
    const drained = this.flush();
    const grace = new AbortController();
    const expired = this.clock.sleep(graceMs, grace.signal).then(
      () => true,
      () => false,
    );
    const timedOut = await Promise.race([drained.then(() => false), expired]);
    grace.abort();
    if (!timedOut) return;
    const pending = this.states.reduce((sum, state) => sum + state.queue.length + (state.worker ? 1 : 0), 0);
    this.shutdown.abort();
    await drained;
    if (pending > 0) this.logger.warn({ pending }, 'notifications abandoned at shutdown');
  }

  /** The memory of sent alerts, for `state` of a later dispatcher. Entries past their repeatAfter are left out. */
  snapshot(): DispatcherSnapshot {
    const now = this.clock.now().getTime();
    const targets: DispatcherSnapshot['targets'] = {};
    for (const state of this.states) {
      const lastSent: Record<string, { at: string; severity: Severity }> = {};
      for (const [key, value] of state.lastSent) {
        if (now - value.at < state.target.policy.repeatAfterMs) lastSent[key] = { at: new Date(value.at).toISOString(), severity: value.severity };
      }
      targets[state.target.name] = { openAlerts: [...state.openAlerts], lastSent };
    }
    return { targets };
  }

  /** The per-target decision; updates the target's memory when the event is queued. */
  private admit(state: TargetState, event: AgentEvent): { action: DispatchAction; reason: string } {
    const { policy } = state.target;
    if (event.type === 'rehearsal_recovered') {
      // Ends only the rehearsal alert: a real renewal failure of the same certificate stays open.
      const key = `${event.cert}|rehearsal_failed|`;
      const told = state.lastSent.has(key);
      state.lastSent.delete(key);
      if (!policy.events.includes(event.type)) return { action: 'filtered', reason: 'event-not-selected' };
      if (!told) return { action: 'filtered', reason: 'no-prior-alert' };
      return { action: 'queued', reason: 'recovery' };
    }
    if (event.type === 'recovered') {
      const told = state.openAlerts.has(event.cert);
      this.forgetCert(state, event.cert);
      if (!policy.events.includes('recovered')) return { action: 'filtered', reason: 'event-not-selected' };
      // minSeverity does not apply: whoever got the alert gets the all-clear.
      if (!told) return { action: 'filtered', reason: 'no-prior-alert' };
      return { action: 'queued', reason: 'recovery' };
    }
    if (!policy.events.includes(event.type)) return { action: 'filtered', reason: 'event-not-selected' };
    if (SEVERITY_RANK[event.severity] < SEVERITY_RANK[policy.minSeverity]) return { action: 'filtered', reason: 'below-min-severity' };
    // Informational events (obtained, deployed, …) each report a new fact: no repeat suppression.
    if (!ALERT_TYPES.has(event.type)) return { action: 'queued', reason: 'informational' };
    const key = `${event.cert}|${event.type}|${event.sink ?? ''}`;
    const now = this.clock.now().getTime();
    const last = state.lastSent.get(key);
    let reason = 'new';
    if (last !== undefined && now - last.at < policy.repeatAfterMs) {
      if (SEVERITY_RANK[event.severity] <= SEVERITY_RANK[last.severity]) return { action: 'suppressed', reason: 'repeat' };
      reason = 'escalation';
    } else if (last !== undefined) {
      reason = 'repeat-after-elapsed';
    }
    state.lastSent.set(key, { at: now, severity: event.severity });
    state.openAlerts.add(event.cert);
    return { action: 'queued', reason };
  }

  private forgetCert(state: TargetState, cert: string): void {
    state.openAlerts.delete(cert);
    for (const key of [...state.lastSent.keys()]) if (key.startsWith(`${cert}|`)) state.lastSent.delete(key);
  }

  private enqueue(state: TargetState, job: Job): void {
    if (state.queue.length >= this.maxQueue) {
      const dropped = state.queue.shift()!;
      this.result(state.target, 'dropped');
      this.logger.warn({ target: state.target.name, event: dropped.event.type, cert: dropped.event.cert }, 'notification queue full: dropped the oldest');
    }
    state.queue.push(job);
    state.worker ??= this.drain(state).finally(() => {
      state.worker = undefined;
    });
  }

  private async drain(state: TargetState): Promise<void> {
    for (let job = state.queue.shift(); job !== undefined; job = state.queue.shift()) {
      if (this.shutdown.signal.aborted) {
        this.result(state.target, 'dropped');
        continue;
      }
      await this.deliver(state.target, job.event).catch((error: unknown) => {
        this.logger.error({ target: state.target.name, err: toCertkeeperError(error).message }, 'notification delivery crashed');
      });
    }
  }

  private async deliver(target: NotifyTarget, event: AgentEvent): Promise<void> {
    const attempts = target.policy.retries + 1;
    const context = { target: target.name, notifier: target.notifier.type, event: event.type, cert: event.cert };
    for (let attempt = 1; ; attempt++) {
      try {
        await this.attempt(target, event);
        this.result(target, 'sent');
        this.logger.debug({ ...context, attempt }, 'notification sent');
        return;
      } catch (error) {
        if (this.shutdown.signal.aborted) {
          this.result(target, 'dropped');
          return;
        }
        // Messages are built by the notifiers and never contain the target URL.
        const failure = toCertkeeperError(error);
        if (!failure.retryable || attempt >= attempts) {
          this.result(target, 'failed');
          this.logger.warn({ ...context, attempts: attempt, code: failure.code, err: failure.message }, 'notification not delivered');
          return;
        }
        const backoff = this.retryDelayMs * 5 ** (attempt - 1);
        const asked = (failure.retryAfterSeconds ?? 0) * 1000;
        const delayMs = Math.min(this.maxRetryDelayMs, Math.max(backoff, asked));
        this.logger.debug({ ...context, attempt, delayMs, err: failure.message }, 'notification failed; retrying');
        try {
          await this.clock.sleep(delayMs, this.shutdown.signal);
        } catch {
          this.result(target, 'dropped');
          return;
        }
      }
    }
  }

  /** One attempt under its deadline; a notifier that ignores its signal cannot hang the queue. */
  private attempt(target: NotifyTarget, event: AgentEvent): Promise<void> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let onShutdown: (() => void) | undefined;
    // The deadline is a real timer: it bounds I/O, like runCommand's timeout.
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(new CertkeeperError('HOOK_TIMEOUT', `notify target "${target.name}" (${target.notifier.type}): no answer within ${target.policy.timeoutMs} ms`, { retryable: true }));
        controller.abort();
      }, target.policy.timeoutMs);
      onShutdown = () => {
        reject(new CertkeeperError('CANCELLED', `notify target "${target.name}": shutting down`));
        controller.abort();
      };
      if (this.shutdown.signal.aborted) onShutdown();
      else this.shutdown.signal.addEventListener('abort', onShutdown, { once: true });
    });
    const sent = Promise.resolve().then(() => target.notifier.send(event, controller.signal));
    return Promise.race([sent, deadline]).finally(() => {
      clearTimeout(timer);
      if (onShutdown) this.shutdown.signal.removeEventListener('abort', onShutdown);
      // The loser of the race may still reject later; it has nobody to tell.
      sent.catch(() => {});
    });
  }

  private result(target: NotifyTarget, result: NotificationResult): void {
    try {
      this.onResult?.(target.name, result);
    } catch {
      // metrics must not break delivery
    }
  }
}
