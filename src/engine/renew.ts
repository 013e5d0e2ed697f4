// The renewal pipeline: plan → issue → store → deploy → record, for every certificate, each
// under its own lock in the state store. A certificate's failure is recorded and never stops the
// others; agents sharing a store never order one certificate twice.

import { CertkeeperError, describeError, isCertkeeperError, toCertkeeperError } from '../core/errors.js';
import type { CertificateSpec, HistoryAction, HistoryEntry, StoredCertificate } from '../core/types.js';
import { parseCertificate } from '../core/x509.js';
import { configChanged, planAttempt, type AttemptFacts } from '../plan/attempt.js';
import { recordSuccess } from '../plan/record.js';
import { pendingSinks, renewalDecision } from '../plan/renewal.js';
import type { CertificateLock, CertificateSummary } from '../state/contract.js';
import { mapLimit } from '../core/concurrency.js';
import { Semaphore } from '../core/semaphore.js';
import { selectCertificates } from '../config/select.js';
import type { EngineDeps } from './contracts.js';
import { appendHistory, elapsed, failed, finish, type OutcomeFields, type Plan } from './outcome.js';
import { deploy } from './deploy-step.js';
import type { CertOutcome } from '../observe/stream.js';
import { deploymentKeys } from '../sinks/scope.js';
import { ledgeredProvider, removeLeftoverChallenges } from './challenge-ledger.js';
import { ARI_STATE_KEY, renewalInfoFor, windowOf, type AriRecord } from './renewal-info.js';
import { readAhead } from './read-ahead.js';
import { historyOrders, OrderLedger } from './order-budget.js';
import type { LedgerOrder } from '../plan/budget.js';
import type { IssuerSettings } from '../config/issuers.js';
import type { OrderNotice } from '../issuers/contract.js';

export interface RenewOptions {
  /** Limit the run to these certificates. */
  certs?: string[];
  /** Order even when a certificate is backing off after failures (`renew --cert NAME`). */
  overrideBackoff?: boolean;
  /** Renew even when not due. */
  force?: boolean;
  /** With `force`: spend the last order of the CA's duplicate-certificate budget too (`--yes`). */
  yes?: boolean;
  /** Do the whole ACME and DNS path, but write no sink and keep the stored certificate. */
  dryRun?: boolean;
  signal?: AbortSignal;
  /** How long to wait for another run's lock (default: 10 minutes). */
  lockTimeoutMs?: number;
  /** The operator's words for this run (`--reason`), kept in each order's history line. */
  note?: string;
}

export interface RenewReport {
  outcomes: CertOutcome[];
  /**
   * Set when the state store itself failed (a certificate's lock could not be taken for another
   * reason than another agent holding it): those certificates were not attempted and nothing
   * about them was recorded, so a caller that retries (the agent) must pause, not go again now.
   */
  storeError?: CertkeeperError;
  failed: number;
  succeeded: number;
  skipped: number;
}

/** Certificates planned at once (local reads; an ARI lookup only when one is due for a re-check). */
const PLAN_CONCURRENCY = 16;

export async function renew(options: RenewOptions, deps: EngineDeps): Promise<RenewReport> {
  const selected = selectCertificates(deps.config.certificates, options.certs);
  // A store that does not answer (a database down) fails the run at once and clearly; nothing
  // deployed is touched, and nothing is ordered that could not be recorded.
  await deps.store.ping?.(options.signal).catch((error: unknown) => {
    if (isCertkeeperError(error, 'CONFIG_INVALID')) throw error; // this agent's encryption key is not the store's
    const cause = toCertkeeperError(error, 'STATE_UNREACHABLE');
    throw new CertkeeperError(
      cause.code === 'CANCELLED' ? 'CANCELLED' : 'STATE_UNREACHABLE',
      `the state store is unreachable (${describeError(cause)}); certificates already deployed stay as they are`,
      { cause },
    );
  });
  const startedAt = deps.clock.now();
  const ledger = new OrderLedger(deps);
  const run: RunState = { storeError: undefined };
  // Planned without any lock, from reads made in batches (read-ahead.ts); every certificate with
  // something to do is planned again under its own lock, from the store, before anything is ordered or deployed.
  const planning = {
    ...deps,
    store: await readAhead(
      deps.store,
      selected.map((spec) => spec.name),
      { sinkStates: [ARI_STATE_KEY] },
    ),
  };
  const plans = await mapLimit(selected, PLAN_CONCURRENCY, (spec) => planOne(spec, startedAt, options, planning, ledger));
  for (const plan of plans) {
    deps.onEvent?.({ type: 'cert_planned', cert: plan.spec.name, action: plan.action, reason: plan.reason, message: plan.message });
    if (plan.action === 'issue' || plan.action === 'renew') {
      deps.onEvent?.({
        type: 'obtaining',
        at: deps.clock.now().toISOString(),
        cert: plan.spec.name,
        domains: plan.spec.domains,
        severity: 'info',
        message: `${plan.action} ${plan.spec.name}: ${plan.message}`,
        action: plan.action,
      });
    }
  }
  // First pass: each certificate whose lock is free. One that another agent (or run) holds is
  // left for the second pass, so agents sharing a store spread the work instead of queueing.
  // Concurrency by stage: an order waiting for DNS or the CA holds no CPU, so up to maxInFlight
  // certificates are in the pipeline at once (their DNS writes batched per zone), while the
  // CPU-bound steps (key generation, CSR, parsing) take one of maxConcurrent slots.
  const inFlight = Math.max(deps.config.maxConcurrent, deps.config.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
  run.cpu = new Semaphore(deps.config.maxConcurrent);
  const first = await mapLimit(plans, inFlight, (plan) => runLocked(plan, 0, startedAt, options, deps, ledger, run));
  // Second pass: wait for those holders, then plan again: most are done by then (deploy or skip).
  const outcomes = await mapLimit(first, inFlight, async (result, index) =>
    result === BUSY ? runLocked(plans[index]!, options.lockTimeoutMs ?? 10 * 60_000, startedAt, options, deps, ledger, run) : result,
  );
  const done = outcomes.filter((outcome): outcome is CertOutcome => outcome !== BUSY);
  return {
    outcomes: done,
    failed: done.filter((o) => o.result === 'failure').length,
    succeeded: done.filter((o) => o.result === 'success').length,
    skipped: done.filter((o) => o.result === 'skipped').length,
    ...(run.storeError ? { storeError: run.storeError } : {}),
  };
}

const BUSY = Symbol('busy');

interface RunState {
  /** The first failure of the store itself in this run (see RenewReport.storeError). */
  storeError: CertkeeperError | undefined;
  /** The bound on CPU-bound steps (maxConcurrent). */
  cpu?: Semaphore | undefined;
}

/** Certificates in the pipeline at once when the config does not say (maxInFlight). */
export const DEFAULT_MAX_IN_FLIGHT = 512;

/**
 * Runs one certificate's plan under its lock: taken (waiting up to `waitMs`), the certificate is
 * planned again (certmagic's re-check: another agent may have renewed it meanwhile), run, and
 * the lock released. A lease lost on the way (the store unreachable past the lock's TTL) aborts
 * the work, as another agent may take over.
 */
async function runLocked(
  plan: Plan,
  waitMs: number,
  startedAt: Date,
  options: RenewOptions,
  deps: EngineDeps,
  ledger: OrderLedger,
  run: RunState,
): Promise<CertOutcome | typeof BUSY> {
  if (plan.action === 'skip') return runOne(plan, options, deps, ledger);
  const name = plan.spec.name;
  const purpose = plan.action === 'dry-run' ? 'rehearsal' : 'order';
  let lock: CertificateLock;
  try {
    lock = await deps.store.lockCertificate(name, {
      purpose,
      waitMs,
      ...(options.signal ? { signal: options.signal } : {}),
      // The first pass only looks (waitMs 0): the wait, and the word about it, come in the second.
      ...(waitMs > 0
        ? {
            onWait: (holder: string) => {
              deps.logger.info({ cert: name, holder }, 'another agent holds this certificate; waiting');
              deps.onEvent?.({ type: 'lock_wait', holder });
            },
          }
        : {}),
    });
  } catch (error) {
    if (waitMs === 0 && isCertkeeperError(error, 'LOCK_TIMEOUT')) return BUSY;
    return storeFailure(plan, error, 'cannot take the certificate lock', deps, run);
  }
  try {
    // What an earlier holder (killed mid-order) left in DNS goes first.
    const removed = await removeLeftoverChallenges(name, purpose, deps, options.signal).catch((error: unknown) => {
      deps.logger.warn({ cert: name, err: describeError(error) }, 'cannot read the challenge ledger; leftover records, if any, stay for the next attempt');
      return 0;
    });
    if (lock.tookOver) await noteAbandoned(name, plan.action, removed, deps);
    const fresh = await planOne(plan.spec, startedAt, options, deps, ledger);
    const signal = options.signal ? AbortSignal.any([options.signal, lock.lost]) : lock.lost;
    return await runOne(fresh, { ...options, signal }, deps, ledger, run.cpu);
  } catch (thrown) {
    // The store failed under this certificate (a database gone mid-order): its outcome, and the
    // run's store error, so the others finish and the caller pauses, instead of the whole run rejecting.
    return storeFailure(plan, thrown, 'the state store failed while working on this certificate', deps, run);
  } finally {
    await lock
      .release()
      .catch((error: unknown) =>
        deps.logger.warn({ cert: name, err: describeError(error) }, 'cannot release the certificate lock; it frees itself after its TTL'),
      );
  }
}

/**
 * The history line a lock holder that died mid-work (killed, frozen, cut off: its lease expired)
 * could not write, so history accounts for the order the CA saw from it. Its action is what this
 * agent found to do, the likeliest thing the other was doing.
 */
async function noteAbandoned(cert: string, action: HistoryAction, removedRecords: number, deps: EngineDeps): Promise<void> {
  const removed = removedRecords > 0 ? ` and removed ${removedRecords} challenge record${removedRecords === 1 ? '' : 's'} it left in DNS` : '';
  const error = `abandoned: the agent holding the lock stopped before finishing (its lease expired; ${deps.config.agentId} took over${removed})`;
  deps.logger.warn({ cert, removedRecords }, error);
  await appendHistory(deps, {
    cert,
    action,
    result: 'failure',
    serial: null,
    notAfter: null,
    durationMs: 0,
    error,
    code: 'CANCELLED',
    reason: 'lock-taken-over',
  });
}

/** A certificate the store failed under: its failure outcome, and the run's store error (RenewReport.storeError). */
function storeFailure(plan: Plan, thrown: unknown, what: string, deps: EngineDeps, run: RunState): CertOutcome {
  const failure = toCertkeeperError(thrown, 'STATE_IO');
  if (failure.code !== 'CANCELLED') run.storeError ??= failure;
  deps.logger.error({ cert: plan.spec.name, code: failure.code, err: describeError(failure) }, what);
  const outcome: CertOutcome = {
    cert: plan.spec.name,
    action: plan.action,
    reason: plan.reason,
    message: plan.message,
    serial: plan.stored?.info.serial ?? null,
    notAfter: plan.stored?.info.notAfter.toISOString() ?? null,
    durationMs: 0,
    deployed: [],
    result: 'failure',
    error: describeError(failure),
    code: failure.code,
  };
  deps.onEvent?.({ type: 'cert_done', outcome });
  return outcome;
}

/**
 * A corrupt stored certificate must not block renewal: it is logged and issued afresh. `peek`
 * reads only the details recorded beside it (planning a fleet costs one small read each); the
 * full read parses the PEM and checks the key, before anything is ordered or deployed from it.
 */
async function loadStored(name: string, deps: EngineDeps, how: 'peek'): Promise<CertificateSummary | undefined>;
async function loadStored(name: string, deps: EngineDeps, how: 'full'): Promise<StoredCertificate | undefined>;
async function loadStored(name: string, deps: EngineDeps, how: 'peek' | 'full'): Promise<CertificateSummary | StoredCertificate | undefined> {
  try {
    return how === 'peek' ? await deps.store.peekCertificate(name) : await deps.store.getCertificate(name);
  } catch (error) {
    // Only damage is reissued; a store that cannot be read (down, unreachable) fails the run instead.
    if (!isCertkeeperError(error, 'STATE_CORRUPT')) throw error;
    deps.logger.error({ cert: name, err: describeError(error) }, 'stored certificate unreadable; it will be reissued');
    return undefined;
  }
}

/** Gathers one certificate's facts, reading what is costly (ARI, the budget) only when the chain asks (plan/attempt.ts). */
async function planOne(spec: CertificateSpec, startedAt: Date, options: RenewOptions, deps: EngineDeps, ledger: OrderLedger): Promise<Plan> {
  const stored = await loadStored(spec.name, deps, 'peek');
  const record = await deps.store.getRecord(spec.name);
  const now = deps.clock.now();
  let ari: AriRecord | undefined;
  let facts: AttemptFacts = {
    now,
    trigger: 'run',
    stored: stored ? { notBefore: stored.info.notBefore, notAfter: stored.info.notAfter, issuedAt: stored.issuedAt } : null,
    backoff: {
      failures: record.consecutiveFailures,
      nextAttemptAt: record.nextAttemptAt,
      configChanged: configChanged(record, deps.config.fingerprints[spec.name] ?? null),
    },
    pendingSinks: stored ? pendingSinks(spec, stored.info.serial, record, deploymentKeys(deps.config.sinks, deps.config.agentId)) : [],
    request: { dryRun: options.dryRun, force: options.force, overrideBackoff: options.overrideBackoff, yes: options.yes, startedAt },
  };
  for (;;) {
    const planned = planAttempt(facts);
    if ('needs' in planned) {
      if (planned.needs === 'renewal') {
        ari = stored ? await renewalInfoFor(stored, deps, options.signal) : undefined;
        const decision = renewalDecision(stored?.info, spec, deps.clock.now(), { force: options.force, ari: windowOf(ari) });
        facts = { ...facts, renewal: decision, request: { ...facts.request, replaces: Boolean(ari?.supported && ari.certId) } };
      } else {
        facts = { ...facts, request: { ...facts.request, duplicateBudget: await ledger.duplicates(spec.name) } };
      }
      continue;
    }
    const budget = facts.request?.duplicateBudget;
    if (planned.reason === 'rate-budget' && budget) {
      deps.logger.warn({ cert: spec.name, used: budget.used, limit: budget.limit }, `refusing a forced order: ${budget.message}`);
    }
    return { spec, stored, record, ari, action: planned.action, reason: planned.reason, message: planned.message };
  }
}

async function runOne(plan: Plan, options: RenewOptions, deps: EngineDeps, ledger: OrderLedger, cpu?: Semaphore): Promise<CertOutcome> {
  const started = performance.now();
  const name = plan.spec.name;
  const outcome = (partial: OutcomeFields): CertOutcome =>
    finish(plan, started, deps, { serial: plan.stored?.info.serial ?? null, notAfter: plan.stored?.info.notAfter.toISOString() ?? null, ...partial });
  if (plan.action === 'skip' && plan.reason === 'rate-budget') return outcome({ result: 'failure', error: plan.message, code: 'USAGE' });
  if (plan.action === 'skip') return outcome({ result: 'skipped' });
  if (deps.canDeploy?.() === false) return outcome({ result: 'skipped', reason: 'not-leader', message: 'not the leader replica: left to the leader' });

  let record = plan.record;
  // The full certificate (PEM, key), read only where it is used: a deploy, or a renewal reusing its key.
  let current: StoredCertificate | undefined;
  const reusable = plan.action === 'renew' && plan.spec.reuseKey && plan.stored?.info.keyType === plan.spec.keyType;
  if (plan.action === 'deploy' || reusable) {
    current = await loadStored(name, deps, 'full');
    if (!current && plan.action === 'deploy')
      plan = { ...plan, stored: undefined, action: 'issue', reason: 'stored-unreadable', message: 'stored certificate unreadable; issuing afresh' };
  }
  if (plan.action === 'issue' || plan.action === 'renew' || plan.action === 'dry-run') {
    const historyAction: HistoryAction = plan.action;
    // This attempt's orders, for the rate-limit budgets and its history line (dry runs go to staging uncounted).
    const attempt: LedgerOrder[] = [];
    const budgets =
      plan.action === 'dry-run'
        ? {}
        : {
            admit: (issuer: IssuerSettings, replaces: boolean) =>
              ledger.admit(issuer, plan.spec.domains, replaces, { force: options.force === true, yes: options.yes === true, signal: options.signal }),
            onOrder: (notice: OrderNotice) => ledger.note(notice, attempt),
          };
    // The attempt's one history line, however it ends (a dry run places no counted orders).
    const attemptHistory = (result: Pick<HistoryEntry, 'result' | 'serial' | 'notAfter' | 'error' | 'code'>) =>
      appendHistory(deps, {
        ...noted(options),
        cert: name,
        action: historyAction,
        ...result,
        durationMs: elapsed(started),
        reason: plan.reason,
        ...historyOrders(attempt),
      });
    try {
      const issuer = await deps.issuer(plan.action === 'dry-run' ? { dryRun: true, cert: name } : undefined);
      const reuse = reusable && current && current.info.keyType === plan.spec.keyType ? current.material.keyPem : undefined;
      const replaces = plan.stored && plan.ari?.supported && plan.ari.certId ? { id: plan.ari.certId, directoryUrl: plan.stored.directoryUrl } : undefined;
      const { material, directoryUrl: issuedBy } = await issuer.issue({
        certName: name,
        domains: plan.spec.domains,
        keyType: plan.spec.keyType,
        ...(reuse ? { keyPem: reuse } : {}),
        ...(replaces ? { replaces } : {}),
        ...(plan.spec.issuers ? { issuers: plan.spec.issuers } : {}),
        ...(plan.spec.profile ? { profile: plan.spec.profile } : {}),
        ...(plan.spec.lifetimeMs !== undefined ? { lifetimeMs: plan.spec.lifetimeMs } : {}),
        ...budgets,
        dns: ledgeredProvider(deps.dnsProvider(plan.spec.dns), name, plan.action === 'dry-run' ? 'rehearsal' : 'order', deps),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(cpu ? { cpu: <T>(work: () => Promise<T>) => cpu.run(work) } : {}),
        onProgress: (event) => deps.onEvent?.({ type: 'cert_step', cert: name, step: event.step, ...(event.detail ? { detail: event.detail } : {}) }),
      });
      const info = parseCertificate(material.certPem);
      if (plan.action === 'dry-run') {
        await attemptHistory({ result: 'success', serial: info.serial, notAfter: info.notAfter.toISOString(), error: null });
        return outcome({
          result: 'success',
          serial: info.serial,
          notAfter: info.notAfter.toISOString(),
          message: `dry run issued ${info.serial} from ${issuer.directoryUrl}; discarded`,
        });
      }
      current = await deps.store.putCertificate(name, material, { directoryUrl: issuedBy ?? issuer.directoryUrl, issuedAt: deps.clock.now() });
      deps.onEvent?.({ type: 'cert_step', cert: name, step: 'stored', detail: current.info.serial });
      record = recordSuccess(record, { action: historyAction, now: deps.clock.now() });
      await deps.store.putRecord(name, record);
      await attemptHistory({ result: 'success', serial: info.serial, notAfter: info.notAfter.toISOString(), error: null });
    } catch (thrown) {
      const error = toCertkeeperError(thrown, 'ACME_ERROR');
      // One history line per failed attempt, whichever way it failed.
      const historyOfFailure = (text: string) => attemptHistory({ result: 'failure', serial: null, notAfter: null, error: text, code: error.code });
      if (error.code === 'CANCELLED') {
        // Shutdown, not the certificate's fault: recorded in history, no failure count or backoff.
        deps.logger.warn({ cert: name }, `${historyAction} abandoned: cancelled (its DNS records were cleaned up)`);
        await historyOfFailure('cancelled');
        return outcome({ result: 'failure', error: 'cancelled', code: error.code });
      }
      if (error.code === 'RATE_BUDGET' && error.details?.confirm === true) {
        // A forced order refused before it spent the last unit: the operator's call, not a failure of the certificate.
        deps.logger.warn({ cert: name }, `refusing a forced order: ${error.message}`);
        await historyOfFailure(describeError(error));
        return outcome({ result: 'failure', error: `refused: ${error.message}`, code: error.code });
      }
      deps.logger.error({ cert: name, code: error.code, err: describeError(error) }, `${historyAction} failed`);
      record = failed(record, historyAction, describeError(error), deps, name, error.retryAfterSeconds);
      if (plan.action !== 'dry-run') await deps.store.putRecord(name, record);
      await historyOfFailure(describeError(error));
      return outcome({ result: 'failure', error: describeError(error), code: error.code });
    }
  }
  if (!current) return outcome({ result: 'failure', error: 'no certificate to deploy', code: 'INTERNAL' });
  return deploy(current, record, plan, started, deps, options.signal);
}

/** The operator's `--reason`, for a history line. */
function noted(options: RenewOptions): { note?: string } {
  return options.note ? { note: options.note } : {};
}
