// A Storage that reports how each call went and how long it took, for the store's health metrics.
// open.ts wraps the backend in it once when asked (OpenStateOptions.observer); the repositories
// above and the backend below do not know. Only the operation is reported, never a key.

import { isCertkeeperError } from '../../core/errors.js';
import { timedCall } from '../../core/timed-call.js';
import type {
  LockOptions,
  LogEntry,
  LogQuery,
  PutOptions,
  Storage,
  StorageKey,
  StorageLock,
  StorageObservation,
  StorageObserver,
  StorageOperation,
  StorageResult,
  StoredValue,
} from './contract.js';

export type { StorageObservation, StorageObserver, StorageOperation, StorageResult };

export function storageResult(error: unknown): StorageResult {
  if (isCertkeeperError(error, 'STATE_CONFLICT')) return 'conflict';
  if (isCertkeeperError(error, 'LOCK_TIMEOUT')) return 'busy';
  return 'error';
}

/**
 * Whether a failure under `signal` is the caller cancelling (not reported) rather than the store
 * failing: a deadline the caller set (AbortSignal.timeout, as /readyz's ping) is the store being slow.
 */
function cancelled(signal: AbortSignal | undefined): boolean {
  if (!signal?.aborted) return false;
  return !(signal.reason instanceof Error && signal.reason.name === 'TimeoutError');
}

export class ObservedStorage implements Storage {
  /** Optional in the contract: present here exactly when the backend has it (not timed: housekeeping). */
  readonly sweep?: () => Promise<number>;

  constructor(
    private readonly inner: Storage,
    private readonly backend: string,
    private readonly observer: StorageObserver,
  ) {
    if (inner.sweep) this.sweep = () => inner.sweep!();
  }

  get description(): string {
    return this.inner.description;
  }

  where(key: StorageKey): string {
    return this.inner.where(key);
  }

  get(key: StorageKey): Promise<StoredValue | undefined> {
    return this.timed('get', undefined, () => this.inner.get(key));
  }

  getMany(keys: readonly StorageKey[]): Promise<Map<StorageKey, StoredValue>> {
    return this.timed('get_many', undefined, () => this.inner.getMany(keys));
  }

  put(key: StorageKey, value: Uint8Array, options?: PutOptions): Promise<string> {
    return this.timed('put', undefined, () => this.inner.put(key, value, options));
  }

  delete(key: StorageKey, options?: { ifVersion?: string }): Promise<boolean> {
    return this.timed('delete', undefined, () => this.inner.delete(key, options));
  }

  list(prefix: string): Promise<StorageKey[]> {
    return this.timed('list', undefined, () => this.inner.list(prefix));
  }

  appendLog(log: string, entry: LogEntry): Promise<void> {
    return this.timed('append_log', undefined, () => this.inner.appendLog(log, entry));
  }

  readLog(log: string, query?: LogQuery): Promise<LogEntry[]> {
    return this.timed('read_log', undefined, () => this.inner.readLog(log, query));
  }

  async lock(name: string, options: LockOptions): Promise<StorageLock> {
    const held = await this.timed('lock', options.signal, () => this.inner.lock(name, options));
    const onLost = (): void => this.observer.onLockLost?.(this.backend);
    held.lost.addEventListener('abort', onLost, { once: true });
    if (held.lost.aborted) onLost();
    return {
      get name() {
        return held.name;
      },
      get holder() {
        return held.holder;
      },
      get tookOver() {
        return held.tookOver;
      },
      get lost() {
        return held.lost;
      },
      release: () => {
        // Giving the lock up is not losing it, whatever the backend does with the signal then.
        held.lost.removeEventListener('abort', onLost);
        return this.timed('unlock', undefined, () => held.release());
      },
    };
  }

  watch(prefix: string, listener: (key: StorageKey) => void): () => void {
    return this.inner.watch(prefix, listener);
  }

  ping(signal?: AbortSignal): Promise<void> {
    return this.timed('ping', signal, () => this.inner.ping(signal));
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private timed<T>(operation: StorageOperation, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
    return timedCall(
      call,
      (outcome, seconds) =>
        this.observer.onOperation({ backend: this.backend, operation, result: outcome.ok ? 'success' : storageResult(outcome.error), seconds }),
      () => cancelled(signal),
    );
  }
}
