// The state store the CLI opens for a config (state/open.ts), for engine tests that want the
// production store rather than a fake one.

import type { Clock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Config } from '../../src/config/load.js';
import { openStateStore } from '../../src/state/open.js';
import type { RepositoryStore } from '../../src/state/repository-store.js';
import { stateSchema } from '../../src/state/schema.js';

export function openConfigStore(config: Pick<Config, 'state' | 'agentId'>, clock: Clock): Promise<RepositoryStore> {
  return openStateStore({ state: config.state, agentId: config.agentId, clock, logger: silentLogger });
}

/**
 * The file store a config's `stateDir: DIR` opens (the repositories on FileStorage under
 * DIR/store), for tests that have the folder but no config. The agent id is "test" unless given.
 */
export function openFileStore(dir: string, clock: Clock, options: { agentId?: string } = {}): Promise<RepositoryStore> {
  return openConfigStore({ state: stateSchema.parse({ type: 'file', dir }), agentId: options.agentId ?? 'test' }, clock);
}
