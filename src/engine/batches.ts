// The agent's renewal batches: certificates whose timers came due queue here and run through the
// engine in slices of at most MAX_BATCH (the engine bounds concurrency inside one). After each
// batch the host hears the fresh status rows and the outcomes, and re-arms each certificate; a
// batch that throws (not a certificate's failure) pauses the next ones with a growing backoff.

import type { Clock } from '../core/clock.js';
import { describeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { EngineDeps } from './contracts.js';
import type { CertOutcome } from '../observe/stream.js';
import { renew } from './renew.js';
import { statusRows, type StatusRow } from './status.js';

/**
 * Certificates handed to one engine run. The engine reads every certificate of a run (with its
 * key) before running any, so a fleet-wide deploy (a sink added to 10,000 certificates) goes in
 * slices: memory stays bounded and the first deploys start at once.
 */
export const MAX_BATCH = 100;

export interface BatchHost {
  clock: Clock;
  logger: Logger;
  /** The running wiring (read again for every batch: a reload may have replaced it). */
  deps(): EngineDeps;
  /** False on a follower, which runs no batches. */
  isLeader?(): boolean;
  /** The last status rows, for a certificate whose state cannot be read. */
  lastRows(): StatusRow[];
  /** After a batch: every configured certificate's latest row, with the batch's fresh ones. */
  onStatus(rows: StatusRow[]): void;
  /** After a batch: each certificate's outcome, with its status rows before and after. */
  onOutcome(outcome: CertOutcome, before: StatusRow | undefined, after: StatusRow | undefined, now: Date): void;
  /** Arms a batch's certificates again; `brokenBatches` counts batches that threw, in a row. */
  rearm(rows: StatusRow[], now: Date, brokenBatches: number): void;
}

export class RenewalBatches {
  private readonly pending = new Set<string>();
  private runningBatches: Promise<void> | undefined;
  private controller: AbortController | undefined;
  /** Batches that threw (not a certificate's failure: e.g. the state dir unwritable), in a row. */
  private brokenBatches = 0;
  private stopped = false;

  constructor(private readonly host: BatchHost) {}

  /** While batches run or are queued: settles when they are done. */
  get running(): Promise<void> | undefined {
    return this.runningBatches;
  }

  enqueue(name: string): void {
    if (this.stopped) return;
    this.pending.add(name);
    this.runningBatches ??= this.drain().finally(() => {
      this.runningBatches = undefined;
      if (this.pending.size > 0 && !this.stopped) this.enqueue([...this.pending][0]!);
    });
  }

  /** No new batch starts; the queued certificates are dropped. The running one goes on (see abort). */
  stop(): void {
    this.stopped = true;
    this.pending.clear();
  }

  /** Aborts the running batch (its TXT records are still cleaned up). */
  abort(reason: Error): void {
    this.controller?.abort(reason);
  }

  private async drain(): Promise<void> {
    const { clock, logger } = this.host;
    // Let timers that fire together join one batch.
    await clock.sleep(0);
    while (this.pending.size > 0 && !this.stopped) {
      if (this.host.isLeader?.() === false) {
        this.pending.clear(); // lost the lease: the leader renews these; plan() re-arms on taking over
        break;
      }
      const deps = this.host.deps();
      const configured = new Set(deps.config.certificates.map((c) => c.name));
      const names: string[] = [];
      for (const name of this.pending) {
        if (names.length >= MAX_BATCH) break;
        this.pending.delete(name);
        if (configured.has(name)) names.push(name);
      }
      if (names.length === 0) continue;
      const before = new Map((await this.safeRows(deps, names)).map((row) => [row.name, row]));
      this.controller = new AbortController();
      let outcomes: CertOutcome[] | undefined;
      try {
        const report = await renew({ certs: names, signal: this.controller.signal }, deps);
        outcomes = report.outcomes;
        if (report.storeError) {
          // The store failed under some of them: nothing was recorded for those, so pause as below.
          this.brokenBatches++;
          logger.error({ certs: names, err: describeError(report.storeError) }, 'the state store failed during a renewal batch');
        } else {
          this.brokenBatches = 0;
        }
      } catch (error) {
        // Isolated: logged, and the certificates are tried again after a growing pause, so a
        // broken state dir or a stuck lock does not spin.
        this.brokenBatches++;
        logger.error({ certs: names, err: describeError(error) }, 'renewal batch failed unexpectedly');
      } finally {
        this.controller = undefined;
      }
      const rows = await this.safeRows(deps, names);
      this.host.onStatus(this.withFresh(rows, deps));
      const now = clock.now();
      const after = new Map(rows.map((row) => [row.name, row]));
      for (const outcome of outcomes ?? []) this.host.onOutcome(outcome, before.get(outcome.cert), after.get(outcome.cert), now);
      this.host.rearm(rows, now, this.brokenBatches);
    }
  }

  /** The latest rows of every configured certificate, with `fresh` in place of the ones a batch just read. */
  private withFresh(fresh: StatusRow[], deps: EngineDeps): StatusRow[] {
    const rows = new Map(this.host.lastRows().map((row) => [row.name, row]));
    for (const row of fresh) rows.set(row.name, row);
    return deps.config.certificates.map((c) => rows.get(c.name)).filter((row): row is StatusRow => row !== undefined);
  }

  /** The status rows of `certs` (a batch), or the last known ones when the state cannot be read. */
  private async safeRows(deps: EngineDeps, certs: string[]): Promise<StatusRow[]> {
    try {
      return await statusRows(deps, { certs });
    } catch (error) {
      this.host.logger.error({ err: describeError(error) }, 'reading status failed');
      const wanted = new Set(certs);
      return this.host.lastRows().filter((row) => wanted.has(row.name));
    }
  }
}
