// The watchers of one PostgresStorage, as the listener (NOTIFY) and the poller each keep them:
// a prefix and a listener each, called with the keys under the prefix; a listener that throws is
// logged and spoils nobody else's delivery.

import type { Logger } from '../../../core/logger.js';
import type { StorageKey } from '../contract.js';

interface Subscription {
  prefix: string;
  listener: (key: StorageKey) => void;
}

export class Subscribers {
  private readonly subscriptions = new Set<Subscription>();

  constructor(private readonly logger: Logger) {}

  get size(): number {
    return this.subscriptions.size;
  }

  /** Adds one; returns the function that removes it. */
  add(prefix: string, listener: (key: StorageKey) => void): () => void {
    const subscription = { prefix, listener };
    this.subscriptions.add(subscription);
    return () => void this.subscriptions.delete(subscription);
  }

  /** The distinct prefixes watched. */
  prefixes(): string[] {
    return [...new Set([...this.subscriptions].map((s) => s.prefix))];
  }

  /** Calls every listener whose prefix `key` is under. */
  deliver(key: StorageKey): void {
    for (const { prefix, listener } of [...this.subscriptions]) {
      if (key.startsWith(prefix)) this.call(listener, key);
    }
  }

  /** Calls every listener with its own prefix: "anything under here may have changed; re-read it". */
  deliverPrefixes(): void {
    for (const { prefix, listener } of [...this.subscriptions]) this.call(listener, prefix);
  }

  private call(listener: (key: StorageKey) => void, key: StorageKey): void {
    try {
      listener(key);
    } catch (error) {
      this.logger.warn({ key, err: error instanceof Error ? error.message : String(error) }, 'a state watcher threw; ignored');
    }
  }
}
