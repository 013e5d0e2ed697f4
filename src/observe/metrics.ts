// Prometheus metrics for the agent, in the cert-manager tradition: one registry owned by this
// class (never prom-client's global one, so tests and reloads never collide), fed by status rows
// (what is stored) and by the agent event stream (what happened).

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CaRequestInfo } from '../issuers/contract.js';
import type { DnsCall } from '../dns/contract.js';
import type { StatusRow } from '../core/status.js';
import type { StorageObservation } from '../state/storage/contract.js';
import type { AgentEvent } from './events.js';

/**
 * Outcome of one HTTP request to the ACME server, for `certkeeper_acme_requests_total{result}`:
 * `success` (2xx/3xx), `rate_limited` (429), `client_error` (other 4xx, e.g. badNonce),
 * `server_error` (5xx), `network_error` (no response).
 */
export const ACME_REQUEST_RESULTS = ['success', 'rate_limited', 'client_error', 'server_error', 'network_error'] as const;
export type AcmeRequestResult = (typeof ACME_REQUEST_RESULTS)[number];

/** Classifies an ACME HTTP status (undefined: no response at all). */
export function acmeRequestResult(status: number | undefined): AcmeRequestResult {
  if (status === undefined) return 'network_error';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'server_error';
  if (status >= 400) return 'client_error';
  return 'success';
}

/**
 * The `status` label of `certkeeper_acme_request_duration_seconds`: the HTTP status class, 429
 * (rate limited) apart from the other 4xx, and `error` when no usable answer came (network failure).
 */
export const ACME_REQUEST_STATUSES = ['2xx', '3xx', '4xx', '429', '5xx', 'error'] as const;
export type AcmeRequestStatus = (typeof ACME_REQUEST_STATUSES)[number];

export function acmeRequestStatus(status: number | undefined): AcmeRequestStatus {
  if (status === undefined || status < 200 || status > 599) return 'error';
  if (status === 429) return '429';
  return `${Math.floor(status / 100)}xx` as AcmeRequestStatus;
}

/** Buckets (seconds) of the ACME request histogram: a CA answers in tens of ms to seconds; 60 s is the request deadline. */
const ACME_DURATION_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** DNS calls: an API write in ms to seconds, Route53 waiting for INSYNC up to a minute, propagation up to its 120 s timeout. */
const DNS_DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Store calls: a file read in under a ms, a database round trip in ms, a lock wait up to its timeout. */
const STORE_DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * One notification outcome per target: `delivered` (the receiver took it: 2xx, exit 0),
 * `retrying` (an attempt failed, another is scheduled), `failed` (given up: the alert stays open
 * and re-sendable), `dropped` (abandoned: target removed, shutdown without a saved outbox, a bug),
 * `suppressed` (a repeat of a delivered alert), `coalesced` (an event merged into a waiting alert
 * because the target's queue was full).
 */
export const NOTIFICATION_RESULTS = ['delivered', 'retrying', 'failed', 'dropped', 'suppressed', 'coalesced'] as const;
export type NotificationResult = (typeof NOTIFICATION_RESULTS)[number];

/**
 * prom-client samples event-loop delay with a timer at this resolution (its default, 10 ms, wakes an
 * idle agent ~100 times a second); once a second still sees a blocked loop.
 */
export const EVENT_LOOP_MONITORING_PRECISION_MS = 1_000;

/**
 * prom-client defaults that `promtool check metrics` rejects (gauges named `_total`, which Prometheus
 * keeps for counters). Each is the sum of its per-type gauge (`sum(nodejs_active_handles)`), so
 * nothing is lost by leaving them out.
 */
export const MUTED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

/** An ARI (renewalInfo) lookup: a window, no ARI at that CA, the CA's 429, skipped while the CA rate-limits us, or a failure. */
export const RENEWAL_INFO_RESULTS = ['window', 'unsupported', 'rate_limited', 'deferred', 'error'] as const;
export type RenewalInfoResult = (typeof RENEWAL_INFO_RESULTS)[number];

export interface AgentMetricsOptions {
  /** Process metrics (CPU, memory, event loop, fds); default true. */
  processMetrics?: boolean;
}

const seconds = (iso: string): number => new Date(iso).getTime() / 1000;

/** The labels of a certificate's gauges: its config name and the configured issuer (status.ts `issuer`). */
type CertLabels = 'name' | 'issuer';

export class AgentMetrics {
  readonly registry: Registry;
  private readonly expiration: Gauge<CertLabels>;
  private readonly renewal: Gauge<CertLabels>;
  private readonly ready: Gauge<CertLabels>;
  private readonly pendingSinks: Gauge<CertLabels>;
  private readonly consecutiveFailures: Gauge<CertLabels>;
  /** certkeeper_consecutive_failures{name}: the old name, kept one minor release (0.2) for dashboards and alerts. */
  private readonly deprecatedConsecutiveFailures: Gauge<'name'>;
  private readonly nextAttempt: Gauge<CertLabels>;
  private readonly info: Gauge<CertLabels | 'serial'>;
  private readonly renewals: Counter<'name' | 'result'>;
  private readonly deploys: Counter<'name' | 'sink' | 'result'>;
  private readonly acmeRequests: Counter<'result'>;
  private readonly acmeRequestDuration: Histogram<'endpoint' | 'status'>;
  private readonly dnsRequests: Counter<'provider_type' | 'operation' | 'result'>;
  private readonly dnsRequestDuration: Histogram<'provider_type' | 'operation'>;
  private readonly storeOperations: Counter<'backend' | 'operation' | 'result'>;
  private readonly storeOperationDuration: Histogram<'backend' | 'operation'>;
  private readonly storeUp: Gauge<'backend'>;
  private readonly renewalInfoLookups: Counter<'result'>;
  private readonly ariWindowStart: Gauge<CertLabels>;
  private readonly ariWindowEnd: Gauge<CertLabels>;
  private readonly events: Counter<'type' | 'severity'>;
  private readonly notifications: Counter<'target' | 'result'>;
  private readonly rehearsals: Counter<'name' | 'result'>;
  private readonly lastPlan: Gauge;
  private readonly lastReload: Gauge;
  private readonly lastReloadSuccess: Gauge;
  /** Label sets seen per certificate, so a removed certificate's series can all be dropped. */
  private readonly deploySinks = new Map<string, Set<string>>();
  private readonly known = new Set<string>();
  /** Per certificate: the issuer label its gauges carry now, and the serial its info series names. */
  private readonly issuers = new Map<string, string>();
  private readonly serials = new Map<string, string>();

  constructor(options: AgentMetricsOptions = {}) {
    this.registry = new Registry();
    if (options.processMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_MONITORING_PRECISION_MS });
      for (const name of MUTED_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
    }
    const registers = [this.registry];
    this.expiration = new Gauge({
      name: 'certkeeper_certificate_expiration_timestamp_seconds',
      help: 'notAfter of the stored certificate, in Unix seconds (absent while none is stored).',
      labelNames: ['name', 'issuer'],
      registers,
    });
    this.renewal = new Gauge({
      name: 'certkeeper_certificate_renewal_timestamp_seconds',
      help: 'When the stored certificate becomes due for renewal, in Unix seconds.',
      labelNames: ['name', 'issuer'],
      registers,
    });
    this.ready = new Gauge({
      name: 'certkeeper_certificate_ready',
      help: '1 when an unexpired certificate matching the configured names and key type is stored and every sink has it; 0 otherwise (missing, expired, names or key type changed, sinks pending). A failing renewal does not clear it while the current certificate is valid: see certkeeper_certificate_consecutive_failures.',
      labelNames: ['name', 'issuer'],
      registers,
    });
    this.pendingSinks = new Gauge({
      name: 'certkeeper_certificate_pending_sinks',
      help: 'Sinks that have not yet received the current certificate.',
      labelNames: ['name', 'issuer'],
      registers,
    });
    this.consecutiveFailures = new Gauge({
      name: 'certkeeper_certificate_consecutive_failures',
      help: 'Failed attempts (order or deploy) in a row; 0 after a success.',
      labelNames: ['name', 'issuer'],
      registers,
    });
    this.deprecatedConsecutiveFailures = new Gauge({
      name: 'certkeeper_consecutive_failures',
      help: 'Deprecated: use certkeeper_certificate_consecutive_failures; this name goes in 0.3. Failed attempts (order or deploy) in a row; 0 after a success.',
      labelNames: ['name'],
      registers,
    });
    this.info = new Gauge({
      name: 'certkeeper_certificate_info',
      help: "Always 1: the stored certificate's serial (upper-case hex) and the configured issuer that issued it (absent while none is stored).",
      labelNames: ['name', 'issuer', 'serial'],
      registers,
    });
    this.nextAttempt = new Gauge({
      name: 'certkeeper_certificate_next_attempt_timestamp_seconds',
      help: 'While backing off after failures: the earliest next automatic attempt, in Unix seconds (absent otherwise).',
      labelNames: ['name', 'issuer'],
      registers,
    });
    this.renewals = new Counter({
      name: 'certkeeper_renewals_total',
      help: 'Certificate orders (issue or renew) by result: success or failure.',
      labelNames: ['name', 'result'],
      registers,
    });
    this.deploys = new Counter({
      name: 'certkeeper_deploys_total',
      help: 'Deploys of a certificate to a sink by result: success or failure.',
      labelNames: ['name', 'sink', 'result'],
      registers,
    });
    this.acmeRequests = new Counter({
      name: 'certkeeper_acme_requests_total',
      help: 'HTTP requests to the ACME server by result: success, rate_limited, client_error, server_error, network_error.',
      labelNames: ['result'],
      registers,
    });
    this.acmeRequestDuration = new Histogram({
      name: 'certkeeper_acme_request_duration_seconds',
      help: 'HTTP requests to the ACME server (each attempt) by ACME resource (endpoint: directory, newNonce, newAccount, newOrder, order, authz, challenge, finalize, certificate, renewalInfo, revokeCert, keyChange, account, other) and status (2xx, 3xx, 4xx, 429, 5xx, error: no answer), in seconds.',
      labelNames: ['endpoint', 'status'],
      buckets: ACME_DURATION_BUCKETS,
      registers,
    });
    this.dnsRequests = new Counter({
      name: 'certkeeper_dns_requests_total',
      help: 'DNS provider calls by provider type, operation (present, cleanup, batch_present, batch_cleanup, propagation: waiting until the records are served, once per batch or per record for a provider without batches) and result (success, error).',
      labelNames: ['provider_type', 'operation', 'result'],
      registers,
    });
    this.dnsRequestDuration = new Histogram({
      name: 'certkeeper_dns_request_duration_seconds',
      help: 'Duration of DNS provider calls by provider type and operation, in seconds.',
      labelNames: ['provider_type', 'operation'],
      buckets: DNS_DURATION_BUCKETS,
      registers,
    });
    this.storeOperations = new Counter({
      name: 'certkeeper_store_operations_total',
      help: 'State store calls by backend (file, postgres, kubernetes), operation (get, get_many, put, delete, list, append_log, read_log, lock, unlock, ping) and result (success, conflict: a compare-and-set lost, busy: a lock held elsewhere past the wait, error).',
      labelNames: ['backend', 'operation', 'result'],
      registers,
    });
    this.storeOperationDuration = new Histogram({
      name: 'certkeeper_store_operation_duration_seconds',
      help: 'Duration of state store calls by backend and operation, in seconds (a lock call includes waiting for it).',
      labelNames: ['backend', 'operation'],
      buckets: STORE_DURATION_BUCKETS,
      registers,
    });
    this.storeUp = new Gauge({
      name: 'certkeeper_store_up',
      help: '1 when the last state store call was answered (success, conflict or busy); 0 after an error, or when a held lock was lost.',
      labelNames: ['backend'],
      registers,
    });
    this.renewalInfoLookups = new Counter({
      name: 'certkeeper_renewal_info_lookups_total',
      help: 'ARI renewalInfo lookups by result: window, unsupported (the CA has no ARI), rate_limited (the CA answered 429), deferred (not asked: the CA is rate-limiting this account), error.',
      labelNames: ['result'],
      registers,
    });
    this.ariWindowStart = new Gauge({
      name: 'certkeeper_certificate_ari_window_start_timestamp_seconds',
      help: "Start of the CA's suggested renewal window (ARI) for the stored certificate, in Unix seconds (absent without ARI).",
      labelNames: ['name', 'issuer'],
      registers,
    });
    this.ariWindowEnd = new Gauge({
      name: 'certkeeper_certificate_ari_window_end_timestamp_seconds',
      help: "End of the CA's suggested renewal window (ARI) for the stored certificate, in Unix seconds (absent without ARI).",
      labelNames: ['name', 'issuer'],
      registers,
    });
    this.events = new Counter({
      name: 'certkeeper_events_total',
      help: 'Agent events (obtaining, obtained, failed, deployed, deploy_failed, expiring, expired, recovered, …) by severity.',
      labelNames: ['type', 'severity'],
      registers,
    });
    this.rehearsals = new Counter({
      name: 'certkeeper_rehearsals_total',
      help: 'Rehearsals (scheduled dry runs, `rehearse:`) by result: success or failure.',
      labelNames: ['name', 'result'],
      registers,
    });
    this.notifications = new Counter({
      name: 'certkeeper_notifications_total',
      help: 'Notification outcomes per target: delivered (2xx or exit 0), retrying (an attempt failed, another is scheduled), failed (given up; the alert stays open), dropped (abandoned), suppressed (repeat of a delivered alert), coalesced (merged into a waiting alert: queue full).',
      labelNames: ['target', 'result'],
      registers,
    });
    this.lastPlan = new Gauge({
      name: 'certkeeper_last_plan_timestamp_seconds',
      help: 'When the daemon last planned every certificate, in Unix seconds.',
      registers,
    });
    this.lastReload = new Gauge({
      name: 'certkeeper_config_last_reload_timestamp_seconds',
      help: 'When the running configuration was loaded (at start or by a successful reload), in Unix seconds; a rejected reload leaves it.',
      registers,
    });
    this.lastReloadSuccess = new Gauge({
      name: 'certkeeper_config_last_reload_successful',
      help: '1 when the last configuration (re)load succeeded; 0 when it was rejected and the previous configuration kept running.',
      registers,
    });
    for (const result of ACME_REQUEST_RESULTS) this.acmeRequests.inc({ result }, 0);
    for (const result of RENEWAL_INFO_RESULTS) this.renewalInfoLookups.inc({ result }, 0);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Sets the per-certificate gauges from `status` rows; certificates not in `rows` lose their series. */
  updateFromStatus(rows: StatusRow[]): void {
    const names = new Set(rows.map((row) => row.name));
    for (const name of this.known) if (!names.has(name)) this.forget(name);
    for (const row of rows) {
      const name = row.name;
      const issuer = row.issuer ?? '';
      // Renewed through another issuer (a fallback): the series under the old label go.
      if (this.issuers.has(name) && this.issuers.get(name) !== issuer) this.forgetGauges(name);
      this.known.add(name);
      this.issuers.set(name, issuer);
      const labels = { name, issuer };
      if (row.notAfter !== null) this.expiration.set(labels, seconds(row.notAfter));
      else this.expiration.remove(labels);
      if (row.renewAt !== null) this.renewal.set(labels, seconds(row.renewAt));
      else this.renewal.remove(labels);
      this.ready.set(labels, isReady(row) ? 1 : 0);
      this.pendingSinks.set(labels, row.pendingSinks.length);
      this.setConsecutiveFailures(name, row.consecutiveFailures);
      if (row.nextAttemptAt) this.nextAttempt.set(labels, seconds(row.nextAttemptAt));
      else this.nextAttempt.remove(labels);
      if (row.ari) {
        this.ariWindowStart.set(labels, seconds(row.ari.windowStart));
        this.ariWindowEnd.set(labels, seconds(row.ari.windowEnd));
      } else {
        this.ariWindowStart.remove(labels);
        this.ariWindowEnd.remove(labels);
      }
      const serial = this.serials.get(name);
      if (serial !== undefined && serial !== row.serial) this.info.remove({ ...labels, serial });
      if (row.serial !== null) {
        this.info.set({ ...labels, serial: row.serial }, 1);
        this.serials.set(name, row.serial);
      } else {
        this.serials.delete(name);
      }
      // Counters start at 0 so rate() and increase() see the first failure.
      for (const result of ['success', 'failure']) this.renewals.inc({ name, result }, 0);
    }
  }

  /** Counts what happened; the gauges follow on the next `updateFromStatus`, except where the event says enough. */
  onEvent(event: AgentEvent): void {
    const name = event.cert;
    this.events.inc({ type: event.type, severity: event.severity });
    switch (event.type) {
      case 'obtained': {
        this.renewals.inc({ name, result: 'success' });
        // Under the issuer known so far; the status rows that follow move it if another CA issued it.
        const issuer = this.issuers.get(name);
        if (event.notAfter && issuer !== undefined) this.expiration.set({ name, issuer }, seconds(event.notAfter));
        break;
      }
      case 'failed':
        this.renewals.inc({ name, result: 'failure' });
        break;
      case 'expired':
        // A renewal that failed after notAfter says `expired`, with its error; a plan's has none.
        if (event.error !== undefined) this.renewals.inc({ name, result: 'failure' });
        break;
      case 'deployed':
      case 'deploy_failed': {
        const sink = event.sink ?? 'unknown';
        this.deploys.inc({ name, sink, result: event.type === 'deployed' ? 'success' : 'failure' });
        const sinks = this.deploySinks.get(name) ?? new Set<string>();
        sinks.add(sink);
        this.deploySinks.set(name, sinks);
        break;
      }
      case 'recovered':
        this.setConsecutiveFailures(name, 0);
        break;
      default:
        break;
    }
    if (event.consecutiveFailures !== undefined && event.type !== 'recovered') this.setConsecutiveFailures(name, event.consecutiveFailures);
    this.known.add(name);
  }

  /**
   * For the ACME layer: call once per HTTP request to the CA, e.g.
   * `metrics.acmeRequest(acmeRequestResult(response?.status))`.
   */
  acmeRequest(result: AcmeRequestResult): void {
    this.acmeRequests.inc({ result });
  }

  /**
   * One HTTP attempt to the ACME server, as the transport reports it (`onRequest`): counted by
   * result, and with `info` (the resource and the duration) timed by endpoint and status.
   */
  acmeResponse(status: number | undefined, info?: CaRequestInfo): void {
    this.acmeRequests.inc({ result: acmeRequestResult(status) });
    if (info) this.acmeRequestDuration.observe({ endpoint: info.endpoint, status: acmeRequestStatus(status) }, info.seconds);
  }

  /** One DNS provider call (DnsProviderContext.onCall), under the provider's type. */
  dnsCall(providerType: string, call: DnsCall): void {
    this.dnsRequests.inc({ provider_type: providerType, operation: call.operation, result: call.result });
    this.dnsRequestDuration.observe({ provider_type: providerType, operation: call.operation }, call.seconds);
  }

  /** One state store call (OpenStateOptions.observer): an error marks the store down, any answer up. */
  storeOperation(observation: StorageObservation): void {
    const { backend, operation, result } = observation;
    this.storeOperations.inc({ backend, operation, result });
    this.storeOperationDuration.observe({ backend, operation }, observation.seconds);
    this.storeUp.set({ backend }, result === 'error' ? 0 : 1);
  }

  /** A held lock could not be kept: the store is not answering this agent (until a call succeeds again). */
  storeLockLost(backend: string): void {
    this.storeUp.set({ backend }, 0);
  }

  /** One ARI lookup for planning (the issuer wiring's `onRenewalInfo`). */
  renewalInfo(result: RenewalInfoResult): void {
    this.renewalInfoLookups.inc({ result });
  }

  /** A finished rehearsal (the Rehearser's `onResult`). */
  rehearsal(name: string, result: 'success' | 'failure'): void {
    this.rehearsals.inc({ name, result });
  }

  /** For the notification dispatcher (its `onResult` option). */
  notification(target: string, result: NotificationResult): void {
    this.notifications.inc({ target, result });
  }

  /** The configured targets' counters start at 0, so rate() and increase() see the first outcome. */
  notificationTargets(targets: readonly string[]): void {
    for (const target of targets) for (const result of NOTIFICATION_RESULTS) this.notifications.inc({ target, result }, 0);
  }

  /** The daemon planned every certificate at `at`. */
  planCompleted(at: Date): void {
    this.lastPlan.set(at.getTime() / 1000);
  }

  /**
   * The configuration was loaded (ok) or a reload was rejected (not ok) at `at`. A rejection keeps
   * the time: it still says when the running config was loaded (Prometheus' own reload metrics do so).
   */
  configLoaded(ok: boolean, at: Date): void {
    if (ok) this.lastReload.set(at.getTime() / 1000);
    this.lastReloadSuccess.set(ok ? 1 : 0);
  }

  /** The Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** Both names of the failure count; the new one once the certificate's issuer is known (its first status row). */
  private setConsecutiveFailures(name: string, value: number): void {
    this.deprecatedConsecutiveFailures.set({ name }, value);
    const issuer = this.issuers.get(name);
    if (issuer !== undefined) this.consecutiveFailures.set({ name, issuer }, value);
  }

  /** Drops a certificate's gauges under its current issuer label (and its info series). */
  private forgetGauges(name: string): void {
    const issuer = this.issuers.get(name);
    if (issuer === undefined) return;
    const labels = { name, issuer };
    for (const gauge of [
      this.expiration,
      this.renewal,
      this.ready,
      this.pendingSinks,
      this.consecutiveFailures,
      this.nextAttempt,
      this.ariWindowStart,
      this.ariWindowEnd,
    ])
      gauge.remove(labels);
    const serial = this.serials.get(name);
    if (serial !== undefined) this.info.remove({ ...labels, serial });
    this.serials.delete(name);
    this.issuers.delete(name);
  }

  private forget(name: string): void {
    this.forgetGauges(name);
    this.deprecatedConsecutiveFailures.remove({ name });
    for (const result of ['success', 'failure']) {
      this.renewals.remove({ name, result });
      for (const sink of this.deploySinks.get(name) ?? []) this.deploys.remove({ name, sink, result });
    }
    this.deploySinks.delete(name);
    this.known.delete(name);
  }
}

/** `certkeeper_certificate_ready`: a valid certificate that matches the config is in every sink. */
export function isReady(row: StatusRow): boolean {
  if (row.notAfter === null) return false;
  if (row.state === 'expired' || row.state === 'missing') return false;
  if (row.renewReason === 'domains-changed' || row.renewReason === 'key-type-changed') return false;
  return row.pendingSinks.length === 0;
}
