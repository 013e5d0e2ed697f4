// The TXT batcher: coalesces the records that many certificates present (or clean up) within a
// short window into one change per zone, split at the provider's limits, and — when given a
// propagation check — waits for propagation once per batch. A batch the provider refuses because
// of some records is written again without them (those go through the provider's single-record
// path), so one certificate's DNS failure does not fail the others in its batch.
//
// It sits between the challenge loop and a provider with `batch` (Route53, RFC 2136): the loop
// still calls presentTxt/cleanupTxt per record, and each call settles with its own record.

import type { Clock } from '../core/clock.js';
import { throwIfAborted } from '../core/clock.js';
import { CertkeeperError, describeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { TxtBatchRejected, type DnsProvider, type TxtBatchAction, type TxtBatchLimits, type TxtBatchSupport, type TxtRecord } from './contract.js';

/** Checks that written records are visible; per record, undefined or its error. */
export type ConfirmPropagation = (records: readonly TxtRecord[], signal: AbortSignal | undefined) => Promise<(Error | undefined)[]>;

export interface TxtBatcherOptions {
  clock: Clock;
  logger: Logger;
  /** Run once per written `present` batch; absent: presentTxt resolves once written. */
  confirm?: ConfirmPropagation | undefined;
}

/** Counts for logs and benchmarks. */
export interface TxtBatcherStats {
  /** Batches handed to the provider (each one request, or one per provider limit it hit). */
  batches: number;
  /** Records written through the single-record path after a batch refused them. */
  singles: number;
  /** Propagation checks run (one per present batch). */
  propagationChecks: number;
}

interface Item {
  action: TxtBatchAction;
  record: TxtRecord;
  signal: AbortSignal | undefined;
  settled: boolean;
  settle(error?: unknown): void;
}

type BatchingProvider = DnsProvider & { batch: TxtBatchSupport };

export function supportsBatches(provider: DnsProvider): provider is BatchingProvider {
  return provider.batch !== undefined;
}

export class TxtBatcher {
  readonly stats: TxtBatcherStats = { batches: 0, singles: 0, propagationChecks: 0 };
  private readonly queues: Record<TxtBatchAction, Set<Item>> = { present: new Set(), cleanup: new Set() };
  private readonly timers: Record<TxtBatchAction, boolean> = { present: false, cleanup: false };
  /** Presents cancelled while still queued (never written), until their cleanup comes. */
  private readonly unwritten = new Set<string>();

  constructor(
    private readonly provider: BatchingProvider,
    private readonly options: TxtBatcherOptions,
  ) {}

  /** Queues one record; settles when its batch (or its single write) is done, or at once on abort. */
  submit(action: TxtBatchAction, record: TxtRecord, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    // A present cancelled before its batch was written left nothing to remove: after a Ctrl-C in
    // a large run, that is most of the records, and each would cost a refused batch and a read.
    if (action === 'cleanup' && this.unwritten.delete(recordKey(record))) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const queue = this.queues[action];
      const onAbort = (): void => {
        // Still queued: never written. Already in a batch: the batch goes on (the caller cleans up).
        if (queue.delete(item) && action === 'present') this.unwritten.add(recordKey(record));
        item.settle(new CertkeeperError('CANCELLED', `${action} of TXT ${record.fqdn} cancelled`, { cause: signal?.reason }));
      };
      const item: Item = {
        action,
        record,
        signal,
        settled: false,
        settle(error) {
          if (item.settled) return;
          item.settled = true;
          signal?.removeEventListener('abort', onAbort);
          if (error === undefined) resolve();
          else reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.add(item);
      this.schedule(action);
    });
  }

  private schedule(action: TxtBatchAction): void {
    const { limits, windowMs } = this.provider.batch;
    // A full request's worth is written at once; the rest waits for the window.
    if (this.queues[action].size >= limits.maxRecords) {
      void this.flush(action);
      return;
    }
    if (this.timers[action]) return;
    this.timers[action] = true;
    void this.options.clock.sleep(windowMs).then(() => {
      this.timers[action] = false;
      return this.flush(action);
    });
  }

  private async flush(action: TxtBatchAction): Promise<void> {
    const items = [...this.queues[action]];
    this.queues[action].clear();
    if (items.length === 0) return;
    const byZone = new Map<string, Item[]>();
    await Promise.all(
      items.map(async (item) => {
        try {
          const zone = await this.provider.batch.zoneOf(item.record, item.signal);
          byZone.set(zone, [...(byZone.get(zone) ?? []), item]);
        } catch (error) {
          item.settle(error);
        }
      }),
    );
    await Promise.all(
      [...byZone].flatMap(([zone, zoneItems]) =>
        splitAtLimits(zoneItems, action, this.provider.batch.limits).map((part) => this.writePart(action, zone, part)),
      ),
    );
  }

  /** Writes `part` as one batch; on a refusal, again without the culprits (bisecting when unnamed). */
  private async writePart(action: TxtBatchAction, zone: string, part: Item[]): Promise<void> {
    const live = part.filter((item) => !item.settled);
    if (live.length === 0) return;
    const signal = whenAllAborted(live.map((item) => item.signal));
    try {
      this.stats.batches++;
      await this.provider.batch.write(
        action,
        zone,
        live.map((item) => item.record),
        signal,
      );
    } catch (error) {
      if (!(error instanceof TxtBatchRejected)) {
        for (const item of live) item.settle(error);
        return;
      }
      const named = error.culprits ? live.filter((item) => error.culprits!.some((culprit) => sameRecord(culprit, item.record))) : [];
      this.options.logger.warn(
        { provider: this.provider.name, zone, action, records: live.length, culprits: named.map((item) => item.record.fqdn), err: describeError(error) },
        'a TXT batch was refused; writing it again without the refused records',
      );
      if (live.length === 1 || named.length === live.length) {
        await Promise.all(live.map((item) => this.single(item)));
      } else if (named.length > 0) {
        await Promise.all([
          this.writePart(
            action,
            zone,
            live.filter((item) => !named.includes(item)),
          ),
          ...named.map((item) => this.single(item)),
        ]);
      } else {
        // The provider did not say which record: halves, until the refused one stands alone.
        const [left, right] = halves(live);
        await Promise.all([this.writePart(action, zone, left), this.writePart(action, zone, right)]);
      }
      return;
    }
    await this.written(action, live, signal);
  }

  /** A record a batch refused, through the provider's own one-record path (which may merge, re-read…). */
  private async single(item: Item): Promise<void> {
    if (item.settled) return;
    this.stats.singles++;
    try {
      if (item.action === 'present') await this.provider.presentTxt(item.record, item.signal);
      else await this.provider.cleanupTxt(item.record, item.signal);
    } catch (error) {
      item.settle(error);
      return;
    }
    await this.written(item.action, [item], item.signal);
  }

  private async written(action: TxtBatchAction, items: Item[], signal: AbortSignal | undefined): Promise<void> {
    const { confirm } = this.options;
    if (action !== 'present' || !confirm) {
      for (const item of items) item.settle();
      return;
    }
    const live = items.filter((item) => !item.settled);
    if (live.length === 0) return;
    this.stats.propagationChecks++;
    try {
      const results = await confirm(
        live.map((item) => item.record),
        signal,
      );
      live.forEach((item, index) => item.settle(results[index]));
    } catch (error) {
      for (const item of live) item.settle(error);
    }
  }
}

/**
 * `provider` with its presents and cleanups going through a batcher; every other property as
 * the provider's. With `confirm`, presentTxt resolves once the record is visible everywhere.
 */
export function batchingProvider(provider: BatchingProvider, options: TxtBatcherOptions): DnsProvider & { batcher: TxtBatcher } {
  const batcher = new TxtBatcher(provider, options);
  return {
    name: provider.name,
    batcher,
    propagationNameservers: provider.propagationNameservers,
    propagationTimeoutMs: provider.propagationTimeoutMs,
    propagationIntervalMs: provider.propagationIntervalMs,
    presentWaitsForPropagation: options.confirm !== undefined,
    presentTxt: (record, signal) => batcher.submit('present', record, signal),
    cleanupTxt: (record, signal) => batcher.submit('cleanup', record, signal),
  };
}

/**
 * Parts no larger than the limits, in order; the records of one name stay in one part (Route53
 * allows one change per record set in a request, and an apex and its wildcard share a name).
 */
function splitAtLimits(items: Item[], action: TxtBatchAction, limits: TxtBatchLimits): Item[][] {
  const byName = new Map<string, Item[]>();
  for (const item of items) byName.set(item.record.fqdn, [...(byName.get(item.record.fqdn) ?? []), item]);
  const parts: Item[][] = [];
  let current: Item[] = [];
  let cost = 0;
  for (const group of byName.values()) {
    const groupCost = group.reduce((sum, item) => sum + limits.cost(item.record, action), 0);
    if (current.length > 0 && (current.length + group.length > limits.maxRecords || cost + groupCost > limits.maxCost)) {
      parts.push(current);
      current = [];
      cost = 0;
    }
    current.push(...group);
    cost += groupCost;
  }
  if (current.length > 0) parts.push(current);
  return parts;
}

/** Two halves, a name's records kept together where the name boundaries allow. */
function halves(items: Item[]): [Item[], Item[]] {
  let middle = Math.ceil(items.length / 2);
  while (middle < items.length && items[middle]!.record.fqdn === items[middle - 1]!.record.fqdn) middle++;
  if (middle >= items.length) middle = Math.ceil(items.length / 2);
  return [items.slice(0, middle), items.slice(middle)];
}

function recordKey(record: TxtRecord): string {
  return `${record.fqdn}\u0000${record.value}`;
}

function sameRecord(a: TxtRecord, b: TxtRecord): boolean {
  return a.fqdn === b.fqdn && a.value === b.value;
}

/** A signal that aborts once every one of `signals` has (never, when one of them is absent). */
function whenAllAborted(signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  if (signals.some((signal) => signal === undefined)) return undefined;
  const controller = new AbortController();
  let left = signals.length;
  for (const signal of signals as AbortSignal[]) {
    if (signal.aborted) left--;
    else
      signal.addEventListener(
        'abort',
        () => {
          if (--left === 0) controller.abort(signal.reason);
        },
        { once: true },
      );
  }
  if (left === 0) controller.abort();
  return controller.signal;
}
