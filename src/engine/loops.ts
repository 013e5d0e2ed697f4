// Every loop the daemon (`certkeeper run`) keeps going, in one table: what wakes it, where it
// lives, and who starts and stops it. Nothing here runs; it is the map a reader starts from, and
// test/unit/engine/loops.test.ts checks that each loop is still where this table says.

export interface DaemonLoop {
  /** Short name, as the logs and the README use it. */
  name: string;
  /** What wakes it and what it does. */
  does: string;
  /** The file (under src/) that runs it, and the function or class that owns the loop there. */
  home: string;
  owner: string;
  /** Who starts and stops it. */
  startedBy: string;
}

export const DAEMON_LOOPS: readonly DaemonLoop[] = [
  {
    name: 'cron',
    does: 'plans every certificate on daemon.schedule (twice a day at a random minute by default)',
    home: 'engine/schedule-ticks.ts',
    owner: 'startScheduleTicks',
    startedBy: 'cli/commands/run.ts, stopped first at shutdown',
  },
  {
    name: 'wake-ups',
    does: "one clock sleep until the earliest certificate timer; what is due joins the agent's next renewal batch",
    home: 'engine/timers.ts',
    owner: 'CertTimers',
    startedBy: 'the Agent (engine/agent.ts): armed by every plan and batch, dropped by stop()',
  },
  {
    name: 'plan retry',
    does: 'plans again after a failed plan (the store unreachable), 15 s doubling to 5 min',
    home: 'engine/agent.ts',
    owner: 'retryPlanIn',
    startedBy: 'the Agent, cancelled by stop()',
  },
  {
    name: 'store watch',
    does: 'a certificate another agent renewed in the shared store is armed at once (deployed here)',
    home: 'engine/agent.ts',
    owner: 'watchCertificates',
    startedBy: 'the Agent on start and on every reload, ended by stop()',
  },
  {
    name: 'rehearsals',
    does: '`rehearse:` dry runs against the CA on their own schedule, never two at once against one CA',
    home: 'engine/rehearse.ts',
    owner: 'Rehearser',
    startedBy: 'cli/commands/run.ts after the first plan; poked on reload',
  },
  {
    name: 'watch',
    does: '`watch:` endpoints probed every intervalMs: what they serve, its expiry, and alerts',
    home: 'verify/daemon.ts',
    owner: 'startServedWatch',
    startedBy: 'cli/commands/run.ts after the first plan; follows reloads',
  },
  {
    name: 'lease heartbeat',
    does: 'with `ha:`, campaigns for the leader Lease and renews it every renewInterval',
    home: 'ha/index.ts',
    owner: 'startLeaderElection',
    startedBy: 'cli/commands/run.ts before the agent; stopped (the lease released) after it',
  },
  {
    name: 'lock heartbeats',
    does: "while a renewal holds a certificate's lock in a shared store, renews the lock's lease and gives up the work when it is lost",
    home: 'state/storage/lease-keeper.ts',
    owner: 'heartbeat',
    startedBy: "each renewal, for the time it holds the lock (the PostgreSQL and Kubernetes stores' lease-lock.ts)",
  },
  {
    name: 'notify outbox',
    does: 'delivers queued alerts, retrying a receiver that is down (5 s, 25 s, 125 s, … up to 10 min)',
    home: 'observe/notify/dispatcher.ts',
    owner: 'Dispatcher',
    startedBy: 'cli/commands/run.ts; replaced on reload, closed (outbox saved) at shutdown',
  },
];
