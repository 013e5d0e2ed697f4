// `watch` for PostgreSQL, the push half: one dedicated connection (outside the pool) doing LISTEN
// on the schema's channel; every put and delete notifies it with the key in the same statement,
// so the notice goes out exactly when the write commits. PostgreSQL keeps no notices for a
// listener that is away, so after a dropped connection comes back every watcher is called once
// with its own prefix: "anything under here may have changed; re-read it". A notice lost without
// the connection dropping (a pooler in transaction mode, where LISTEN does not work; a write
// outside certkeeper) is found by the poll (poller.ts).

import pg from 'pg';
import type { Clock } from '../../../core/clock.js';
import type { CertkeeperError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import type { StorageKey } from '../contract.js';
import { Subscribers } from './subscribers.js';

export interface ListenerOptions {
  client: pg.ClientConfig;
  /** The NOTIFY channel (unquoted). */
  channel: string;
  clock: Clock;
  logger: Logger;
  /** How often an idle listening connection is checked with a query (default 30 s). */
  checkEveryMs?: number;
  error(action: string, error: unknown): CertkeeperError;
  /** This instance's writer token: notifications of its own writes (`<token> <key>`) are not delivered. */
  token: string;
}

const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5_000;

export class ChangeListener {
  private readonly subscriptions: Subscribers;
  private readonly closing = new AbortController();
  private running: Promise<void> | undefined;
  private client: pg.Client | undefined;

  constructor(private readonly options: ListenerOptions) {
    this.subscriptions = new Subscribers(options.logger);
  }

  subscribe(prefix: string, listener: (key: StorageKey) => void): () => void {
    const remove = this.subscriptions.add(prefix, listener);
    this.start();
    return () => {
      remove();
      // The last watcher gone: the connection goes too (run() sees no subscriptions and stops).
      if (this.subscriptions.size === 0) void this.client?.end().catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    this.closing.abort();
    void this.client?.end().catch(() => undefined);
    await this.running;
  }

  private start(): void {
    if (this.running || this.closing.signal.aborted) return;
    this.running = this.run().finally(() => {
      this.running = undefined;
      if (this.subscriptions.size > 0) this.start(); // subscribed again while it was stopping
    });
  }

  private async run(): Promise<void> {
    const { clock, logger } = this.options;
    let backoffMs = FIRST_BACKOFF_MS;
    let connectedBefore = false;
    while (!this.closing.signal.aborted && this.subscriptions.size > 0) {
      const client = new pg.Client(this.options.client);
      const ended = new Promise<void>((resolve) => {
        client.on('error', () => resolve()); // also keeps an idle connection's error from crashing the process
        client.on('end', () => resolve());
      });
      client.on('notification', (message) => {
        if (message.channel !== this.options.channel || message.payload === undefined) return;
        // `<writer token> <key>`: this instance's own writes are news to nobody here.
        const space = message.payload.indexOf(' ');
        if (space > 0 && message.payload.slice(0, space) === this.options.token) return;
        this.subscriptions.deliver(space > 0 ? message.payload.slice(space + 1) : message.payload);
      });
      try {
        await client.connect();
        await client.query(`LISTEN "${this.options.channel.replace(/"/g, '""')}"`);
        this.client = client;
        if (this.closing.signal.aborted) break;
        backoffMs = FIRST_BACKOFF_MS;
        if (connectedBefore) {
          logger.info({ channel: this.options.channel }, 'state change notifications resumed; watchers re-read');
          this.subscriptions.deliverPrefixes();
        }
        connectedBefore = true;
        await this.stayWhileHealthy(client, ended);
      } catch (error) {
        if (!this.closing.signal.aborted) logger.warn({ err: this.options.error('listen for state changes', error).message }, 'state change listener failed');
      } finally {
        this.client = undefined;
        // Not awaited: over a partitioned network `end` waits for a goodbye that never comes.
        void client.end().catch(() => undefined);
      }
      if (this.closing.signal.aborted || this.subscriptions.size === 0) break;
      logger.warn({ retryInMs: backoffMs }, 'state change listener disconnected; reconnecting');
      try {
        await clock.sleep(backoffMs, this.closing.signal);
      } catch {
        break;
      }
      backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
    }
  }

  /** Returns when the connection ends, fails a check, or the listener closes. */
  private async stayWhileHealthy(client: pg.Client, ended: Promise<void>): Promise<void> {
    const checkEveryMs = this.options.checkEveryMs ?? 30_000;
    for (;;) {
      const tick = new AbortController();
      const outcome = await Promise.race([
        ended.then(() => 'ended' as const),
        this.options.clock.sleep(checkEveryMs, AbortSignal.any([tick.signal, this.closing.signal])).then(
          () => 'check' as const,
          () => 'stop' as const,
        ),
      ]);
      tick.abort();
      if (outcome !== 'check' || this.subscriptions.size === 0) return;
      // A partition can leave the socket open with nobody behind it: a query with a deadline tells.
      await client.query({ text: 'SELECT 1', query_timeout: 5_000 } as pg.QueryConfig);
    }
  }
}
