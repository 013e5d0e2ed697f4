// The notification dispatcher: takes agent events from the daemon and delivers them to every
// notify target that wants them, without ever blocking or failing the caller. Per target it
// filters (event types, minimum severity), groups failures that share a cause into one alert per
// outage, keeps a durable outbox, paces requests, retries with backoff (a 429's Retry-After
// pauses the target), and remembers only what was DELIVERED: repeat suppression, escalation and
// who gets a `recovered` all read that memory, so a dropped or failed delivery leaves the alert
// open and re-sendable.

import type { Clock } from '../../core/clock.js';
import { toCertkeeperError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { AgentEvent, AgentEventType, Severity } from '../events.js';
import type { NotificationResult } from '../metrics.js';
import { alertFamily, alertStage, ALERT_TYPES, causeOf, groupAlert, severityRank, type AlertCause } from './alert.js';
import { attemptDelivery } from './attempt.js';
import type { Notifier } from './contract.js';
import { DEFAULT_MAX_QUEUE, MIN_MAX_QUEUE } from './delivery-schema.js';
import { Outbox, setEvents, type OutboxItem } from './outbox.js';
import type { DispatcherSnapshot, NotifyStateStore, TargetSnapshot } from './snapshot.js';

export type { DispatcherSnapshot, NotifyStateStore } from './snapshot.js';

export interface DeliveryPolicy {
  events: readonly AgentEventType[];
  minSeverity: Severity;
  repeatAfterMs: number;
  /** Extra attempts after a failed delivery. */
  retries: number;
  /** Deadline of one attempt (the notifier's signal aborts then). */
  timeoutMs: number;
  /** Alerts of one cause within this window after the first become one group alert; absent or 0: no grouping. */
  groupWindowMs?: number;
  /** At least this long between two requests to the target; absent or 0: unpaced. */
  minIntervalMs?: number;
  /** Alerts waiting in the outbox; beyond it events are coalesced. Absent: the dispatcher's `maxQueue`. */
  maxQueue?: number;
}

export interface NotifyTarget {
  name: string;
  notifier: Notifier;
  policy: DeliveryPolicy;
}

/** queued: a new alert; grouped: joins a waiting alert (or a group held for its window). */
export type DispatchAction = 'queued' | 'grouped' | 'filtered' | 'suppressed' | 'dropped';

export interface DispatchDecision {
  target: string;
  action: DispatchAction;
  /** Why, e.g. "new", "escalation", "repeat", "window", "below-min-severity", "no-prior-alert". */
  reason: string;
}

export interface DispatcherOptions {
  targets: NotifyTarget[];
  clock: Clock;
  logger: Logger;
  /** First retry delay, multiplied by 5 per attempt (5 s, 25 s, 125 s, …); default 5 s. */
  retryDelayMs?: number;
  /** Cap of one retry delay, also of a receiver's Retry-After; default 10 min. */
  maxRetryDelayMs?: number;
  /** Alerts waiting per target whose policy names no `maxQueue`; default 100. Either is at least 16. */
  maxQueue?: number;
  /** Called per outcome; wire AgentMetrics.notification here. */
  onResult?: (target: string, result: NotificationResult) => void;
  /** State from a previous dispatcher (a restart's saved snapshot, or `detach()` at a reload). */
  state?: DispatcherSnapshot;
  /** Where the snapshot is saved: soon after every change (debounced) and at close. */
  store?: NotifyStateStore;
  /** Debounce of saves, in real milliseconds; default 1 s. */
  saveDelayMs?: number;
}

/** Waits a receiver may impose with Retry-After per alert before it counts as failed. */
const MAX_RATE_LIMITED = 20;
/** A delivered alert never recovered (its certificate was removed, say) is forgotten after this. */
const OPEN_MAX_AGE_MS = 90 * 86_400_000;

interface Delivered {
  cause: AlertCause | undefined;
  families: Map<string, { at: number; stage: number }>;
}

interface TargetState {
  target: NotifyTarget;
  outbox: Outbox;
  /** Per certificate: the delivered alerts not yet ended by a delivered recovery. */
  open: Map<string, Delivered>;
  /** Merge key → end of its grouping window (epoch ms). */
  windows: Map<string, number>;
  since: number;
  lastDeliveredAt: number | undefined;
  lastFailure: { at: number; error: string } | undefined;
  /** When the last request started; the pace counts from it, with the target's current minInterval. */
  lastAttemptAt: number | undefined;
  /** Retry backoff or the receiver's Retry-After: nothing is sent before. */
  pausedUntil: number;
  worker: Promise<void> | undefined;
  /** Aborts the worker's sleep when something new arrives. */
  wake: AbortController | undefined;
  /** While the worker sleeps: until when (epoch ms); undefined while it works. */
  sleepingUntil: number | undefined;
  /** close() waiting for the worker to have nothing due before `deadline`. */
  quietWaiters: { deadline: number; resolve: () => void }[];
}

export class Dispatcher {
  private readonly states: TargetState[];
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly onResult: ((target: string, result: NotificationResult) => void) | undefined;
  private readonly store: NotifyStateStore | undefined;
  private readonly saveDelayMs: number;
  /** Aborts in-flight attempts and sleeps at shutdown or hand-over. */
  private readonly stop = new AbortController();
  private closed = false;
  private stopped = false;
  /** Handed over to the next dispatcher: this one must not touch the state any more. */
  private detached = false;
  private saveTimer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();

  constructor(options: DispatcherOptions) {
    this.clock = options.clock;
    this.logger = options.logger;
    this.retryDelayMs = options.retryDelayMs ?? 5_000;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 600_000;
    this.onResult = options.onResult;
    this.store = options.store;
    this.saveDelayMs = options.saveDelayMs ?? 1_000;
    const now = this.now();
    this.states = options.targets.map((target) => {
      const maxQueue = Math.max(MIN_MAX_QUEUE, target.policy.maxQueue ?? options.maxQueue ?? DEFAULT_MAX_QUEUE);
      return this.restore(target, options.state?.targets[target.name], maxQueue, now);
    });
    for (const [name, saved] of Object.entries(options.state?.targets ?? {})) {
      if (options.targets.some((target) => target.name === name) || saved.queue.length === 0) continue;
      // The target was removed from the config: nobody is left to deliver its alerts to.
      const events = saved.queue.reduce((sum, item) => sum + item.events.length, 0);
      this.logger.warn({ target: name, alerts: saved.queue.length, events }, 'notify target removed from the config: its undelivered alerts are dropped');
      for (let i = 0; i < saved.queue.length; i++) this.result(name, 'dropped');
    }
    for (const state of this.states) if (state.outbox.size > 0) this.kick(state);
  }

  /** Takes `event` for every target that wants it and returns at once; never throws. */
  dispatch(event: AgentEvent): DispatchDecision[] {
    const decisions: DispatchDecision[] = [];
    for (const state of this.states) {
      try {
        const decision = this.closed ? { action: 'dropped' as const, reason: 'closed' } : this.admit(state, event);
        decisions.push({ target: state.target.name, ...decision });
        if (decision.action === 'suppressed' || decision.action === 'dropped') this.result(state.target.name, decision.action);
        if (decision.action !== 'queued' && decision.action !== 'grouped') {
          this.logger.debug(
            { target: state.target.name, event: event.type, cert: event.cert, action: decision.action, reason: decision.reason },
            'notification not queued',
          );
        }
      } catch (error) {
        // A bug here must not reach the renewal that emitted the event.
        this.logger.error({ target: state.target.name, err: toCertkeeperError(error).message }, 'notification dispatch failed');
        decisions.push({ target: state.target.name, action: 'dropped', reason: 'internal-error' });
        this.result(state.target.name, 'dropped');
      }
    }
    return decisions;
  }

  /** Resolves when every outbox is empty (delivered, failed or suppressed); held groups wait for their window. */
  async flush(): Promise<void> {
    for (;;) {
      const workers = this.states.map((state) => state.worker).filter((worker): worker is Promise<void> => worker !== undefined);
      if (workers.length === 0) return;
      await Promise.all(workers);
    }
  }

  /**
   * Stops taking events; lets what is due go out for up to `graceMs` (on the injected clock), then
   * aborts what is in flight. What is left stays in the outbox: saved to the store for the next
   * start, or (without a store) abandoned and counted as dropped.
   */
  async close(graceMs = 10_000): Promise<void> {
    if (this.stopped) return;
    this.closed = true;
    const grace = new AbortController();
    const expired = this.clock.sleep(graceMs, grace.signal).then(
      () => true,
      () => false,
    );
    const deadline = this.now() + graceMs;
    await Promise.race([Promise.all(this.states.map((state) => this.whenQuiet(state, deadline))), expired]);
    grace.abort();
    this.stopped = true;
    this.stop.abort();
    await Promise.all(this.states.map((state) => state.worker));
    const pending = this.states.reduce((sum, state) => sum + state.outbox.size, 0);
    if (this.store) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
      await this.saveNow();
      if (pending > 0) this.logger.info({ pending }, 'undelivered notifications kept for the next start');
      return;
    }
    for (const state of this.states) for (let i = 0; i < state.outbox.size; i++) this.result(state.target.name, 'dropped');
    if (pending > 0) this.logger.warn({ pending }, 'notifications abandoned at shutdown');
  }

  /**
   * A reload hands everything to the next dispatcher at once: stops (an attempt in flight is
   * aborted and its alert stays queued) and returns the state, outbox included. No save: the
   * next dispatcher owns the state from here.
   */
  detach(): DispatcherSnapshot {
    this.closed = true;
    this.stopped = true;
    this.detached = true;
    this.stop.abort();
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    return this.snapshot();
  }

  /** Everything worth keeping across a restart: outboxes, open alerts, windows, delivery times. */
  snapshot(): DispatcherSnapshot {
    const now = this.now();
    const iso = (ms: number): string => new Date(ms).toISOString();
    const targets: DispatcherSnapshot['targets'] = {};
    for (const state of this.states) {
      const open: TargetSnapshot['open'] = {};
      for (const [cert, delivered] of state.open) {
        const families: Record<string, { at: string; stage: number }> = {};
        for (const [family, entry] of delivered.families) if (now - entry.at < OPEN_MAX_AGE_MS) families[family] = { at: iso(entry.at), stage: entry.stage };
        if (Object.keys(families).length > 0) open[cert] = { ...(delivered.cause ? { cause: delivered.cause } : {}), families };
      }
      const windows: Record<string, string> = {};
      for (const [key, end] of state.windows) if (end > now) windows[key] = iso(end);
      targets[state.target.name] = {
        since: iso(state.since),
        ...(state.lastDeliveredAt !== undefined ? { lastDeliveredAt: iso(state.lastDeliveredAt) } : {}),
        ...(state.lastFailure ? { lastFailure: { at: iso(state.lastFailure.at), error: state.lastFailure.error } } : {}),
        // A reload or restart must not retry before the backoff ends, or before the receiver asked.
        ...(state.pausedUntil > now ? { pausedUntil: iso(state.pausedUntil) } : {}),
        ...(state.lastAttemptAt !== undefined ? { lastAttemptAt: iso(state.lastAttemptAt) } : {}),
        open,
        windows,
        queue: state.outbox.items.map((item) => ({
          key: item.key,
          type: item.type,
          ...(item.cause ? { cause: item.cause } : {}),
          events: item.events,
          coalesced: item.coalesced,
          notBefore: iso(item.notBefore),
          attempts: item.attempts,
        })),
      };
    }
    return { version: 2, targets };
  }

  /** Alerts waiting per target (for status and tests). */
  pending(): Record<string, number> {
    return Object.fromEntries(this.states.map((state) => [state.target.name, state.outbox.size]));
  }

  private restore(target: NotifyTarget, saved: TargetSnapshot | undefined, maxQueue: number, now: number): TargetState {
    const ms = (iso: string): number => new Date(iso).getTime();
    const outbox = new Outbox(maxQueue);
    for (const item of saved?.queue ?? []) {
      outbox.restore({
        key: item.key,
        type: item.type,
        cause: item.cause,
        events: item.events,
        coalesced: item.coalesced,
        notBefore: ms(item.notBefore),
        attempts: item.attempts,
      });
    }
    const open = new Map<string, Delivered>();
    for (const [cert, entry] of Object.entries(saved?.open ?? {})) {
      open.set(cert, {
        cause: entry.cause,
        families: new Map(Object.entries(entry.families).map(([family, value]) => [family, { at: ms(value.at), stage: value.stage }])),
      });
    }
    return {
      target,
      outbox,
      open,
      windows: new Map(Object.entries(saved?.windows ?? {}).map(([key, end]) => [key, ms(end)])),
      since: saved ? ms(saved.since) : now,
      lastDeliveredAt: saved?.lastDeliveredAt ? ms(saved.lastDeliveredAt) : undefined,
      lastFailure: saved?.lastFailure ? { at: ms(saved.lastFailure.at), error: saved.lastFailure.error } : undefined,
      // Bounded by now: a saved time from a clock that ran ahead must not silence the target.
      lastAttemptAt: saved?.lastAttemptAt ? Math.min(now, ms(saved.lastAttemptAt)) : undefined,
      pausedUntil: saved?.pausedUntil ? Math.min(now + this.maxRetryDelayMs, ms(saved.pausedUntil)) : 0,
      worker: undefined,
      wake: undefined,
      sleepingUntil: undefined,
      quietWaiters: [],
    };
  }

  /** The per-target decision, and where the event goes. */
  private admit(state: TargetState, event: AgentEvent): { action: DispatchAction; reason: string } {
    const { policy } = state.target;
    if (event.type === 'recovered' || event.type === 'rehearsal_recovered') return this.admitRecovery(state, event);
    if (!wants(policy, event.type)) return { action: 'filtered', reason: 'event-not-selected' };
    if (severityRank(event.severity) < severityRank(policy.minSeverity)) return { action: 'filtered', reason: 'below-min-severity' };
    let reason = 'informational';
    if (ALERT_TYPES.has(event.type)) {
      const verdict = this.repeatVerdict(state, event, { admitting: true });
      if (verdict.suppressed) return { action: 'suppressed', reason: verdict.reason };
      reason = verdict.reason;
    }
    // Informational events (obtained, deployed, …) each report a new fact: grouped, never suppressed.
    return this.place(state, event, causeOf(event), reason);
  }

  /**
   * `recovered` goes where a failure alert about the certificate was delivered (or still waits to
   * be: it then follows it), whatever minSeverity says: whoever got the alert gets the all-clear.
   * `rehearsal_recovered` ends only the rehearsal alert.
   */
  private admitRecovery(state: TargetState, event: AgentEvent): { action: DispatchAction; reason: string } {
    const rehearsal = event.type === 'rehearsal_recovered';
    const open = state.open.get(event.cert);
    const told = rehearsal ? open?.families.has('rehearsal') === true : open !== undefined;
    const waiting = state.outbox.pendingAlert(event.cert, rehearsal ? REHEARSAL_ALERT : ALERT_TYPES);
    if (!state.target.policy.events.includes(event.type)) {
      // Nobody will be told it recovered: the next failure is news, not a repeat.
      this.forget(state, event);
      return { action: 'filtered', reason: 'event-not-selected' };
    }
    if (!told && !waiting) return { action: 'filtered', reason: 'no-prior-alert' };
    const cause = (told ? open?.cause : undefined) ?? waiting?.cause;
    return this.place(state, event, cause, 'recovery');
  }

  /** Into the outbox: a waiting alert of the same type and cause, a group held for its window, or a new alert. */
  private place(state: TargetState, event: AgentEvent, cause: AlertCause | undefined, reason: string): { action: DispatchAction; reason: string } {
    const now = this.now();
    const key = `${event.type}|${cause?.key ?? 'none'}`;
    const windowMs = state.target.policy.groupWindowMs ?? 0;
    const windowEnd = state.windows.get(key) ?? 0;
    const held = windowMs > 0 && windowEnd > now;
    const placed = state.outbox.place(event, key, cause, held ? windowEnd : now);
    let action: DispatchAction = 'grouped';
    if (placed.placed === 'coalesced') {
      for (let i = 0; i < placed.count; i++) this.result(state.target.name, 'coalesced');
      this.logger.warn(
        { target: state.target.name, event: event.type, cert: event.cert, coalesced: placed.count },
        'notification queue full: coalesced into a waiting alert',
      );
      reason = 'queue-full';
    } else if (placed.placed === 'over-limit') {
      this.logger.warn(
        { target: state.target.name, event: event.type, cert: event.cert, queued: state.outbox.size },
        'notification queue over its limit: nothing could be merged without reordering',
      );
      action = 'queued';
    } else if (placed.placed === 'new' && !held) {
      action = 'queued';
      // Later alerts of this cause within the window wait and go out together.
      if (windowMs > 0) state.windows.set(key, now + windowMs);
    } else if (placed.placed === 'new') {
      reason = 'window';
    }
    this.changed();
    this.kick(state);
    return { action, reason };
  }

  /**
   * Whether an alert is news for this target, from what it was DELIVERED: a first alert, a higher
   * stage (warning → critical → expired), or the same stage again after repeatAfter. Admitting,
   * a recovery still waiting to go out makes the next failure news too.
   */
  private repeatVerdict(state: TargetState, event: AgentEvent, options: { admitting: boolean }): { suppressed: boolean; reason: string } {
    if (options.admitting && state.outbox.pendingRecovery(event.cert)) return { suppressed: false, reason: 'after-recovery' };
    const delivered = state.open.get(event.cert)?.families.get(alertFamily(event));
    if (!delivered) return { suppressed: false, reason: 'new' };
    if (this.now() - delivered.at >= state.target.policy.repeatAfterMs) return { suppressed: false, reason: 'repeat-after-elapsed' };
    if (alertStage(event) > delivered.stage) return { suppressed: false, reason: 'escalation' };
    return { suppressed: true, reason: 'repeat' };
  }

  private forget(state: TargetState, event: AgentEvent): void {
    if (event.type !== 'rehearsal_recovered') {
      state.open.delete(event.cert);
      return;
    }
    const open = state.open.get(event.cert);
    open?.families.delete('rehearsal');
    if (open && open.families.size === 0) state.open.delete(event.cert);
  }

  /** Starts the target's worker, or wakes it to look again. */
  private kick(state: TargetState): void {
    if (this.stopped) return;
    state.wake?.abort();
    if (state.worker) return;
    state.sleepingUntil = undefined;
    state.worker = this.work(state)
      .catch((error: unknown) => {
        this.logger.error({ target: state.target.name, err: toCertkeeperError(error).message }, 'notification worker crashed');
      })
      .finally(() => {
        state.worker = undefined;
        this.setQuiet(state, Infinity);
        // Something arrived while the worker was finishing.
        if (state.outbox.size > 0 && !this.stopped) this.kick(state);
      });
  }

  private async work(state: TargetState): Promise<void> {
    // Events of one burst (a batch's outcomes) arrive in one turn: let them merge before the first send.
    await Promise.resolve();
    while (!this.stopped && state.outbox.size > 0) {
      const now = this.now();
      const nextSendAt = state.lastAttemptAt === undefined ? 0 : state.lastAttemptAt + (state.target.policy.minIntervalMs ?? 0);
      const gate = Math.max(state.pausedUntil, nextSendAt);
      const due = state.outbox.nextDue(now);
      const at = due ? Math.max(gate, now) : Math.max(gate, state.outbox.earliestNotBefore());
      if (at > now) {
        await this.sleepUntil(state, at, now);
        continue;
      }
      if (due) await this.deliver(state, due);
    }
  }

  private async sleepUntil(state: TargetState, at: number, now: number): Promise<void> {
    const wake = new AbortController();
    state.wake = wake;
    this.setQuiet(state, at);
    try {
      await this.clock.sleep(at - now, AbortSignal.any([wake.signal, this.stop.signal]));
    } catch {
      // woken: something new arrived, or stopping
    } finally {
      if (state.wake === wake) state.wake = undefined;
      state.sleepingUntil = undefined;
    }
  }

  private async deliver(state: TargetState, item: OutboxItem): Promise<void> {
    const { target } = state;
    this.dropRepeats(state, item);
    if (item.events.length === 0) {
      state.outbox.remove(item);
      this.changed();
      return;
    }
    const alert = groupAlert(item.type, item.events, item.cause, item.coalesced);
    const context = { target: target.name, notifier: target.notifier.type, event: item.type, certs: alert.certs.length, cert: alert.certs[0] };
    const started = this.now();
    state.lastAttemptAt = started;
    item.inFlight = true;
    let failure: ReturnType<typeof toCertkeeperError> | undefined;
    try {
      await attemptDelivery(target.notifier, alert, target.policy.timeoutMs, this.stop.signal);
    } catch (error) {
      failure = toCertkeeperError(error);
    } finally {
      item.inFlight = false;
    }
    // Handed over meanwhile: the next dispatcher owns the alert (and may send it again).
    if (this.detached) return;
    const now = this.now();
    if (!failure) {
      state.outbox.remove(item);
      this.recordDelivered(state, item, now);
      this.result(target.name, 'delivered');
      this.logger.debug({ ...context, attempt: item.attempts + item.rateLimited + 1 }, 'notification delivered');
      this.changed();
      return;
    }
    // Aborted at shutdown: the alert stays queued (and saved) for the next start.
    if (this.stopped) return;
    // Messages are built by the notifiers and never contain the target URL.
    const asked = failure.retryAfterSeconds;
    let delayMs: number;
    if (failure.retryable && asked !== undefined && item.rateLimited < MAX_RATE_LIMITED) {
      // The receiver asked us to wait (429): the whole target waits; not counted against retries.
      item.rateLimited++;
      delayMs = Math.min(this.maxRetryDelayMs, asked * 1000);
    } else {
      item.attempts++;
      if (!failure.retryable || item.attempts > target.policy.retries) {
        state.outbox.remove(item);
        state.lastFailure = { at: now, error: failure.message };
        this.result(target.name, 'failed');
        this.logger.warn({ ...context, attempts: item.attempts + item.rateLimited, code: failure.code, err: failure.message }, 'notification not delivered');
        this.changed();
        return;
      }
      delayMs = Math.min(this.maxRetryDelayMs, this.retryDelayMs * 5 ** (item.attempts - 1));
    }
    state.pausedUntil = now + delayMs;
    this.result(target.name, 'retrying');
    this.logger.debug({ ...context, attempt: item.attempts + item.rateLimited, delayMs, err: failure.message }, 'notification failed; retrying');
    this.changed();
  }

  /**
   * Just before sending, against what was delivered meanwhile: repeats leave the alert, and a
   * recovery names only certificates whose failure alert this target was delivered.
   */
  private dropRepeats(state: TargetState, item: OutboxItem): void {
    const kept: AgentEvent[] = [];
    for (const event of item.events) {
      if (event.type === 'recovered') {
        if (state.open.has(event.cert)) kept.push(event);
      } else if (event.type === 'rehearsal_recovered') {
        if (state.open.get(event.cert)?.families.has('rehearsal')) kept.push(event);
      } else if (ALERT_TYPES.has(event.type) && this.repeatVerdict(state, event, { admitting: false }).suppressed) {
        this.result(state.target.name, 'suppressed');
      } else {
        kept.push(event);
      }
    }
    if (kept.length !== item.events.length) {
      this.logger.debug(
        { target: state.target.name, event: item.type, left: item.events.length - kept.length },
        'left out of an alert: repeats, or recoveries of alerts never delivered',
      );
      setEvents(item, kept);
    }
  }

  /** Delivery is the fact: only now does the alert count as sent (or the recovery end it). */
  private recordDelivered(state: TargetState, item: OutboxItem, now: number): void {
    state.lastDeliveredAt = now;
    const windowMs = state.target.policy.groupWindowMs ?? 0;
    if (windowMs > 0) state.windows.set(item.key, Math.max(state.windows.get(item.key) ?? 0, now + windowMs));
    for (const event of item.events) {
      if (event.type === 'recovered' || event.type === 'rehearsal_recovered') {
        this.forget(state, event);
      } else if (ALERT_TYPES.has(event.type)) {
        const open = state.open.get(event.cert) ?? { cause: undefined, families: new Map() };
        open.families.set(alertFamily(event), { at: now, stage: alertStage(event) });
        open.cause = item.cause ?? causeOf(event);
        state.open.set(event.cert, open);
      }
    }
    for (const [key, end] of state.windows) if (end <= now) state.windows.delete(key);
  }

  /** Resolves once the target has nothing more to send before `deadline` (asleep past it, or done). */
  private whenQuiet(state: TargetState, deadline: number): Promise<void> {
    if (!state.worker || (state.sleepingUntil !== undefined && state.sleepingUntil >= deadline)) return Promise.resolve();
    return new Promise((resolve) => state.quietWaiters.push({ deadline, resolve }));
  }

  private setQuiet(state: TargetState, until: number): void {
    state.sleepingUntil = until;
    state.quietWaiters = state.quietWaiters.filter((waiter) => {
      if (until < waiter.deadline) return true;
      waiter.resolve();
      return false;
    });
  }

  /** Something worth saving changed: save soon (one write per burst). */
  private changed(): void {
    if (!this.store || this.stopped || this.saveTimer) return;
    // A real timer: it batches file writes, it decides nothing.
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.saveNow();
    }, this.saveDelayMs);
    this.saveTimer.unref();
  }

  private saveNow(): Promise<void> {
    const store = this.store;
    if (!store) return Promise.resolve();
    this.saving = this.saving.then(async () => {
      try {
        await store.save(this.snapshot());
      } catch (error) {
        this.logger.warn({ err: toCertkeeperError(error).message }, 'could not save notification state');
      }
    });
    return this.saving;
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  private result(target: string, result: NotificationResult): void {
    if (this.detached && result !== 'dropped') return;
    try {
      this.onResult?.(target, result);
    } catch {
      // metrics must not break delivery
    }
  }
}

const REHEARSAL_ALERT: ReadonlySet<AgentEventType> = new Set<AgentEventType>(['rehearsal_failed']);

/** Selected event types; `expired` also goes where `expiring` or `failed` is selected (it is both). */
function wants(policy: DeliveryPolicy, type: AgentEventType): boolean {
  if (policy.events.includes(type)) return true;
  return type === 'expired' && (policy.events.includes('expiring') || policy.events.includes('failed'));
}
