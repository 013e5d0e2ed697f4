// The always-on agent behind `certkeeper run`: start-up, reload and plans. It plans every
// certificate on start, on the schedule and on reload, arms each one's timer at its renewal time
// plus a stable jitter (engine/timers.ts, one clock wake-up for all), runs what comes due in
// renewal batches (engine/batches.ts), and publishes the event stream: the engine's events as they
// happen, then the alerts of outcomes and plans (engine/agent-events.ts). One certificate's
// failure never stops the agent.

import { hostname } from 'node:os';
import type { Clock } from '../core/clock.js';
import { describeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Config } from '../config/load.js';
import type { StreamEvent } from '../observe/stream.js';
import { planAttempt } from '../plan/attempt.js';
import { backoffDelayMs, jitterMs } from '../plan/backoff.js';
import type { EngineDeps } from './contracts.js';
import { expiryEvents, outcomeEvents } from './agent-events.js';
import { RenewalBatches } from './batches.js';
import { rowAttemptFacts, statusRows, type StatusRow } from './status.js';
import { refreshAllRenewalInfo } from './renewal-info.js';
import { CertTimers } from './timers.js';

export { MAX_BATCH } from './batches.js';
/** A failed plan is tried again after this, doubling up to the maximum. */
const PLAN_RETRY_FIRST_MS = 15_000;
const PLAN_RETRY_MAX_MS = 5 * 60_000;
export { EXPIRED_RETRY_MS } from '../plan/attempt.js';

export interface AgentHooks {
  /** The event stream: what the engine emits while a batch runs, then the agent's own alerts (logs, metrics and notifiers subscribe). */
  onEvent?: ((event: StreamEvent) => void) | undefined;
  /** After every plan and batch, the fresh status rows (metrics, /status). */
  onStatus?(rows: StatusRow[]): void;
  /** Called with every config the agent starts running (start and successful reloads). */
  onConfig?(config: Config): void;
}

export interface AgentOptions extends AgentHooks {
  clock: Clock;
  logger: Logger;
  /** Reads and validates the config (throws ConfigError). */
  loadConfig(): Config;
  /** Builds the engine's dependencies for a config; the engine's events go to `onEvent`, the agent's stream. */
  wire(config: Config, onEvent: (event: StreamEvent) => void): Promise<EngineDeps>;
  /** Seed for the per-host jitter (default: the host name). */
  host?: string;
  /** With several replicas (src/ha/): false on followers, which plan and report status but arm no timers and run no batches. */
  isLeader?(): boolean;
}

export interface ReloadResult {
  ok: boolean;
  error?: string;
}

export class Agent {
  private config: Config | undefined;
  private deps: EngineDeps | undefined;
  /** Each certificate's timer; what comes due joins the next batch. */
  private readonly timers: CertTimers;
  /** The renewal batches that what comes due runs in. */
  private readonly batches: RenewalBatches;
  private stopping = false;
  private lastPlanAt: Date | undefined;
  private lastRows: StatusRow[] = [];
  private readonly host: string;
  /** Stored certificates no longer configured, already named in the log. */
  private readonly removedNoticed = new Set<string>();
  /** Plans that failed in a row (the store unreachable), and the retry waiting for the next one. */
  private failedPlans = 0;
  private planRetry: AbortController | undefined;
  /** Stops the store watch (certificates renewed by other agents). */
  private unwatch: (() => void) | undefined;
  private planning: Promise<void> | undefined;

  constructor(private readonly options: AgentOptions) {
    this.host = options.host ?? hostname();
    this.batches = new RenewalBatches({
      clock: options.clock,
      logger: options.logger,
      deps: () => this.deps!,
      ...(options.isLeader ? { isLeader: options.isLeader } : {}),
      lastRows: () => this.lastRows,
      onStatus: (rows) => this.publishStatus(rows),
      onOutcome: (outcome, before, after, now) => {
        for (const event of outcomeEvents(outcome, before, after, now, this.config)) this.emit(event);
      },
      rearm: (rows, now, brokenBatches) => {
        const pause = brokenBatches > 0 ? backoffDelayMs(brokenBatches, this.config?.backoffMs) : 0;
        for (const row of rows) this.timers.arm(row.name, Math.max(this.fireTime(row, now), now.getTime() + pause));
      },
    });
    this.timers = new CertTimers(options.clock, (name) => {
      if (!this.stopping) this.batches.enqueue(name);
    });
  }

  get currentConfig(): Config | undefined {
    return this.config;
  }

  get lastPlan(): Date | undefined {
    return this.lastPlanAt;
  }

  /** The latest status rows (after the last plan or batch). */
  get status(): StatusRow[] {
    return this.lastRows;
  }

  /** Resolves when no batch is running or queued (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.batches.running || this.planning) {
      await this.planning;
      await this.batches.running;
    }
  }

  /** When each certificate's timer fires next (for status and tests). */
  get schedule(): Record<string, Date> {
    return this.timers.schedule;
  }

  /**
   * Loads the config (throws when invalid: the agent does not start on a bad config) and plans.
   * A caller that has just loaded it passes it in: a 10,000-certificate config is seconds of parsing.
   */
  async start(loaded?: Config): Promise<void> {
    const config = loaded ?? this.options.loadConfig();
    await this.install(config);
    await this.plan();
  }

  /** Re-reads the config; a bad one is logged and rejected, and the running one stays. */
  async reload(): Promise<ReloadResult> {
    let config: Config;
    try {
      config = this.options.loadConfig();
    } catch (error) {
      const message = describeError(error);
      this.options.logger.error({ err: message }, 'reload rejected: the new config is invalid; the running config stays');
      return { ok: false, error: message };
    }
    try {
      await this.install(config);
    } catch (error) {
      // The new config is valid but could not be put to work (its state store does not open):
      // the running wiring stays, untouched, and the caller hears why (no unhandled rejection).
      const message = describeError(error);
      this.options.logger.error({ err: message }, 'reload rejected: the new config could not be put to work; the running config stays');
      return { ok: false, error: message };
    }
    const configured = new Set(config.certificates.map((c) => c.name));
    for (const name of this.timers.names()) if (!configured.has(name)) this.timers.disarm(name);
    this.options.logger.info({ certificates: config.certificates.length }, 'config reloaded');
    await this.plan();
    return { ok: true };
  }

  /**
   * Plans every certificate: arms timers, starts what is due (emergencies at every tick,
   * whatever the backoff), and reports status. Called on start, on the schedule and on reload.
   */
  plan(): Promise<void> {
    const planning = this.planNow().finally(() => {
      if (this.planning === planning) this.planning = undefined;
    });
    this.planning = planning;
    return planning;
  }

  private async planNow(): Promise<void> {
    const deps = this.deps;
    if (!deps || this.stopping) return;
    let rows: StatusRow[];
    try {
      // ARI windows (cached per Retry-After) feed renewAt; the schedule plans at least twice a day.
      if (deps.canDeploy?.() !== false) await refreshAllRenewalInfo(deps);
      rows = await statusRows(deps);
    } catch (error) {
      // A store that is down at start (or goes down) must not leave the agent unplanned until
      // the next schedule tick, hours away: try again after a growing pause.
      this.failedPlans++;
      const retryInMs = Math.min(PLAN_RETRY_MAX_MS, PLAN_RETRY_FIRST_MS * 2 ** (this.failedPlans - 1));
      this.options.logger.error({ err: describeError(error), retryInMs }, 'planning failed; trying again');
      this.retryPlanIn(retryInMs);
      return;
    }
    this.failedPlans = 0;
    // This agent runs: recorded (hourly at most), so the others keep its local deploy records.
    await deps.store
      .markAgentSeen?.()
      .catch((error: unknown) => this.options.logger.warn({ err: describeError(error) }, 'cannot record in the store that this agent runs'));
    const now = this.options.clock.now();
    this.lastPlanAt = now;
    this.publishStatus(rows);
    if (this.options.isLeader?.() === false) return; // the leader alerts and renews; plan() runs again on taking over
    for (const row of rows) {
      for (const event of expiryEvents(row, now, this.config)) this.emit(event);
      this.timers.arm(row.name, this.fireTime(row, now, { tick: true }));
    }
  }

  /**
   * Says once, by name, which stored certificates the config no longer lists: nothing renews or
   * watches them any more, their deployed files stay, and `certkeeper forget` removes their state.
   */
  private async noticeRemoved(config: Config): Promise<void> {
    try {
      const configured = new Set(config.certificates.map((c) => c.name));
      for (const name of await this.deps!.store.listCertificateNames()) {
        if (configured.has(name) || this.removedNoticed.has(name)) continue;
        this.removedNoticed.add(name);
        this.options.logger.warn(
          { cert: name },
          `certificate ${name} is stored but no longer in the config: it is not renewed or watched any more, and the files it deployed stay where they are; run certkeeper forget ${name} to remove its state`,
        );
      }
    } catch (error) {
      this.options.logger.debug({ err: describeError(error) }, 'cannot list stored certificates');
    }
  }

  /** Plans again after `ms`, once (a retry already waiting stands). */
  private retryPlanIn(ms: number): void {
    if (this.planRetry || this.stopping) return;
    const controller = new AbortController();
    this.planRetry = controller;
    this.options.clock.sleep(ms, controller.signal).then(
      () => {
        this.planRetry = undefined;
        if (!this.stopping) void this.plan();
      },
      () => undefined, // stopped
    );
  }

  /** Stops: no new work; the running batch may finish, then is aborted (its TXT records cleaned). */
  async stop(timeoutMs = 30_000): Promise<void> {
    this.stopping = true;
    this.planRetry?.abort();
    this.planRetry = undefined;
    this.unwatch?.();
    this.unwatch = undefined;
    this.timers.stop();
    this.batches.stop();
    const running = this.batches.running;
    if (!running) return;
    // Let in-flight orders finish for most of the budget, then abort and give cleanup the rest.
    const grace = Math.max(0, timeoutMs - Math.min(10_000, timeoutMs / 3));
    const finished = await this.within(running, grace);
    if (finished) return;
    this.options.logger.warn({ graceMs: grace }, 'in-flight work did not finish in time; aborting it (TXT records are still cleaned up)');
    this.batches.abort(new Error('shutting down'));
    if (!(await this.within(running, timeoutMs - grace))) {
      this.options.logger.error('in-flight work did not stop within the shutdown timeout');
    }
  }

  private async within(promise: Promise<void>, ms: number): Promise<boolean> {
    const controller = new AbortController();
    const timeout = this.options.clock.sleep(ms, controller.signal).then(
      () => false,
      () => false,
    );
    const done = promise.then(
      () => true,
      () => true,
    );
    const result = await Promise.race([done, timeout]);
    controller.abort();
    return result;
  }

  private async install(config: Config): Promise<void> {
    this.deps = await this.options.wire(config, (event) => this.emit(event));
    this.config = config;
    void this.noticeRemoved(config);
    // A certificate another agent renewed in the shared store is deployed here (local sinks)
    // as soon as the store tells, not at its next timer.
    this.unwatch?.();
    this.unwatch = this.deps.store.watchCertificates?.((name) => {
      if (this.stopping) return;
      if (name === undefined) {
        void this.plan().catch((error: unknown) => this.options.logger.error({ err: describeError(error) }, 'planning after a store reconnect failed'));
      } else if (this.config?.certificates.some((c) => c.name === name)) {
        this.timers.arm(name, this.options.clock.now().getTime()); // through the timers, on the agent's clock
      }
    });
    try {
      this.options.onConfig?.(config);
    } catch (error) {
      this.options.logger.error({ err: describeError(error) }, 'config listener failed');
    }
  }

  /**
   * When a certificate's timer should fire, from its status row: when the attempt chain
   * (plan/attempt.ts) says to act, plus a stable jitter on a renewal time.
   */
  fireTime(row: StatusRow, now: Date, options: { tick?: boolean } = {}): number {
    const plan = planAttempt(rowAttemptFacts(row, now, options.tick ? 'tick' : 'rearm'));
    // A skip other than a backoff waits for the renewal time (not due, or a loop-guard hold): jittered.
    if (plan.action !== 'skip' || plan.reason === 'backoff') return Math.max(now.getTime(), plan.at.getTime());
    const lifetime = Date.parse(row.notAfter!) - Date.parse(row.notBefore!);
    return Math.max(now.getTime(), plan.at.getTime() + jitterMs(lifetime, `${this.host}/${row.name}/${row.serial}`));
  }

  private publishStatus(rows: StatusRow[]): void {
    this.lastRows = rows;
    try {
      this.options.onStatus?.(rows);
    } catch (error) {
      this.options.logger.error({ err: describeError(error) }, 'status listener failed');
    }
  }

  /** Publishes one event to the subscribers (the log among them: observe/log-subscriber.ts). */
  private emit(event: StreamEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch (error) {
      this.options.logger.error({ err: describeError(error) }, 'event listener failed');
    }
  }
}
