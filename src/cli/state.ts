// The state store for a command: opened once per process for a given `state:` and reused by
// every reload (a PostgreSQL pool or a file watch is not opened again per config reload), and
// closed when the process ends.

import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Config } from '../config/load.js';
import type { StateStore } from '../state/contract.js';
import type { RepositoryStore } from '../state/repository-store.js';
import type { StorageObserver } from '../state/storage/observed.js';

const opened = new Map<string, Promise<RepositoryStore>>();

/** `observer` (metrics) is given to the store this call opens; a store already open keeps its own. */
export function stateStore(config: Pick<Config, 'state' | 'agentId'>, clock: Clock, logger: Logger, observer?: StorageObserver): Promise<RepositoryStore> {
  const key = JSON.stringify([config.state, config.agentId]);
  let store = opened.get(key);
  if (!store) {
    // Loaded on first use: a command that never opens the store (validate) never loads it.
    store = import('../state/open.js').then(({ openStateStore }) => openStateStore({ state: config.state, agentId: config.agentId, clock, logger, observer }));
    opened.set(key, store);
    // A failed open is not kept: the next reload (or retry) opens again.
    store.catch(() => opened.delete(key));
  }
  return store;
}

/** For `doctor`: reads what is there, creating and copying nothing. */
export async function stateStoreForReading(config: Pick<Config, 'state' | 'agentId'>, clock: Clock, logger: Logger): Promise<StateStore> {
  if (config.state.type !== 'file') return stateStore(config, clock, logger); // kept, so closed at exit
  const { openStateStoreForReading } = await import('../state/open.js');
  return openStateStoreForReading({ state: config.state, agentId: config.agentId, clock, logger });
}

/** Closes every store this process opened (pools, listeners, held locks). */
export async function closeStateStores(): Promise<void> {
  const stores = [...opened.values()];
  opened.clear();
  for (const store of stores) await (await store.catch(() => undefined))?.storage.close();
}
