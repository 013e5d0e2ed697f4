// Opening the configured state store: a folder (the 0.1 layout copied once into store/) or
// PostgreSQL, behind the repositories. The one place that turns `state:` into a backend.

import os from 'node:os';
import path from 'node:path';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { migrateFileLayout } from './migrate-file-layout.js';
import { RepositoryStore } from './repository-store.js';
import type { StateConfig } from './schema.js';
import { aesGcmSealer, readSealKeyFile } from './seal.js';
import { FileStorage } from './storage/file/index.js';

export interface OpenStateOptions {
  state: StateConfig;
  agentId: string;
  clock: Clock;
  logger: Logger;
}

/** The folder of a file store where the storage layout lives (the 0.1 files stay beside it). */
export function fileStorageRoot(dir: string): string {
  return path.join(dir, 'store');
}

export async function openStateStore(options: OpenStateOptions): Promise<RepositoryStore> {
  const { state, clock, logger } = options;
  if (state.type === 'file') {
    const storage = await FileStorage.open({ dir: fileStorageRoot(state.dir), clock, logger });
    const store = new RepositoryStore({ storage, clock, localDir: state.dir, lockTtlMs: state.lockTtl });
    await migrateFileLayout(state.dir, store, { clock, logger });
    return store;
  }
  // PostgreSQL is loaded only when configured: a file-store agent never loads pg.
  const { PostgresStorage } = await import('./storage/postgres/index.js');
  const storage = new PostgresStorage({
    url: state.url,
    schema: state.schema,
    agentId: options.agentId,
    lockTtlMs: state.lockTtl,
    clock,
    logger,
    ...(state.password !== undefined ? { password: state.password } : {}),
    ...(state.sslmode !== undefined ? { sslmode: state.sslmode } : {}),
    ...(state.sslrootcert !== undefined ? { sslrootcert: state.sslrootcert } : {}),
  });
  const sealer = state.encryptionKeyFile ? aesGcmSealer(readSealKeyFile(state.encryptionKeyFile)) : undefined;
  return new RepositoryStore({ storage, clock, localDir: state.localDir, lockTtlMs: state.lockTtl, ...(sealer ? { sealer } : {}) });
}

/** CERTKEEPER_AGENT_ID wins over `agent.id`; the host name otherwise. */
export function agentIdOf(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return env.CERTKEEPER_AGENT_ID || configured || os.hostname();
}
