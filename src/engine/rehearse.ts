// Rehearsals (`rehearse: { every: 7d }`): the daemon runs a dry run per certificate on that
// period — against the CA's staging twin when one is known or configured — proving CA
// reachability, DNS credentials, delegation and propagation weeks before the real renewal.
// Rehearsals spread over the period (a stable offset per certificate) and never run two at once
// against one CA (keyed by the directory the dry run goes to); due rehearsals against different
// CAs run together. A failure is a `rehearsal_failed` event (a warning, critical once the real
// renewal is due); the next success after one is `rehearsal_recovered`.
// All waits go through the injected clock.

import type { Clock } from '../core/clock.js';
import { describeError, isAbortError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { LastRehearsal } from '../core/status.js';
import type { AcmeSettings, Config } from '../config/load.js';
import { issuersFor } from '../config/issuers.js';
import type { AgentEvent } from '../observe/events.js';
import type { CertOutcome } from '../observe/stream.js';
import { nextRehearsalAt, rehearsalDirectory, rehearsalSeverity } from '../plan/rehearsal.js';
import type { StateStore } from '../state/contract.js';
import type { EngineDeps } from './contracts.js';
import { renew } from './renew.js';

/** The wait between looks at the schedule is capped, so a reload or clock jump is noticed. */
const MAX_WAIT_MS = 3_600_000;

export interface RehearserOptions {
  clock: Clock;
  logger: Logger;
  /** The config in force now (it changes on reload); undefined or no `rehearse` → nothing to do. */
  config(): Config | undefined;
  /** Engine dependencies for a config, built without an event listener: a dry run's progress is no renewal's, and it alerts only through `onEvent`. */
  wire(config: Config): Promise<EngineDeps>;
  onEvent?(event: AgentEvent): void;
  /** Every finished rehearsal, for metrics. */
  onResult?(cert: string, result: 'success' | 'failure'): void;
  /** With several replicas only the leader rehearses. */
  isLeader?(): boolean;
}

/**
 * The CA settings and directory a dry run of `certName` uses: its first issuer (`issuers:` on the
 * certificate, else the config's first), routed to that issuer's staging twin.
 */
export function dryRunTarget(config: Config, certName?: string): { settings: AcmeSettings; directoryUrl: string } {
  const spec = certName === undefined ? undefined : config.certificates.find((c) => c.name === certName);
  const settings = (spec ? issuersFor(config.issuers, spec.issuers)[0] : undefined) ?? config.acme;
  return { settings, directoryUrl: rehearsalDirectory(settings.directoryUrl, settings.stagingDirectoryUrl).url };
}

/** What the per-CA cap keys on: the directory a certificate's dry run goes to. */
export function rehearsalCa(config: Config, certName: string): string {
  return dryRunTarget(config, certName).directoryUrl.replace(/\/+$/, '');
}

/**
 * The rehearsals to run together now: from `due` (most overdue first), the first one of each CA.
 * The rest wait for the next pass, so one CA never sees two rehearsals at once.
 */
export function rehearsalBatch(due: readonly { name: string; ca: string }[]): string[] {
  const taken = new Set<string>();
  const batch: string[] = [];
  for (const { name, ca } of due) {
    if (taken.has(ca)) continue;
    taken.add(ca);
    batch.push(name);
  }
  return batch;
}

/**
 * The latest dry run of each named certificate, from history (so a restart does not rehearse
 * everything again). The store answers from an index, not by reading the whole history.
 */
export async function lastRehearsals(store: Pick<StateStore, 'lastDryRuns'>, names: string[]): Promise<Map<string, LastRehearsal>> {
  const all = await store.lastDryRuns();
  const found = new Map<string, LastRehearsal>();
  for (const name of names) {
    const last = all.get(name);
    if (last) found.set(name, { at: last.at, result: last.result, error: last.error });
  }
  return found;
}

export class Rehearser {
  private readonly controller = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly startedAt: Date;
  private readonly last = new Map<string, LastRehearsal>();
  /** Certificates whose latest rehearsal failed (for `rehearsal_recovered`). */
  private readonly failing = new Set<string>();
  private seeded = false;
  private deps: { config: Config; deps: Promise<EngineDeps> } | undefined;
  /** Wakes the loop early (reload). */
  private wake: AbortController = new AbortController();
  private poked = false;
  /** The pass in progress (seeding or rehearsing), for idle(). */
  private busy: Promise<unknown> | undefined;

  constructor(private readonly options: RehearserOptions) {
    this.startedAt = options.clock.now();
  }

  start(): void {
    this.loop ??= this.run().catch((error: unknown) => {
      if (!isAbortError(error)) this.options.logger.error({ err: describeError(error) }, 'rehearsals stopped unexpectedly');
    });
  }

  /** Re-reads the schedule now (after a reload). */
  poke(): void {
    this.poked = true;
    this.wake.abort();
  }

  /** Stops waiting and abandons a rehearsal in flight (its TXT records are cleaned up). */
  async stop(): Promise<void> {
    this.controller.abort();
    this.wake.abort();
    await this.loop;
  }

  /** Resolves once no rehearsal is running (tests). */
  async idle(): Promise<void> {
    while (this.busy) await this.busy.catch(() => undefined);
  }

  /** When each certificate rehearses next (for tests and logs). */
  schedule(now = this.options.clock.now()): Map<string, Date> {
    const config = this.options.config();
    const everyMs = config?.daemon.rehearseEveryMs;
    const due = new Map<string, Date>();
    if (!config || everyMs === undefined) return due;
    for (const spec of config.certificates) {
      const last = this.last.get(spec.name);
      due.set(spec.name, nextRehearsalAt({ everyMs, seed: spec.name, startedAt: this.startedAt, lastAt: last ? new Date(last.at) : null, now }));
    }
    return due;
  }

  private async run(): Promise<void> {
    const { clock } = this.options;
    const signal = this.controller.signal;
    while (!signal.aborted) {
      const config = this.options.config();
      if (config?.daemon.rehearseEveryMs !== undefined && !this.seeded) await this.track(this.seed(config));
      const now = clock.now();
      const schedule = this.schedule(now);
      const due = [...schedule]
        .filter(([, at]) => at.getTime() <= now.getTime())
        .sort(([a, x], [b, y]) => x.getTime() - y.getTime() || (a < b ? -1 : a > b ? 1 : 0))
        .map(([name]) => name);
      if (due.length > 0 && config && this.options.isLeader?.() !== false) {
        // At most one per CA in a pass; the others against the same CA wait for the next pass.
        // One renew() for the pass: it holds the state lock, so separate calls would not overlap anyway.
        const batch = rehearsalBatch(due.map((name) => ({ name, ca: rehearsalCa(config, name) })));
        if (signal.aborted) return;
        await this.track(this.rehearseAll(config, batch));
        continue;
      }
      const next = Math.min(...[...schedule.values()].map((at) => at.getTime()), now.getTime() + MAX_WAIT_MS);
      this.wake = new AbortController(); // stop() aborts it too
      if (this.poked) {
        // A reload arrived while this pass ran: look at the schedule again before waiting.
        this.poked = false;
        continue;
      }
      if (config?.daemon.rehearseEveryMs === undefined) {
        // Rehearsals are off: no timer at all, just wait for a reload (poke) or stop.
        const woken = this.wake.signal;
        await new Promise<void>((resolve) => woken.addEventListener('abort', () => resolve(), { once: true }));
        continue;
      }
      try {
        await clock.sleep(Math.max(1, Math.min(next - now.getTime(), MAX_WAIT_MS)), this.wake.signal);
      } catch (error) {
        if (signal.aborted) return;
        if (!isAbortError(error)) throw error;
      }
    }
  }

  private async track<T>(work: Promise<T>): Promise<T> {
    this.busy = work;
    try {
      return await work;
    } finally {
      if (this.busy === work) this.busy = undefined;
    }
  }

  private async seed(config: Config): Promise<void> {
    try {
      const deps = await this.depsFor(config);
      for (const [name, last] of await lastRehearsals(
        deps.store,
        config.certificates.map((c) => c.name),
      )) {
        this.last.set(name, last);
        if (last.result === 'failure') this.failing.add(name);
      }
    } catch (error) {
      this.options.logger.warn({ err: describeError(error) }, 'cannot read past rehearsals from history; rehearsing on the fresh schedule');
    }
    this.seeded = true;
  }

  private depsFor(config: Config): Promise<EngineDeps> {
    if (this.deps?.config !== config) this.deps = { config, deps: this.options.wire(config) };
    return this.deps.deps;
  }

  /** One dry run of one certificate, reported. Public for tests and a future "rehearse now". */
  async rehearse(config: Config, name: string): Promise<LastRehearsal> {
    return (await this.rehearseAll(config, [name])).get(name)!;
  }

  /** Dry runs of these certificates at once (the caller keeps them to one per CA), each reported. */
  private async rehearseAll(config: Config, names: string[]): Promise<Map<string, LastRehearsal>> {
    const { clock, logger } = this.options;
    const results = new Map<string, LastRehearsal>();
    let deps: EngineDeps | undefined;
    let outcomes: Map<string, CertOutcome> | undefined;
    let thrown: string | undefined;
    try {
      deps = await this.depsFor(config);
      for (const name of names) logger.info({ cert: name, directory: dryRunTarget(config, name).directoryUrl }, 'rehearsal: dry run');
      const report = await renew({ certs: names, dryRun: true, signal: this.controller.signal }, deps);
      outcomes = new Map(report.outcomes.map((outcome) => [outcome.cert, outcome]));
    } catch (error) {
      if (this.controller.signal.aborted) {
        for (const name of names) results.set(name, { at: clock.now().toISOString(), result: 'failure', error: 'cancelled' });
        return results;
      }
      thrown = describeError(error);
    }
    for (const name of names) {
      const outcome = outcomes?.get(name);
      const at = clock.now().toISOString();
      const result: LastRehearsal =
        outcome?.result === 'success' ? { at, result: 'success', error: null } : { at, result: 'failure', error: thrown ?? outcome?.error ?? 'no outcome' };
      results.set(name, result);
      if (outcome?.code === 'CANCELLED') continue; // shutdown: neither a failure nor a success
      await this.report(config, name, result, deps);
    }
    return results;
  }

  private async report(config: Config, name: string, result: LastRehearsal, deps: EngineDeps | undefined): Promise<void> {
    const { clock, logger } = this.options;
    const spec = config.certificates.find((c) => c.name === name);
    const directory = dryRunTarget(config, name).directoryUrl;
    this.last.set(name, result);
    this.options.onResult?.(name, result.result);
    const domains = spec?.domains ?? [];
    if (result.result === 'failure') {
      const stored = await deps?.store.peekCertificate(name).catch(() => undefined);
      const severity = spec ? rehearsalSeverity(stored?.info, spec.renewBefore, clock.now()) : { severity: 'warning' as const, message: '' };
      this.failing.add(name);
      logger.warn({ cert: name, directory, err: result.error }, 'rehearsal failed');
      this.emit({
        type: 'rehearsal_failed',
        at: result.at,
        cert: name,
        domains,
        severity: severity.severity,
        message: `${name}: rehearsal against ${directory} failed: ${result.error ?? ''} (${severity.message})`,
        error: result.error ?? '',
        action: 'dry-run',
        serial: stored?.info.serial ?? null,
        notAfter: stored?.info.notAfter.toISOString() ?? null,
      });
    } else {
      logger.info({ cert: name, directory }, 'rehearsal passed');
      if (this.failing.delete(name)) {
        this.emit({
          type: 'rehearsal_recovered',
          at: result.at,
          cert: name,
          domains,
          severity: 'info',
          message: `${name}: rehearsal against ${directory} passes again`,
          action: 'dry-run',
        });
      }
    }
  }

  private emit(event: AgentEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch (error) {
      this.options.logger.error({ err: describeError(error) }, 'event listener failed');
    }
  }
}
