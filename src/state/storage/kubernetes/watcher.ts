// Noticing other agents' writes: the informer pattern on this store's Secrets and ConfigMaps (one
// list, then a watch from the list's resourceVersion, resumed where it left off when the
// connection ends, listed again when the API says the version is too old). Each object's keys and
// versions are remembered, so an event becomes the keys that changed in it; an object last written
// by this Storage instance is skipped (`isOwn`). After a re-list every listener is told its own
// prefix: anything under it may have changed while the watch was away. Besides, every poll
// interval a list is compared with what was seen (the contract's poll: a notice that never came
// is still reported); with `notices: false` that poll is all there is.

import type { KubeConfig } from '@kubernetes/client-node';
import type { Clock } from '../../../core/clock.js';
import type { Logger } from '../../../core/logger.js';
import type { KubeApi } from './api.js';
import type { ObjectKind } from './names.js';
import { decodeObject, type KubeObject } from './objects.js';

/** A watch request lasts this long on the server before it is resumed (real API servers cap it too). */
const WATCH_SECONDS = 240;
const BACKOFF_MS = [100, 500, 2_000, 5_000];

interface WatchLike {
  watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, object: unknown) => void,
    done: (error: unknown) => void,
  ): Promise<AbortController>;
}

export interface WatcherOptions {
  api: KubeApi;
  config: KubeConfig;
  /** client-node's Watch class, from the lazily loaded library. */
  Watch: new (config: KubeConfig) => WatchLike;
  labelSelector: string;
  /** Whether to watch (notices); without, only the poll reports changes. */
  notices: boolean;
  /** How often a list is compared with what was seen. */
  pollIntervalMs: number;
  /** True when this key's change (its new version, or undefined: removed) was this instance's own write. */
  isOwn(key: string, version: string | undefined): boolean;
  clock: Clock;
  logger: Logger;
  deliver(key: string): void;
  deliverPrefixes(): void;
}

export class ObjectWatcher {
  private readonly stop = new AbortController();
  private readonly running: Promise<void>[];
  private readonly connections = new Set<AbortController>();
  /** Per kind: object name → its keys and their versions, as last seen. */
  private readonly seen = new Map<ObjectKind, Map<string, Map<string, string>>>();

  constructor(private readonly options: WatcherOptions) {
    this.running = (['secrets', 'configmaps'] as const).map((kind) => (options.notices ? this.run(kind) : Promise.resolve()));
    this.running.push(this.poll());
  }

  /** Every poll interval: list, and report what differs from what was seen (a notice lost, or none at all). */
  private async poll(): Promise<void> {
    const { api, clock, logger, pollIntervalMs } = this.options;
    let baseline = !this.options.notices; // the watch's own list is the baseline when it runs
    for (;;) {
      if (baseline) {
        for (const kind of ['secrets', 'configmaps'] as const) {
          const items = await api.list(kind, this.options.labelSelector).then(
            (list) => list.items,
            () => undefined,
          );
          if (items && !this.seen.has(kind)) this.seen.set(kind, new Map(items.map((item) => [item.metadata?.name ?? '', this.versionsOf(kind, item)])));
        }
        baseline = false;
      }
      try {
        await clock.sleep(pollIntervalMs, this.stop.signal);
      } catch {
        return;
      }
      for (const kind of ['secrets', 'configmaps'] as const) {
        try {
          const { items } = await api.list(kind, this.options.labelSelector);
          if (this.stop.signal.aborted) return;
          const names = new Set<string>();
          for (const item of items) {
            names.add(item.metadata?.name ?? '');
            this.onEvent(kind, 'MODIFIED', item);
          }
          for (const name of [...(this.seen.get(kind)?.keys() ?? [])]) if (!names.has(name)) this.onEvent(kind, 'DELETED', { metadata: { name } });
        } catch (error) {
          if (this.stop.signal.aborted) return;
          logger.warn({ kind, err: error instanceof Error ? error.message : String(error) }, `polling ${kind} failed; trying again in ${pollIntervalMs} ms`);
        }
      }
    }
  }

  async close(): Promise<void> {
    this.stop.abort();
    for (const connection of this.connections) connection.abort();
    await Promise.allSettled(this.running);
  }

  private async run(kind: ObjectKind): Promise<void> {
    const { api, clock, logger } = this.options;
    let failures = 0;
    let resourceVersion: string | undefined;
    let listed = false;
    while (!this.stop.signal.aborted) {
      try {
        if (resourceVersion === undefined) {
          const list = await api.list(kind, this.options.labelSelector);
          const objects = new Map<string, Map<string, string>>();
          for (const item of list.items) objects.set(item.metadata?.name ?? '', this.versionsOf(kind, item));
          const before = this.seen.get(kind);
          this.seen.set(kind, objects);
          resourceVersion = list.resourceVersion;
          // The first list is the baseline; a later one follows a gap in which anything may have changed.
          if (listed && before) this.options.deliverPrefixes();
          listed = true;
        }
        const ended = await this.watchOnce(kind, resourceVersion);
        if (ended.expired) resourceVersion = undefined;
        else resourceVersion = ended.resourceVersion;
        failures = 0;
      } catch (error) {
        if (this.stop.signal.aborted) return;
        resourceVersion = undefined;
        const wait = BACKOFF_MS[Math.min(failures++, BACKOFF_MS.length - 1)]!;
        logger.warn({ kind, err: error instanceof Error ? error.message : String(error) }, `watching ${kind} failed; listing again in ${wait} ms`);
        await clock.sleep(wait, this.stop.signal).catch(() => undefined);
      }
    }
  }

  /** One watch request, until the server ends it; the last resourceVersion seen, or expired (410). */
  private watchOnce(kind: ObjectKind, from: string): Promise<{ resourceVersion: string; expired: boolean }> {
    const { api, config, Watch } = this.options;
    return new Promise((resolve, reject) => {
      let last = from;
      let expired = false;
      const watch = new Watch(config);
      // client-node ends a watch that is silent for 30 s; an idle store is silent for hours.
      const shape = watch as unknown as { requestTimeoutMs?: unknown };
      if (typeof shape.requestTimeoutMs === 'number') shape.requestTimeoutMs = (WATCH_SECONDS + 30) * 1000;
      const seconds = typeof shape.requestTimeoutMs === 'number' ? WATCH_SECONDS : 25;
      const path = `/api/v1/namespaces/${encodeURIComponent(api.namespace)}/${kind}`;
      watch
        .watch(
          path,
          { labelSelector: this.options.labelSelector, resourceVersion: from, timeoutSeconds: seconds, allowWatchBookmarks: true },
          (phase, object) => {
            const item = object as KubeObject & { code?: number };
            if (phase === 'ERROR') {
              if (item.code === 410) expired = true;
              return;
            }
            if (item.metadata?.resourceVersion) last = item.metadata.resourceVersion;
            if (phase === 'BOOKMARK') return;
            this.onEvent(kind, phase, item);
          },
          (error) => {
            if (error && !this.stop.signal.aborted) reject(error instanceof Error ? error : new Error(String(error)));
            else resolve({ resourceVersion: last, expired });
          },
        )
        .then((controller) => {
          this.connections.add(controller);
          controller.signal.addEventListener('abort', () => this.connections.delete(controller), { once: true });
          if (this.stop.signal.aborted) controller.abort();
        }, reject);
    });
  }

  private onEvent(kind: ObjectKind, phase: string, object: KubeObject): void {
    const name = object.metadata?.name ?? '';
    const objects = this.seen.get(kind) ?? new Map<string, Map<string, string>>();
    this.seen.set(kind, objects);
    const before = objects.get(name) ?? new Map<string, string>();
    let after: Map<string, string>;
    try {
      after = phase === 'DELETED' ? new Map() : this.versionsOf(kind, object);
    } catch (error) {
      this.options.logger.warn({ object: name, err: error instanceof Error ? error.message : String(error) }, 'a watched object does not parse; ignored');
      return;
    }
    if (phase === 'DELETED') objects.delete(name);
    else objects.set(name, after);
    // The first sight of an object (no baseline yet for it from a list) reports its keys too.
    for (const [key, version] of after) if (before.get(key) !== version && !this.options.isOwn(key, version)) this.options.deliver(key);
    for (const key of before.keys()) if (!after.has(key) && !this.options.isOwn(key, undefined)) this.options.deliver(key);
  }

  private versionsOf(kind: ObjectKind, object: KubeObject): Map<string, string> {
    const state = decodeObject(kind, object, object.metadata?.name ?? '');
    return new Map([...state.entries].map(([key, stored]) => [key, stored.version]));
  }
}
