// Opening the configured state store: a folder (the 0.1 layout copied once into store/) or
// PostgreSQL, behind the repositories. The one place that turns `state:` into a backend.

import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { StateStore } from './contract.js';
import { migrateFileLayout } from './migrate-file-layout.js';
import { RepositoryStore } from './repository-store.js';
import type { StateConfig } from './schema.js';
import { aesGcmSealer, readSealKeyFile } from './seal.js';
import type { Storage } from './storage/contract.js';
import { FileStorage } from './storage/file/index.js';
import { ObservedStorage, type StorageObserver } from './storage/observed.js';

export interface OpenStateOptions {
  state: StateConfig;
  agentId: string;
  clock: Clock;
  logger: Logger;
  /** Told about every storage call (the store's health metrics); the backend is wrapped once, here. */
  observer?: StorageObserver | undefined;
}

function observed(storage: Storage, options: OpenStateOptions): Storage {
  return options.observer ? new ObservedStorage(storage, options.state.type, options.observer) : storage;
}

/** The folder of a file store where the storage layout lives (the 0.1 files stay beside it). */
export function fileStorageRoot(dir: string): string {
  return path.join(dir, 'store');
}

/**
 * The store as it is, for reading only (`doctor`): a file store is neither created nor copied
 * into the storage layout; one not copied yet (or not there at all) is read in its 0.1 layout.
 */
export async function openStateStoreForReading(options: OpenStateOptions): Promise<StateStore> {
  const { state, logger } = options;
  if (state.type === 'file') {
    const root = fileStorageRoot(state.dir);
    const exists = await fs.stat(root).catch(() => undefined);
    if (!exists) {
      const { LegacyReadOnlyStore } = await import('./legacy/read-only-store.js');
      return new LegacyReadOnlyStore(state.dir, logger);
    }
  }
  return openStateStore(options, { migrate: false });
}

export async function openStateStore(options: OpenStateOptions, behaviour: { migrate: boolean } = { migrate: true }): Promise<RepositoryStore> {
  const { state, clock, logger } = options;
  if (state.type === 'file') {
    const storage = observed(
      await FileStorage.open({
        dir: fileStorageRoot(state.dir),
        clock,
        logger,
        ...(state.pollInterval !== undefined ? { pollIntervalMs: state.pollInterval } : {}),
      }),
      options,
    );
    const store = new RepositoryStore({ storage, clock, localDir: state.dir, lockTtlMs: state.lockTtl, agentId: options.agentId });
    if (behaviour.migrate) await migrateFileLayout(state.dir, store, { clock, logger, agentId: options.agentId });
    return store;
  }
  if (state.type === 'kubernetes') {
    // client-node is loaded only when configured, as pg is.
    const { KubernetesStorage } = await import('./storage/kubernetes/index.js');
    const kubernetes = await KubernetesStorage.open({
      agentId: options.agentId,
      lockTtlMs: state.lockTtl,
      prefix: state.prefix,
      namespace: state.namespace,
      kubeconfig: state.kubeconfig,
      context: state.context,
      clock,
      logger,
    });
    const storage = observed(kubernetes, options);
    const sealer = state.encryptionKeyFile ? aesGcmSealer(readSealKeyFile(state.encryptionKeyFile)) : undefined;
    return new RepositoryStore({ storage, clock, localDir: state.localDir, lockTtlMs: state.lockTtl, agentId: options.agentId, ...(sealer ? { sealer } : {}) });
  }
  // PostgreSQL is loaded only when configured: a file-store agent never loads pg.
  const { PostgresStorage } = await import('./storage/postgres/index.js');
  const postgres = new PostgresStorage({
    url: state.url,
    schema: state.schema,
    agentId: options.agentId,
    lockTtlMs: state.lockTtl,
    clock,
    logger,
    ...(state.pollInterval !== undefined ? { pollIntervalMs: state.pollInterval } : {}),
    ...(state.password !== undefined ? { password: state.password } : {}),
    ...(state.sslmode !== undefined ? { sslmode: state.sslmode } : {}),
    ...(state.sslrootcert !== undefined ? { sslrootcert: state.sslrootcert } : {}),
  });
  const storage = observed(postgres, options);
  const sealer = state.encryptionKeyFile ? aesGcmSealer(readSealKeyFile(state.encryptionKeyFile)) : undefined;
  return new RepositoryStore({ storage, clock, localDir: state.localDir, lockTtlMs: state.lockTtl, agentId: options.agentId, ...(sealer ? { sealer } : {}) });
}
