// The storage contract: the few primitives every state backend (a local folder, PostgreSQL, the
// Kubernetes API) provides, and nothing about certificates. Typed repositories (certificates,
// records, accounts, history, ...) sit on top and are the only thing the engine sees.
//
// Modelled on certmagic's storage.go (Store/Load/Delete/List plus a named Lock), with two
// additions a fleet of agents needs: compare-and-set by version, so two agents never overwrite
// each other's record blindly, and an append-only log, because history at 100,000 entries must be
// queried per certificate without reading all of it.
//
// Keys are '/'-separated paths of safe segments (`certs/www/current`); values are bytes. Whoever
// takes a lock re-checks what the lock protects after taking it: another agent may have done the
// work while this one waited (certmagic's "check again after obtaining the lock").

/** A key: segments of [A-Za-z0-9._-], no empty segment, no `.`/`..`, at most 512 characters. */
export type StorageKey = string;

export interface StoredValue {
  value: Uint8Array;
  /** Opaque; changes on every write. Pass it as `ifVersion` to write only over what was read. */
  version: string;
  modifiedAt: Date;
}

export interface PutOptions {
  /**
   * Compare-and-set: write only when the key's current version is this one; `null` means "only
   * when the key does not exist". A mismatch throws STATE_CONFLICT and writes nothing.
   */
  ifVersion?: string | null;
}

export interface LogEntry {
  /** When it happened (the writer's clock). */
  at: Date;
  /** What it is about, e.g. the certificate name; queries filter on it. */
  subject: string;
  /** A short kind for cheap filtering, e.g. `dry-run`; may be empty. */
  kind: string;
  /** The entry itself, JSON text. */
  body: string;
}

export interface LogQuery {
  subject?: string;
  kind?: string;
  /** Newest first; at most this many (default: all). */
  limit?: number;
}

export interface LockOptions {
  /** How long the lock outlives a holder that stopped renewing it (it renews every ttl/3 while held). */
  ttlMs: number;
  /** How long to wait for a held lock; 0 tries once. Past it: LOCK_TIMEOUT. */
  waitMs: number;
  signal?: AbortSignal;
  /** Called once when the lock is found held and waiting starts, with who holds it. */
  onWait?: (holder: string) => void;
}

export interface StorageLock {
  readonly name: string;
  /** Who holds it, as shown to waiters: agent id, host, pid. */
  readonly holder: string;
  /** True when it was taken over from a holder whose lease had expired (it may have left work half done). */
  readonly tookOver: boolean;
  /**
   * Aborted when the lease can no longer be renewed (store unreachable past the margin): the
   * holder must stop writing under this lock, as another agent may take it at expiry.
   */
  readonly lost: AbortSignal;
  /** Gives the lock up if still ours; safe to call twice. */
  release(): Promise<void>;
}

export interface Storage {
  /** For logs and `status`: `file:/var/lib/certkeeper`, `postgres://db.internal/certkeeper (schema certkeeper)`. */
  readonly description: string;

  /** Where a key is kept, for people: a file path, or the database and key. */
  where(key: StorageKey): string;

  get(key: StorageKey): Promise<StoredValue | undefined>;
  /**
   * Several keys at once, as `get` reads each (PostgreSQL: one statement per thousand keys;
   * files: short synchronous slices, each folder checked once). Keys with no value are absent
   * from the map. Planning and `status` of a fleet read three keys per certificate.
   */
  getMany(keys: readonly StorageKey[]): Promise<Map<StorageKey, StoredValue>>;
  /** Returns the new version. */
  put(key: StorageKey, value: Uint8Array, options?: PutOptions): Promise<string>;
  /** True when something was deleted. With `ifVersion`, deletes only that version (STATE_CONFLICT otherwise). */
  delete(key: StorageKey, options?: { ifVersion?: string }): Promise<boolean>;
  /** Every key under `prefix` (which ends with '/'), at any depth, sorted. */
  list(prefix: string): Promise<StorageKey[]>;

  appendLog(log: string, entry: LogEntry): Promise<void>;
  /** Newest first. */
  readLog(log: string, query?: LogQuery): Promise<LogEntry[]>;

  /** Takes a named lock (a lease with a TTL, renewed while held). */
  lock(name: string, options: LockOptions): Promise<StorageLock>;

  /**
   * Calls `listener` with the key after a write or delete by another agent (another Storage
   * instance: this one's own writes are not reported) under `prefix`, as soon as the backend can
   * tell (PostgreSQL: LISTEN/NOTIFY; files: a file watch), and besides by polling cheap change
   * information every poll interval (a backend option, DEFAULT_POLL_INTERVAL_MS), so a write whose
   * notice was lost is still reported within that interval. A key may be reported twice; the
   * prefix itself means "anything under it may have changed: re-read it". Returns the unsubscribe
   * function, which also ends the polling when it was the last watcher.
   */
  watch(prefix: string, listener: (key: StorageKey) => void): () => void;

  /** Removes what writers killed mid-write left behind, where a backend can have such debris (files). */
  sweep?(): Promise<number>;

  /** Resolves when the backend answers (for /readyz and `status`); rejects with STATE_UNREACHABLE. */
  ping(signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** How often a watcher polls besides its notices: within the 30 s in which agents promise to deploy what another renewed. */
export const DEFAULT_POLL_INTERVAL_MS = 20_000;

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

/** Throws on a key that could walk out of its place in any backend (a path, a Secret name, a row). */
export function assertStorageKey(key: string): void {
  const segments = key.split('/');
  if (key.length > 512 || segments.some((segment) => !SEGMENT.test(segment) || segment === '.' || segment === '..')) {
    throw new Error(`invalid storage key: ${JSON.stringify(key.slice(0, 80))}`);
  }
}

// How each call went, for the store's health metrics (observed.ts reports them).
/** `operation` label: the Storage method called (`unlock` is a held lock's release). */
export const STORAGE_OPERATIONS = ['get', 'get_many', 'put', 'delete', 'list', 'append_log', 'read_log', 'lock', 'unlock', 'ping'] as const;
export type StorageOperation = (typeof STORAGE_OPERATIONS)[number];

/**
 * `result` label: `conflict` (a compare-and-set lost: STATE_CONFLICT) and `busy` (a lock held by
 * another agent past the wait: LOCK_TIMEOUT) are answers of a working store; `error` is anything else.
 */
export const STORAGE_RESULTS = ['success', 'conflict', 'busy', 'error'] as const;
export type StorageResult = (typeof STORAGE_RESULTS)[number];

export interface StorageObservation {
  /** The backend type: `file`, `postgres`, `kubernetes`. */
  backend: string;
  operation: StorageOperation;
  result: StorageResult;
  seconds: number;
}

export interface StorageObserver {
  /** Every finished call; one cancelled by its caller's signal is not reported. */
  onOperation(observation: StorageObservation): void;
  /** A held lock's lease could not be kept (its `lost` signal fired). */
  onLockLost?(backend: string): void;
}
