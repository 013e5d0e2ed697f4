// One attempt at a certificate, as the renewal pipeline records it: the plan it follows, its
// outcome told to the event stream, its history lines and its failure record. Shared by the
// order (renew.ts) and the deploy (deploy-step.ts).

import { describeError } from '../core/errors.js';
import type { CertificateSpec, HistoryEntry } from '../core/types.js';
import { recordFailure } from '../plan/record.js';
import type { CertificateSummary, CertRecord } from '../state/contract.js';
import type { CertOutcome, PlannedAction } from '../observe/stream.js';
import type { EngineDeps } from './contracts.js';
import type { AriRecord } from './renewal-info.js';

export interface Plan {
  spec: CertificateSpec;
  /** The stored certificate's details (meta only: no PEM parse, no key); runOne reads the rest when it needs it. */
  stored: CertificateSummary | undefined;
  record: CertRecord;
  /** The CA's renewal window for the stored certificate (ARI), when it has one. */
  ari?: AriRecord | undefined;
  action: PlannedAction;
  reason: string;
  message: string;
}

/** The record after a failed order or deploy (plan/record.ts): counted, backed off, with the config it failed with. */
export function failed(record: CertRecord, action: string, error: string, deps: EngineDeps, cert: string, retryAfterSeconds?: number): CertRecord {
  return recordFailure(record, {
    action,
    error,
    now: deps.clock.now(),
    backoffMs: deps.config.backoffMs,
    retryAfterSeconds,
    fingerprint: deps.config.fingerprints[cert] ?? null,
  });
}

export type OutcomeFields = Partial<CertOutcome> & Pick<CertOutcome, 'result'>;

/** A certificate's outcome for this run, told to the event stream as it is returned. */
export function finish(plan: Plan, started: number, deps: EngineDeps, fields: OutcomeFields): CertOutcome {
  const outcome: CertOutcome = {
    cert: plan.spec.name,
    action: plan.action,
    reason: plan.reason,
    message: plan.message,
    serial: null,
    notAfter: null,
    durationMs: elapsed(started),
    deployed: [],
    ...fields,
  };
  deps.onEvent?.({ type: 'cert_done', outcome });
  return outcome;
}

export function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}

export async function appendHistory(deps: EngineDeps, entry: Omit<HistoryEntry, 'at'>): Promise<void> {
  try {
    await deps.store.appendHistory({ at: deps.clock.now().toISOString(), ...entry });
  } catch (error) {
    // Losing a history line must not turn a good renewal into a failure; say so loudly.
    deps.logger.error({ cert: entry.cert, err: describeError(error) }, 'could not append to history');
  }
}
