// `certkeeper run`: the always-on agent. Wires the Agent to its schedule (croner, as `validate`),
// the HTTP endpoint (metrics, health, status, reload), the notifiers and the process signals:
// SIGHUP reloads, SIGTERM/SIGINT stop cleanly within shutdownTimeout. A fatal error while it
// starts undoes what had started, so the process exits at once instead of lingering half-started.
// Every loop it keeps going is listed in engine/loops.ts; every event goes through one subscriber list.

import { randomInt } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { atomicWriteFile } from '../../core/fs-atomic.js';
import { CertkeeperError, describeError } from '../../core/errors.js';
import type { Config } from '../../config/load.js';
import { Agent } from '../../engine/agent.js';
import { cronSchedule } from '../../config/cron.js';
import { startScheduleTicks } from '../../engine/schedule-ticks.js';
import { Rehearser } from '../../engine/rehearse.js';
import { leaderGauge, startLeaderElection } from '../../ha/index.js';
import { startHttpServer, type HttpServerHandle } from '../../observe/http.js';
import { servePage } from '../../observe/page/agent.js';
import { loadStoredWatchResults } from '../../verify/watcher.js';
import { AgentMetrics } from '../../observe/metrics.js';
import { Dispatcher, type DispatcherSnapshot } from '../../observe/notify/dispatcher.js';
import { buildNotifyTargets } from '../../observe/notify/registry.js';
import { NOTIFY_STATE_FILE, notifyStateIn, notifyStateInStore, type NotifyStateStore } from '../../observe/notify/snapshot.js';
import { stateStore } from '../state.js';
import { readiness } from '../../observe/readiness.js';
import { logSubscriber } from '../../observe/log-subscriber.js';
import { alertsOnly, fanOut, type EventSubscriber } from '../../observe/subscribers.js';
import type { StateStore } from '../../state/contract.js';
import type { StorageObservation } from '../../state/storage/contract.js';
import type { DnsCall } from '../../dns/contract.js';
import type { CaRequestInfo } from '../../issuers/contract.js';
import { startServedWatch, type ServedWatch } from '../../verify/daemon.js';
import { wire } from '../wiring.js';
import { commandLogger, EXIT_OK, loadConfig, logConfigWarnings, type CommandIo, type GlobalOptions } from '../context.js';

/** Twice a day at a random minute (and hour offset), as ACME CAs ask of their clients. */
export function defaultSchedule(random: (max: number) => number = randomInt): string {
  const minute = random(60);
  const hour = random(12);
  return `${minute} ${hour},${hour + 12} * * *`;
}

export interface RunHandle {
  agent: Agent;
  /** Resolves when the agent has stopped (after a signal or stop()). */
  done: Promise<void>;
  stop(): Promise<void>;
  httpAddress: string | undefined;
}

/** What start-up has started so far, undone in reverse when a later step fails. */
type Undo = () => unknown;

/** Starts the agent; returns once it runs (for tests). The CLI waits on `done`. */
export async function startAgent(global: GlobalOptions, io: CommandIo, options: { handleSignals?: boolean } = {}): Promise<RunHandle> {
  const started: Undo[] = [];
  try {
    return await launch(global, io, options, started);
  } catch (error) {
    for (const undo of started.reverse())
      await Promise.resolve()
        .then(undo)
        .catch(() => undefined);
    throw error;
  }
}

async function launch(global: GlobalOptions, io: CommandIo, options: { handleSignals?: boolean }, started: Undo[]): Promise<RunHandle> {
  const first = loadConfig(global, io); // a bad config at start is a usage error (exit 2)
  const schedule = cronSchedule(first.daemon.schedule ?? defaultSchedule()); // validated by loadConfig; parsed before anything starts
  const { logger, flush } = commandLogger(global, io, first);
  started.push(flush);
  // Signals are handled from here on (the HTTP endpoint answers before the first plan): a stop or
  // reload asked for while the agent starts is carried out once it runs.
  let isRunning = false;
  let markRunning: () => void = () => {};
  const running = new Promise<void>((resolve) => (markRunning = resolve)).then(() => {
    isRunning = true;
  });
  let stopAsked = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!isRunning && stopAsked && signal !== 'SIGHUP') {
      logger.warn({ signal }, 'second signal while starting: exiting now');
      flush();
      process.exit(130);
    }
    stopAsked ||= signal !== 'SIGHUP';
    void running.then(() => (signal === 'SIGHUP' ? onHup() : onStop(signal)));
  };
  const signals: NodeJS.Signals[] = options.handleSignals ? ['SIGTERM', 'SIGINT', 'SIGHUP'] : [];
  for (const signal of signals) process.on(signal, onSignal);
  started.push(() => signals.forEach((signal) => process.off(signal, onSignal)));
  const metrics = new AgentMetrics();
  // The store's health metrics: the daemon opens the store first (below), so it is opened observed.
  const storeObserver = { onOperation: (o: StorageObservation) => metrics.storeOperation(o), onLockLost: (backend: string) => metrics.storeLockLost(backend) };
  // What the agent's and the rehearsals' wiring report, for metrics: CA requests, DNS calls, store calls.
  const observed = {
    onAcmeRequest: (status: number | undefined, info?: CaRequestInfo) => metrics.acmeResponse(status, info),
    onDnsCall: (type: string, call: DnsCall) => metrics.dnsCall(type, call),
    storeObserver,
  };
  let dispatcher: Dispatcher | undefined;
  let config: Config = first;
  let stateDirWritable: boolean | string = false;
  // The shared store (a database) may go away under a running agent: /readyz says so, /healthz stays up.
  let store: StateStore | undefined;
  let storeCheck: { at: number; result: true | string } | undefined;
  const storeReachable = async (): Promise<true | string | undefined> => {
    if (!store?.ping) return undefined;
    const now = io.clock.now().getTime();
    if (storeCheck && now - storeCheck.at < STORE_CHECK_CACHE_MS) return storeCheck.result;
    const result = await store.ping(AbortSignal.timeout(STORE_CHECK_DEADLINE_MS)).then(
      () => true as const,
      (error: unknown) => describeError(error),
    );
    storeCheck = { at: now, result };
    return result;
  };

  // The dispatcher's outbox and alert memory (notify/snapshot.ts): saved on every change and at
  // shutdown, so queued alerts survive a restart; a reload hands them to the next dispatcher.
  // In the state store, as this agent's own data (a file store's notify-state.json is read once, if any).
  const notifyStateOf = async (next: Config): Promise<NotifyStateStore> => {
    const opened = await stateStore(next, io.clock, logger, storeObserver);
    return opened.agentData
      ? notifyStateInStore(opened.agentData, path.join(next.stateDir, NOTIFY_STATE_FILE), () => io.clock.now())
      : notifyStateIn(next.stateDir, () => io.clock.now());
  };
  let notifyState: NotifyStateStore = await notifyStateOf(first);
  const loadNotifyState = async (): Promise<DispatcherSnapshot | undefined> => {
    try {
      return await notifyState.load();
    } catch (error) {
      logger.warn({ err: describeError(error) }, 'notification state unreadable: starting without it');
      return undefined;
    }
  };
  const rebuildNotifiers = async (next: Config): Promise<void> => {
    // The new store and targets first: should either fail, the running dispatcher stays as it is.
    if (next.stateDir !== first.stateDir || JSON.stringify(next.state) !== JSON.stringify(first.state)) notifyState = await notifyStateOf(next);
    const targets = buildNotifyTargets(next.daemon.notify, { logger, clock: io.clock });
    const previous = dispatcher;
    // Synchronous hand-over, from detach() to the new dispatcher: no event falls between the two.
    const state = previous ? previous.detach() : await loadNotifyState();
    metrics.notificationTargets(targets.map((target) => target.name));
    dispatcher = new Dispatcher({
      targets,
      clock: io.clock,
      logger: logger.child({ component: 'notify' }),
      onResult: (target, result) => metrics.notification(target, result),
      store: notifyState,
      ...(state ? { state } : {}),
    });
  };
  await rebuildNotifiers(first);
  started.push(() => dispatcher?.close(5_000));

  // Several replicas (`ha:`): only the Lease holder orders and deploys; followers serve health and metrics.
  let agentRef: Agent | undefined;
  const leaderMetric = first.daemon.ha ? leaderGauge(metrics.registry) : undefined;
  const elector = first.daemon.ha
    ? await startLeaderElection(first.daemon.ha, {
        clock: io.clock,
        logger: logger.child({ component: 'ha' }),
        onChange: (leader) => {
          leaderMetric?.set(leader);
          if (leader) void agentRef?.plan(); // arm timers and start what is due
        },
      })
    : undefined;
  leaderMetric?.set(elector?.isLeader() ?? false);
  if (elector) started.push(() => elector.stop()); // releases the lease and ends the campaign loop

  let served: ServedWatch | undefined; // `watch:` endpoints and verification metrics (src/verify)
  // Who hears the event stream, once for every source; the log first, as each line was written before the event went out.
  const subscribers: EventSubscriber[] = [
    logSubscriber(logger),
    { name: 'served', sources: ['agent'], onEvent: (event) => served?.onEvent(event) }, // deploy verifications only
    { name: 'metrics', onEvent: alertsOnly((event) => metrics.onEvent(event)) },
    { name: 'notify', onEvent: alertsOnly((event) => dispatcher?.dispatch(event)) },
  ];
  const isLeader = elector ? () => elector.isLeader() : undefined;
  const agent = new Agent({
    ...(isLeader ? { isLeader } : {}),
    clock: io.clock,
    logger,
    // A reload: loading registers the new config's secrets (cli/context.ts); its warnings are logged like at start.
    // Loading is bounded (config/bounds.ts), so a hostile file is refused in milliseconds and /healthz keeps answering.
    loadConfig: () => {
      const next = loadConfig(global, io);
      logConfigWarnings(logger, next);
      return next;
    },
    wire: async (next, onEvent) => {
      const deps = await wire(next, { clock: io.clock, logger, onEvent, ...observed, onRenewalInfo: (result) => metrics.renewalInfo(result) });
      if (isLeader) deps.canDeploy = isLeader;
      stateDirWritable = await probeWritable(next.stateDir);
      store = deps.store;
      return deps;
    },
    onConfig: (next) => {
      const before = config;
      config = next;
      served?.onConfig(next);
      metrics.configLoaded(true, io.clock.now());
      if (next !== first) {
        // A reload: new targets, same alert memory.
        rebuildNotifiers(next).catch((error: unknown) => logger.error({ err: describeError(error) }, 'notify targets not reloaded: the running ones stay'));
      }
      if (JSON.stringify(before.daemon.http) !== JSON.stringify(next.daemon.http) || before.daemon.schedule !== next.daemon.schedule) {
        logger.warn('http and schedule changes take effect at the next restart');
      }
    },
    onEvent: fanOut(subscribers, 'agent'),
    onStatus: (rows) => {
      metrics.updateFromStatus(rows);
    },
  });

  agentRef = agent;

  // `rehearse:` dry runs on their own schedule (never two at once against one CA), with their own engine wiring.
  const rehearser = new Rehearser({
    clock: io.clock,
    logger: logger.child({ component: 'rehearse' }),
    config: () => agent.currentConfig,
    wire: (next) => wire(next, { clock: io.clock, logger, ...observed }),
    onEvent: fanOut(subscribers, 'rehearsal'),
    onResult: (cert, result) => metrics.rehearsal(cert, result),
    ...(isLeader ? { isLeader } : {}),
  });

  const reload = async (): Promise<{ ok: boolean; error?: string }> => {
    await running;
    const result = await agent.reload();
    rehearser.poke();
    if (!result.ok) metrics.configLoaded(false, io.clock.now());
    else metrics.planCompleted(io.clock.now());
    return result;
  };

  // Bound before the first plan: a port that is taken ends the start before anything is ordered.
  let http: HttpServerHandle | undefined;
  if (first.daemon.http) {
    const settings = first.daemon.http;
    http = await startHttpServer({
      listen: settings.listen,
      allowRemoteReload: settings.allowRemoteReload,
      metrics,
      status: async () => agent.status,
      page: (query) =>
        servePage(
          {
            now: () => io.clock.now(),
            config: () => config,
            rows: () => agent.status,
            endpoints: () => loadStoredWatchResults(store?.agentData, config.stateDir),
            store: () => store,
          },
          query,
        ),
      ready: async () =>
        readiness({
          configLoaded: agent.currentConfig !== undefined,
          stateDirWritable,
          storeReachable: await storeReachable(),
          lastPlanAt: agent.lastPlan ?? null,
          now: io.clock.now(),
          maxPlanAgeMs: 26 * 3_600_000, // a schedule tick at least twice a day, with slack
        }),
      onReload: reload,
      logger: logger.child({ component: 'http' }),
    });
    started.push(() => http?.close());
  }

  started.push(() => agent.stop(config.daemon.shutdownTimeoutMs));
  await agent.start(first);
  metrics.planCompleted(io.clock.now());
  served = startServedWatch(config, {
    agentData: (await stateStore(config, io.clock, logger, storeObserver)).agentData,
    clock: io.clock,
    logger,
    registry: metrics.registry,
    status: () => agent.status,
    onEvent: fanOut(subscribers, 'watch', isLeader), // every replica probes (its metrics); only the leader alerts
  });
  started.push(() => served?.stop());
  rehearser.start();
  started.push(() => rehearser.stop());

  const ticks = startScheduleTicks(schedule, {
    clock: io.clock,
    onTick: () => void agent.plan().then(() => metrics.planCompleted(io.clock.now())),
  });
  logger.info({ schedule: schedule.expression, certificates: first.certificates.length }, 'certkeeper agent started');

  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ timeoutMs: config.daemon.shutdownTimeoutMs }, 'stopping: no new work; in-flight orders finish or are abandoned cleanly');
      ticks.stop();
      await Promise.all([agent.stop(config.daemon.shutdownTimeoutMs), rehearser.stop()]);
      await served?.stop();
      await elector?.stop(); // releases the lease: a follower takes over at once
      await dispatcher?.close(5_000); // saves the outbox for the next start
      await http?.close();
      for (const signal of signals) process.off(signal, onSignal);
      logger.info('certkeeper agent stopped');
      flush();
      resolveDone();
    })();
    return stopping;
  };
  const onStop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    logger.info({ signal }, 'signal received');
    void stop();
  };
  const onHup = (): void => {
    logger.info('SIGHUP: reloading the config');
    void reload();
  };
  markRunning();
  return { agent, done, stop, httpAddress: http?.address };
}

export async function runCommand(global: GlobalOptions, io: CommandIo): Promise<number> {
  // One certificate's surprise must not take the agent down: log it and keep running.
  process.on('unhandledRejection', (reason) => {
    io.stderr.write(`certkeeper: unexpected error (isolated, the agent keeps running): ${describeError(reason)}\n`);
  });
  const handle = await startAgent(global, io, { handleSignals: true });
  await handle.done;
  return EXIT_OK;
}

/** /readyz asks the store at most this often, and waits this long for it. */
const STORE_CHECK_CACHE_MS = 5_000;
const STORE_CHECK_DEADLINE_MS = 2_000;

async function probeWritable(dir: string): Promise<boolean | string> {
  try {
    // With a database store this is the agent's localDir, which nothing creates before the first
    // hook needs a certificate's files: made here (0700, as those files' folders), or /readyz
    // would say "not writable" for good.
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await atomicWriteFile(path.join(dir, '.write-probe'), 'ok\n', { mode: 0o600 });
    return true;
  } catch (error) {
    return describeError(error);
  }
}

/** `certkeeper reload`: asks a running agent to re-read its config through the control endpoint. */
export async function reloadCommand(global: GlobalOptions, io: CommandIo): Promise<number> {
  const config = loadConfig(global, io);
  const listen = config.daemon.http?.listen;
  if (!listen) {
    throw new CertkeeperError(
      'USAGE',
      'the config has no http.listen, so there is no control endpoint; send SIGHUP instead (systemctl reload certkeeper, or kill -HUP <pid>)',
      {
        retryable: false,
      },
    );
  }
  const host = listen.replace(/^0\.0\.0\.0(?=:)/, '127.0.0.1').replace(/^\[::\](?=:)/, '[::1]');
  let response: Response;
  try {
    response = await fetch(`http://${host}/reload`, { method: 'POST', signal: AbortSignal.timeout(30_000) });
  } catch (error) {
    throw new CertkeeperError('INTERNAL', `no agent answered at http://${host}/reload: ${describeError(error)}`, { retryable: true, cause: error });
  }
  const body = (await response.json().catch(() => ({}))) as { ok?: boolean; error?: string };
  if (response.ok && body.ok) {
    io.stdout.write('reloaded\n');
    return EXIT_OK;
  }
  io.stderr.write(`certkeeper: reload rejected: ${body.error ?? `HTTP ${response.status}`}\n`);
  return 1;
}
