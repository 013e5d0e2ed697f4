// What `certkeeper run` starts for src/verify: the Watcher of `watch:` endpoints (restarted on a
// config reload that changes it) and the served-certificate metrics. run.ts calls these three
// functions and nothing else of this module.

import type { AgentData } from '../state/contract.js';
import type { Registry } from 'prom-client';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Config } from '../config/load.js';
import type { StatusRow } from '../core/status.js';
import type { AgentEvent } from '../observe/events.js';
import type { StreamEvent } from '../observe/stream.js';
import { ServedMetrics } from './metrics.js';
import { Watcher, WATCH_DATA } from './watcher.js';
import type { WatchResult } from '../core/endpoint-results.js';

export interface ServedWatchOptions {
  /** This agent's data in the state store, where watch rounds are kept; absent: watch.json. */
  agentData?: AgentData | undefined;
  clock: Clock;
  logger: Logger;
  registry: Registry;
  /** Where watch alerts go: the event stream's subscribers (on a follower, only those that hear every replica). */
  onEvent: (event: AgentEvent) => void;
  /** The agent's latest status rows (managed certificates, for drift detection). */
  status: () => StatusRow[];
}

export interface ServedWatch {
  /** Feed every agent event here (counts deploy verifications). */
  onEvent(event: StreamEvent): void;
  /** A config was (re)loaded: start, update or stop the Watcher. */
  onConfig(config: Config): void;
  stop(): Promise<void>;
}

export function startServedWatch(config: Config, options: ServedWatchOptions): ServedWatch {
  const metrics = new ServedMetrics(options.registry);
  let watcher: Watcher | undefined;
  let stateDir = config.stateDir;
  const apply = (next: Config): void => {
    const settings = next.watch;
    if (!settings || settings.endpoints.length === 0) {
      void watcher?.stop();
      watcher = undefined;
      metrics.updateEndpoints([]);
      return;
    }
    if (watcher && next.stateDir === stateDir) {
      watcher.update(settings);
      return;
    }
    void watcher?.stop();
    stateDir = next.stateDir;
    watcher = new Watcher({
      settings,
      clock: options.clock,
      logger: options.logger.child({ component: 'watch' }),
      stateDir,
      ...(options.agentData ? { save: (results: WatchResult[]) => options.agentData!.put(WATCH_DATA, results) } : {}),
      managed: async () => options.status().map((row) => ({ name: row.name, domains: row.domains, serial: row.serial })),
      onEvent: options.onEvent,
      onResults: (results) => metrics.updateEndpoints(results),
    });
    watcher.start();
    options.logger.info({ endpoints: settings.endpoints.length, intervalMs: settings.intervalMs }, 'watching endpoints');
  };
  apply(config);
  return {
    onEvent: (event) => metrics.onEvent(event),
    onConfig: apply,
    stop: async () => {
      await watcher?.stop();
    },
  };
}
