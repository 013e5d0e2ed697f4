// KubernetesStorage: the storage contract on the API server of the cluster the agents run in
// (so on etcd), in one namespace. Which object holds which key is names.ts (a certificate is its
// Secret and its record ConfigMap); what an object contains is objects.ts; the calls are api.ts;
// locks are Leases (lease-lock.ts); other agents' writes arrive by watch (watcher.ts). Every
// write is read-modify-write guarded by the object's resourceVersion and, on a 409, re-read and
// tried again; a key's own version (what `ifVersion` compares) lives in the object beside it.

import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { systemClock, type Clock } from '../../../core/clock.js';
import { CertkeeperError, isCertkeeperError } from '../../../core/errors.js';
import { silentLogger, type Logger } from '../../../core/logger.js';
import { openKube, type KubeClients, type KubeConnectionOptions } from '../../../kube/client.js';
import { assertStorageKey } from '../contract.js';
import type { LockOptions, LogEntry, LogQuery, PutOptions, Storage, StorageKey, StorageLock, StoredValue } from '../contract.js';
import { KubeApi } from './api.js';
import { recordEvent } from './events.js';
import { acquireLease, type LeaseContext } from './lease-lock.js';
import { leaseName, PREFIX, placementOf, recordConfigMap, type ObjectKind, type Placement } from './names.js';
import {
  decodeObject,
  emptyState,
  encodeData,
  HOLDS_ANNOTATION,
  MANAGED_BY,
  STORE_LABEL,
  toLogEntry,
  WRITER_ANNOTATION,
  type KubeObject,
  type LogRow,
  type ObjectState,
} from './objects.js';
import { DETAIL_ANNOTATIONS, projectTls, TLS_TYPE, tlsMismatch } from './tls-projection.js';
import { ObjectWatcher } from './watcher.js';

export interface KubernetesStorageOptions extends KubeConnectionOptions {
  /** Default: the namespace of the kubeconfig context, or the pod's own in-cluster. */
  namespace?: string | undefined;
  /** Starts every object name, and labels the objects (default `certkeeper`). */
  prefix?: string;
  agentId?: string;
  lockTtlMs?: number;
  clock?: Clock;
  logger?: Logger;
  /** How often a lock waiter looks again (default 500 ms; sooner when the lease expires sooner). */
  lockPollMs?: number;
  /** Log entries kept per certificate and log in its record object (default 50; all go to the log and to Events). */
  logKeep?: number;
  /**
   * How often a watcher also lists and compares (the contract's poll; default 5 minutes: the
   * watch resumes from its resourceVersion after every disconnect and re-lists when the API says
   * it was away too long, so the poll is a safety net, and at 1,000 certificates each one reads
   * every object).
   */
  pollIntervalMs?: number;
  /** Whether to watch for notices (default true); without, only the poll reports changes. */
  notices?: boolean;
  /** An opened connection (tests); default: opened from the options. */
  clients?: KubeClients;
}

/** The poll besides the watch: a safety net (see pollIntervalMs). */
export const DEFAULT_KUBERNETES_POLL_MS = 5 * 60_000;

/** Read-modify-write rounds lost to other writers before giving up. */
const MAX_ROUNDS = 20;
/** Past this many objects getMany lists the kind instead of reading each. */
const LIST_THRESHOLD = 16;
const READ_CONCURRENCY = 8;
/** Objects remembered for writes: a certificate's Secret with its archive is under 100 KB. */
const SEEN_OBJECTS = 256;

export class KubernetesStorage implements Storage {
  readonly description: string;
  readonly namespace: string;
  readonly prefix: string;
  readonly lockTtlMs: number;
  private readonly api: KubeApi;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly holder: string;
  private readonly token = randomBytes(6).toString('hex');
  private readonly logKeep: number;
  private readonly held = new Set<StorageLock>();
  private readonly subscriptions = new Set<{ prefix: string; listener: (key: StorageKey) => void }>();
  private readonly lease: LeaseContext;
  private readonly library: { Watch: new (config: KubeConfig) => never };
  private watcher: ObjectWatcher | undefined;
  private readonly options: KubernetesStorageOptions;
  /** Keys this instance removed, until its watcher has seen them go. */
  private readonly deleted = new Map<string, number>();
  private writes = 0;
  /** Objects as last read or written here: where a write starts (see mutate). */
  private readonly seen = new Map<string, KubeObject>();
  private closed = false;

  /** Loads @kubernetes/client-node (only a kubernetes store pays for it) and connects. */
  static async open(options: KubernetesStorageOptions): Promise<KubernetesStorage> {
    const k8s = await import('@kubernetes/client-node');
    const clients = options.clients ?? (await openKube(options));
    return new KubernetesStorage(options, clients, k8s.V1MicroTime, k8s.Watch as never);
  }

  private constructor(
    options: KubernetesStorageOptions,
    clients: KubeClients,
    microTime: new (value: number) => Date,
    Watch: new (config: KubeConfig) => never,
  ) {
    this.options = options;
    this.prefix = options.prefix ?? 'certkeeper';
    if (!PREFIX.test(this.prefix)) {
      throw new CertkeeperError(
        'CONFIG_INVALID',
        `the kubernetes store prefix ${JSON.stringify(this.prefix)} must be lower-case letters, digits and "-" (a DNS label of at most 24)`,
        { retryable: false },
      );
    }
    this.namespace = options.namespace ?? clients.namespace;
    this.api = new KubeApi(clients, this.namespace);
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.lockTtlMs = options.lockTtlMs ?? 60_000;
    this.logKeep = options.logKeep ?? 50;
    this.holder = `${options.agentId ?? os.hostname()} (pid ${process.pid} on ${os.hostname()})`;
    this.description = `kubernetes:${clients.server} (namespace ${this.namespace}, prefix ${this.prefix})`;
    this.library = { Watch };
    this.lease = {
      api: this.api,
      prefix: this.prefix,
      holder: this.holder,
      clock: this.clock,
      logger: this.logger,
      pollMs: options.lockPollMs ?? 500,
      microTime,
      forget: (lock) => this.held.delete(lock),
    };
  }

  /** The label selector naming this store's objects. */
  get labelSelector(): string {
    return `${MANAGED_BY}=certkeeper,${STORE_LABEL}=${this.prefix}`;
  }

  where(key: StorageKey): string {
    const placement = placementOf(this.prefix, key);
    return `${this.api.where(placement.kind, placement.name)} (${key})`;
  }

  async get(key: StorageKey): Promise<StoredValue | undefined> {
    assertStorageKey(key);
    this.assertOpen();
    const placement = placementOf(this.prefix, key);
    const object = await this.api.read(placement.kind, placement.name);
    this.remember(`${placement.kind}/${placement.name}`, object);
    return object ? this.entry(placement, this.decode(placement, object), key) : undefined;
  }

  async getMany(keys: readonly StorageKey[]): Promise<Map<StorageKey, StoredValue>> {
    const unique = [...new Set(keys)];
    for (const key of unique) assertStorageKey(key);
    this.assertOpen();
    const byObject = new Map<string, { placement: Placement; keys: StorageKey[] }>();
    for (const key of unique) {
      const placement = placementOf(this.prefix, key);
      const id = `${placement.kind}/${placement.name}`;
      const group = byObject.get(id) ?? { placement, keys: [] };
      group.keys.push(key);
      byObject.set(id, group);
    }
    const objects = new Map<string, KubeObject>();
    const groups = [...byObject.entries()];
    const kinds = new Set(groups.map(([, group]) => group.placement.kind));
    for (const kind of kinds) {
      const ofKind = groups.filter(([, group]) => group.placement.kind === kind);
      if (ofKind.length > LIST_THRESHOLD) {
        // One list (paged) instead of a read per object: a fleet's `status` is two lists.
        const { items } = await this.api.list(kind, this.labelSelector);
        for (const item of items) objects.set(`${kind}/${item.metadata?.name ?? ''}`, item);
      } else {
        await inBatches(ofKind, READ_CONCURRENCY, async ([id, group]) => {
          const object = await this.api.read(kind, group.placement.name);
          if (object) objects.set(id, object);
        });
      }
    }
    const found = new Map<StorageKey, StoredValue>();
    for (const [id, group] of groups) {
      const object = objects.get(id);
      if (!object) continue;
      const state = this.decode(group.placement, object);
      for (const key of group.keys) {
        const stored = this.entry(group.placement, state, key);
        if (stored) found.set(key, stored);
      }
    }
    return found;
  }

  async put(key: StorageKey, value: Uint8Array, options: PutOptions = {}): Promise<string> {
    assertStorageKey(key);
    const { ifVersion } = options;
    return this.mutate(placementOf(this.prefix, key), (state) => {
      const current = state.entries.get(key);
      if (ifVersion === null && current) throw conflict(key, 'it exists already');
      if (ifVersion !== undefined && ifVersion !== null && current?.version !== ifVersion) throw conflict(key, 'it changed since it was read');
      const version = this.nextVersion();
      state.entries.set(key, { value: Uint8Array.from(value), version, modifiedAt: this.clock.now() });
      return { result: version, write: true };
    });
  }

  async delete(key: StorageKey, options: { ifVersion?: string } = {}): Promise<boolean> {
    assertStorageKey(key);
    const { ifVersion } = options;
    // No delete verb: the key leaves its object (an emptied object stays, a few hundred bytes).
    // Counted as ours before the write, so the watch never reports it, and uncounted if nothing went.
    this.deleted.set(key, (this.deleted.get(key) ?? 0) + 1);
    const removed = await this.mutate(placementOf(this.prefix, key), (state) => {
      const current = state.entries.get(key);
      if (ifVersion !== undefined && current?.version !== ifVersion) throw conflict(key, 'it changed since it was read');
      if (!current) return { result: false, write: false };
      state.entries.delete(key);
      return { result: true, write: true };
    }).catch((error: unknown) => {
      this.forgetDelete(key);
      throw error;
    });
    if (!removed) this.forgetDelete(key);
    return removed;
  }

  async list(prefix: string): Promise<StorageKey[]> {
    if (prefix !== '' && !prefix.endsWith('/')) throw new Error(`a list prefix ends with '/': ${prefix}`);
    if (prefix !== '') assertStorageKey(prefix.slice(0, -1));
    this.assertOpen();
    const keys: StorageKey[] = [];
    for (const kind of ['secrets', 'configmaps'] as const) {
      const { items } = await this.api.list(kind, this.labelSelector);
      for (const item of items) {
        const state = decodeObject(kind, item, this.api.where(kind, item.metadata?.name ?? ''));
        for (const key of state.entries.keys()) if (key.startsWith(prefix)) keys.push(key);
      }
    }
    return keys.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  }

  async appendLog(log: string, entry: LogEntry): Promise<void> {
    assertLogName(log);
    if (!(entry.at instanceof Date) || Number.isNaN(entry.at.getTime())) throw new TypeError(`a log entry needs a valid date (log ${log})`);
    const row: LogRow = { at: entry.at.toISOString(), subject: entry.subject, kind: entry.kind, body: entry.body };
    // The whole history goes to the agent's log (and an Event); the record object keeps the last few.
    this.logger.info({ log, subject: entry.subject, kind: entry.kind, entry: entry.body }, `${log} entry`);
    await this.mutate(recordConfigMap(this.prefix, entry.subject), (state) => {
      const rows = state.logs.get(log) ?? [];
      rows.push(row);
      const mine = rows.filter((r) => r.subject === entry.subject);
      const drop = new Set(mine.slice(0, Math.max(0, mine.length - this.logKeep)));
      state.logs.set(
        log,
        rows.filter((r) => !drop.has(r)),
      );
      return { result: undefined, write: true };
    });
    await recordEvent(this.api, this.prefix, log, entry, this.holder).catch((error: unknown) =>
      this.logger.warn(
        { log, subject: entry.subject, err: error instanceof Error ? error.message : String(error) },
        'could not create the Kubernetes Event of a log entry',
      ),
    );
  }

  async readLog(log: string, query: LogQuery = {}): Promise<LogEntry[]> {
    assertLogName(log);
    if (query.limit !== undefined && (!Number.isInteger(query.limit) || query.limit < 0))
      throw new RangeError(`a log limit is a whole number, not ${query.limit}`);
    this.assertOpen();
    if (query.limit === 0) return [];
    const objects: KubeObject[] = [];
    if (query.subject !== undefined) {
      const object = await this.api.read('configmaps', recordConfigMap(this.prefix, query.subject).name);
      if (object) objects.push(object);
    } else {
      objects.push(...(await this.api.list('configmaps', this.labelSelector)).items);
    }
    const rows: { row: LogRow; order: number }[] = [];
    for (const object of objects) {
      const state = decodeObject('configmaps', object, this.api.where('configmaps', object.metadata?.name ?? ''));
      (state.logs.get(log) ?? []).forEach((row, order) => {
        if (query.subject !== undefined && row.subject !== query.subject) return;
        if (query.kind !== undefined && row.kind !== query.kind) return;
        rows.push({ row, order });
      });
    }
    // Newest first; entries of one instant in reverse order of appending.
    rows.sort((x, y) => (x.row.at === y.row.at ? y.order - x.order : x.row.at < y.row.at ? 1 : -1));
    const limited = query.limit === undefined ? rows : rows.slice(0, query.limit);
    return limited.map(({ row }) => toLogEntry(row));
  }

  async lock(name: string, options: LockOptions): Promise<StorageLock> {
    assertStorageKey(name);
    this.assertOpen();
    const lock = await acquireLease(this.lease, leaseName(this.prefix, name), name, options);
    this.held.add(lock);
    return lock;
  }

  watch(prefix: string, listener: (key: StorageKey) => void): () => void {
    if (prefix !== '' && !prefix.endsWith('/')) throw new Error(`a watch prefix ends with '/': ${prefix}`);
    this.assertOpen();
    const subscription = { prefix, listener };
    this.subscriptions.add(subscription);
    this.watcher ??= new ObjectWatcher({
      api: this.api,
      config: this.api.clients.config,
      Watch: this.library.Watch,
      labelSelector: this.labelSelector,
      notices: this.options.notices ?? true,
      pollIntervalMs: this.options.pollIntervalMs ?? DEFAULT_KUBERNETES_POLL_MS,
      isOwn: (key, version) => this.isOwn(key, version),
      clock: this.clock,
      logger: this.logger,
      deliver: (key) => this.deliver(key, false),
      deliverPrefixes: () => this.deliver('', true),
    });
    return () => {
      this.subscriptions.delete(subscription);
      if (this.subscriptions.size === 0 && this.watcher) {
        const watcher = this.watcher;
        this.watcher = undefined;
        void watcher.close();
      }
    };
  }

  async ping(): Promise<void> {
    this.assertOpen();
    try {
      await this.api.read('configmaps', `${this.prefix}-ping`);
    } catch (error) {
      const mapped = error instanceof CertkeeperError ? error : this.api.failure(error, 'reach the API server');
      throw mapped.code === 'STATE_UNREACHABLE' ? mapped : new CertkeeperError('STATE_UNREACHABLE', mapped.message, { cause: mapped, details: mapped.details });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const lock of [...this.held]) {
      await lock
        .release()
        .catch((error: unknown) => this.logger.warn({ lock: lock.name, err: error instanceof Error ? error.message : String(error) }, 'lock left to expire'));
    }
    this.subscriptions.clear();
    await this.watcher?.close();
    this.watcher = undefined;
  }

  // ---- internals ----

  private assertOpen(): void {
    if (this.closed) throw new CertkeeperError('STATE_IO', `the state store ${this.description} is closed`);
  }

  private forgetDelete(key: string): void {
    const count = this.deleted.get(key) ?? 0;
    if (count <= 1) this.deleted.delete(key);
    else this.deleted.set(key, count - 1);
  }

  /** A version written by this instance starts with its token; a removal is ours if we made one. */
  private isOwn(key: string, version: string | undefined): boolean {
    if (version !== undefined) return version.startsWith(`${this.token}.`);
    const count = this.deleted.get(key);
    if (count === undefined) return false;
    if (count <= 1) this.deleted.delete(key);
    else this.deleted.set(key, count - 1);
    return true;
  }

  private nextVersion(): string {
    return `${this.token}.${(++this.writes).toString(36)}`;
  }

  /** A key's value; STATE_CORRUPT for the live version of a certificate whose Secret was changed outside certkeeper. */
  private entry(placement: Placement, state: ObjectState, key: StorageKey): StoredValue | undefined {
    if (placement.tls) {
      const mismatch = tlsMismatch(this.api.where(placement.kind, placement.name), key, projectTls(state.entries), state.tls);
      if (mismatch) throw mismatch;
    }
    return state.entries.get(key);
  }

  private decode(placement: Placement, object: KubeObject): ObjectState {
    return decodeObject(placement.kind, object, this.api.where(placement.kind, placement.name));
  }

  /**
   * Read, change, write over the resourceVersion read; a 409 (someone wrote the object first, or
   * created it) re-reads and applies the change again, so key-level compare-and-set is decided on
   * what is really there. `change` throws to refuse, or says there is nothing to write.
   */
  private async mutate<T>(placement: Placement, change: (state: ObjectState) => { result: T; write: boolean }): Promise<T> {
    this.assertOpen();
    const where = this.api.where(placement.kind, placement.name);
    const id = `${placement.kind}/${placement.name}`;
    // Start from the object as this instance last saw it (an object never seen: assumed absent,
    // so a new certificate costs one create, not a read and a create). Only a write guarded by
    // that resourceVersion trusts it; a 409, or any refusal or "nothing to do" decided on it, is
    // decided again on a fresh read.
    let object = this.seen.get(id);
    let fresh = false;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const state = object ? this.decode(placement, object) : emptyState();
      let decided: { result: T; write: boolean };
      try {
        decided = change(state);
      } catch (error) {
        if (fresh || !isCertkeeperError(error, 'STATE_CONFLICT')) throw error;
        decided = { result: undefined as T, write: false };
      }
      if (!decided.write) {
        if (fresh) return decided.result;
        ({ object, fresh } = await this.reread(placement, id));
        continue;
      }
      const body = this.body(placement, object, state, where);
      const written = object?.metadata?.resourceVersion
        ? await this.api.replace(placement.kind, { ...body, metadata: { ...body.metadata, resourceVersion: object.metadata.resourceVersion } })
        : await this.api.create(placement.kind, body);
      if (written !== 'conflict') {
        this.remember(id, written);
        return decided.result;
      }
      ({ object, fresh } = await this.reread(placement, id));
    }
    throw new CertkeeperError('STATE_CONFLICT', `not written: ${where} kept changing under us (${MAX_ROUNDS} conflicting writes in a row)`);
  }

  private async reread(placement: Placement, id: string): Promise<{ object: KubeObject | undefined; fresh: true }> {
    const object = await this.api.read(placement.kind, placement.name);
    this.remember(id, object);
    return { object, fresh: true };
  }

  /** The last version of an object this instance read or wrote (a few hundred, oldest forgotten first). */
  private remember(id: string, object: KubeObject | undefined): void {
    this.seen.delete(id);
    if (!object) return;
    this.seen.set(id, object);
    if (this.seen.size > SEEN_OBJECTS) this.seen.delete(this.seen.keys().next().value!);
  }

  private body(placement: Placement, previous: KubeObject | undefined, state: ObjectState, where: string): KubeObject & { metadata: { name: string } } {
    // A certificate's Secret carries its live material as tls.crt/tls.key; its type is fixed at
    // creation (immutable), so one created while nothing could be derived (sealed) stays Opaque.
    const projection = placement.tls ? projectTls(state.entries) : undefined;
    const type = previous?.type ?? (projection ? TLS_TYPE : 'Opaque');
    const derived: Record<string, string> = type === TLS_TYPE ? { 'tls.crt': projection?.crt ?? '', 'tls.key': projection?.key ?? '' } : {};
    const annotations = { ...previous?.metadata?.annotations };
    for (const name of DETAIL_ANNOTATIONS) delete annotations[name];
    return {
      metadata: {
        name: placement.name,
        labels: { ...previous?.metadata?.labels, [MANAGED_BY]: 'certkeeper', [STORE_LABEL]: this.prefix },
        annotations: { ...annotations, ...projection?.annotations, [HOLDS_ANNOTATION]: placement.holds, [WRITER_ANNOTATION]: this.token },
      },
      ...(placement.kind === 'secrets' ? { type } : {}),
      data: encodeData(placement.kind, state, where, derived),
    };
  }

  private deliver(key: string, prefixes: boolean): void {
    for (const { prefix, listener } of [...this.subscriptions]) {
      if (!prefixes && !key.startsWith(prefix)) continue;
      try {
        listener(prefixes ? prefix : key);
      } catch (error) {
        this.logger.warn({ key, err: error instanceof Error ? error.message : String(error) }, 'a state watcher threw; ignored');
      }
    }
  }
}

export type { ObjectKind };

function assertLogName(log: string): void {
  assertStorageKey(log);
  if (log.includes('/')) throw new Error(`a log name is one segment: ${log}`);
}

function conflict(key: string, why: string): CertkeeperError {
  return new CertkeeperError('STATE_CONFLICT', `not written: ${key}: ${why}`);
}

async function inBatches<T>(items: readonly T[], size: number, step: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await step(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
}
