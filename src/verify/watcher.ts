// The Watcher behind `watch:`: probes endpoints certkeeper does not manage on an interval (the
// injected clock), judges each (reachable, trusted, name, expiry against the alert thresholds),
// notes drift against the managed certificates, emits agent events and keeps the latest results
// — in memory for metrics, and in <stateDir>/watch.json for `status`. Started by `certkeeper run`.

import type { AgentData } from '../state/contract.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../core/clock.js';
import { z } from 'zod';
import { describeError, isAbortError, isCertkeeperError, toCertkeeperError } from '../core/errors.js';
import { atomicWriteFile } from '../core/fs-atomic.js';
import type { Logger } from '../core/logger.js';
import { TLS_PROTOCOLS } from '../core/types.js';
import { SEVERITIES, type AgentEvent } from '../observe/events.js';
import { parseStored, storedTime } from '../state/codec.js';
import { assessEndpoint, driftOf, expiryAlert, type ManagedCertificate } from './checks.js';
import {
  earliestServedExpiry,
  ENDPOINT_PROBLEMS,
  EXPIRY_ALERT_REASONS,
  type ExpiryAlert,
  type WatchResult,
  PROBE_FAILURES,
  type ProbeResult,
} from '../core/endpoint-results.js';
import { watchEvents } from './events.js';
import { probeAll, type ProbeFn } from './probe.js';
import type { WatchSettings } from './schema.js';

export const WATCH_STATE_FILE = 'watch.json';

/** Probes and judges endpoints once (the Watcher's round, and `certkeeper probe`). */
export async function checkEndpoints(
  settings: Pick<WatchSettings, 'endpoints' | 'alertDays' | 'caBundlePem' | 'timeoutMs' | 'concurrency'>,
  options: { clock: Clock; managed?: readonly ManagedCertificate[]; probe?: ProbeFn },
): Promise<WatchResult[]> {
  const results = await probeAll(settings.endpoints, {
    concurrency: settings.concurrency,
    timeoutMs: settings.timeoutMs,
    now: () => options.clock.now(),
    ...(settings.caBundlePem ? { caBundlePem: settings.caBundlePem } : {}),
    ...(options.probe ? { probe: options.probe } : {}),
  });
  const now = options.clock.now();
  return results.map((result) => judge(result, now, settings.alertDays, options.managed ?? []));
}

/**
 * The expiry alert of what an endpoint serves: the earliest notAfter in its chain, as the metric
 * reports it (an intermediate may expire before the leaf); the message names an intermediate.
 */
export function servedExpiryAlert(result: ProbeResult, now: Date, alertDays: readonly number[]): ExpiryAlert {
  if (!result.leaf) return expiryAlert(null, now, alertDays);
  const earliest = earliestServedExpiry(result.chain) ?? result.leaf.notAfter;
  const alert = expiryAlert(new Date(earliest), now, alertDays);
  if (Date.parse(earliest) >= Date.parse(result.leaf.notAfter)) return alert;
  const first = result.chain.find((cert) => cert.notAfter === earliest);
  return { ...alert, message: `the intermediate ${first?.subject ?? '(unnamed)'} ${alert.message}` };
}

export function judge(result: ProbeResult, now: Date, alertDays: readonly number[], managed: readonly ManagedCertificate[]): WatchResult {
  const assessment = assessEndpoint(result, now);
  const expiry = servedExpiryAlert(result, now, alertDays);
  return {
    ...result,
    ok: assessment.ok && !expiry.alert,
    problems: assessment.problems,
    messages: expiry.alert && expiry.reason === 'threshold' ? [...assessment.messages, expiry.message] : assessment.messages,
    daysLeft: assessment.daysLeft,
    alert: { alert: expiry.alert, reason: expiry.reason, severity: expiry.severity, thresholdDays: expiry.thresholdDays },
    drift: driftOf(result, managed) ?? null,
  };
}

export interface WatcherOptions {
  settings: WatchSettings;
  clock: Clock;
  logger: Logger;
  /** Where watch.json is written (the state directory); none: not persisted. */
  stateDir?: string;
  /** Where each round is kept instead (the state store's agent data); wins over stateDir. */
  save?: (results: WatchResult[]) => Promise<void>;
  /** The managed certificates now (names and stored serials), for drift detection. */
  managed?: () => Promise<ManagedCertificate[]>;
  onEvent?: (event: AgentEvent) => void;
  onResults?: (results: WatchResult[]) => void;
  probe?: ProbeFn;
}

export class Watcher {
  private settings: WatchSettings;
  private controller: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private latest: WatchResult[] = [];
  /** Endpoints with an alert out, so their all-clear is sent once. */
  private readonly alerting = new Set<string>();

  constructor(private readonly options: WatcherOptions) {
    this.settings = options.settings;
  }

  get results(): WatchResult[] {
    return this.latest;
  }

  /** Starts probing now and then every interval. */
  start(): void {
    if (this.loop) return;
    const controller = new AbortController();
    this.controller = controller;
    this.loop = (async () => {
      while (!controller.signal.aborted) {
        await this.runOnce();
        try {
          await this.options.clock.sleep(this.settings.intervalMs, controller.signal);
        } catch (error) {
          if (isAbortError(error)) return;
          throw error;
        }
      }
    })().catch((error: unknown) => this.options.logger.error({ err: describeError(error) }, 'watcher stopped unexpectedly'));
  }

  /** New settings (a config reload) take effect at the next round. */
  update(settings: WatchSettings): void {
    this.settings = settings;
  }

  async stop(): Promise<void> {
    this.controller?.abort();
    await this.loop;
    this.loop = undefined;
  }

  /** One round: probe every endpoint, judge, alert, publish. Never throws. */
  async runOnce(): Promise<WatchResult[]> {
    const { clock, logger } = this.options;
    try {
      const managed = (await this.options.managed?.().catch(() => [])) ?? [];
      const results = await checkEndpoints(this.settings, { clock, managed, ...(this.options.probe ? { probe: this.options.probe } : {}) });
      const at = clock.now().toISOString();
      for (const result of results) {
        const events = watchEvents(
          result,
          assessEndpoint(result, clock.now()),
          servedExpiryAlert(result, clock.now(), this.settings.alertDays),
          this.alerting.has(result.endpoint),
          at,
        );
        if (events.some((e) => e.type !== 'recovered')) this.alerting.add(result.endpoint);
        else this.alerting.delete(result.endpoint);
        for (const event of events) this.emit(event);
        if (result.drift && !result.drift.current)
          logger.warn({ endpoint: result.endpoint, cert: result.drift.cert }, `drift: ${result.endpoint} ${result.drift.message}`);
      }
      this.latest = results;
      const save = this.options.save ?? (this.options.stateDir ? (r: WatchResult[]) => saveWatchResults(this.options.stateDir!, r) : undefined);
      if (save) await save(results).catch((error: unknown) => logger.warn({ err: describeError(error) }, 'could not save watch results'));
      this.options.onResults?.(results);
      logger.info({ endpoints: results.length, failing: results.filter((r) => !r.ok).length }, 'watched endpoints probed');
      return results;
    } catch (error) {
      logger.error({ err: describeError(error) }, 'watch round failed');
      return this.latest;
    }
  }

  /** Publishes one event to the subscribers (the log among them: observe/log-subscriber.ts). */
  private emit(event: AgentEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch (error) {
      this.options.logger.error({ err: describeError(error) }, 'event listener failed');
    }
  }
}

const servedCertificateCodec = z.object({
  subject: z.string(),
  issuer: z.string(),
  serial: z.string(),
  notBefore: storedTime,
  notAfter: storedTime,
  names: z.array(z.string()),
  fingerprint256: z.string(),
});

/**
 * A watch round as it is kept and read back (`status`): every field of WatchResult, so a value of
 * another shape is no round rather than a table that fails halfway. The annotation makes the
 * compiler hold the codec to the type the watcher writes.
 */
const watchRoundCodec: z.ZodType<WatchResult[]> = z.array(
  z.object({
    endpoint: z.string(),
    address: z.string(),
    sni: z.string().nullable(),
    protocol: z.enum(TLS_PROTOCOLS),
    reachable: z.boolean(),
    failure: z.enum(PROBE_FAILURES).nullable(),
    error: z.string().nullable(),
    at: storedTime,
    durationMs: z.number(),
    leaf: servedCertificateCodec.nullable(),
    chain: z.array(servedCertificateCodec),
    trusted: z.boolean().nullable(),
    trustError: z.string().nullable(),
    nameMatch: z.boolean().nullable(),
    nameError: z.string().nullable(),
    ok: z.boolean(),
    problems: z.array(z.enum(ENDPOINT_PROBLEMS)),
    messages: z.array(z.string()),
    daysLeft: z.number().nullable(),
    alert: z.object({ alert: z.boolean(), reason: z.enum(EXPIRY_ALERT_REASONS), severity: z.enum(SEVERITIES), thresholdDays: z.number().nullable() }),
    drift: z.object({ cert: z.string(), current: z.boolean(), message: z.string() }).nullable(),
  }),
);

export async function saveWatchResults(stateDir: string, results: WatchResult[]): Promise<void> {
  await atomicWriteFile(path.join(stateDir, WATCH_STATE_FILE), `${JSON.stringify(results, null, 2)}\n`, { mode: 0o600 });
}

/** The name the watch results are kept under in the store's agent data. */
export const WATCH_DATA = 'watch';

export interface LoadWatchOptions {
  /** Told when a kept round cannot be read (naming its key or file). */
  logger?: Logger | undefined;
  /** This agent's id, to name the key of its data in that warning. */
  agentId?: string | undefined;
}

/**
 * The last watch round kept in the store's agent data, else in watch.json (written before the
 * store kept it), for `status`. A kept round that cannot be read is no round, with a warning: a
 * damaged value in the store is not replaced by an older watch.json.
 */
export async function loadStoredWatchResults(
  data: AgentData | undefined,
  stateDir: string,
  options: LoadWatchOptions = {},
): Promise<WatchResult[] | undefined> {
  if (!data) return loadWatchResults(stateDir, options);
  const key = options.agentId === undefined ? `agent data "${WATCH_DATA}"` : `agents/${options.agentId}/${WATCH_DATA}`;
  try {
    const stored = await data.get(WATCH_DATA);
    if (stored === undefined) return await loadWatchResults(stateDir, options);
    return parseStored(watchRoundCodec, stored, key);
  } catch (error) {
    options.logger?.warn({ key, err: toCertkeeperError(error).message }, 'the last watch round cannot be read; showing none');
    return undefined;
  }
}

/** The daemon's last watch round kept in watch.json, if any (for `status`). */
export async function loadWatchResults(stateDir: string, options: LoadWatchOptions = {}): Promise<WatchResult[] | undefined> {
  const file = path.join(stateDir, WATCH_STATE_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return parseStored(watchRoundCodec, JSON.parse(text), file);
  } catch (error) {
    // Our own message (the key and the field), or the parser's: never the file's text.
    const problem = isCertkeeperError(error) ? error.message : `${file} is not valid JSON`;
    options.logger?.warn({ file, err: problem }, 'the last watch round cannot be read; showing none');
    return undefined;
  }
}
