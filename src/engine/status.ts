// `status`: one row per configured certificate — what is stored, when it becomes due and why,
// its state and the last outcome — computed with the same pure decisions the renewal uses.

import type { CertState, CertificateSpec } from '../core/types.js';
import { certState, pendingSinks, renewalDecision } from '../plan/renewal.js';
import type { EngineDeps } from './contracts.js';

export interface StatusRow {
  name: string;
  domains: string[];
  serial: string | null;
  notBefore: string | null;
  notAfter: string | null;
  daysLeft: number | null;
  renewAt: string | null;
  /** Why renewAt is what it is, or why the certificate is due now. */
  renewReason: string;
  renewMessage: string;
  state: CertState;
  /** Sinks still waiting for the current certificate. */
  pendingSinks: string[];
  lastResult: { at: string; action: string; result: 'success' | 'failure'; error: string | null } | null;
  consecutiveFailures: number;
  /** While backing off after failed orders: the earliest next automatic attempt. */
  nextAttemptAt: string | null;
}

export async function statusRows(deps: Pick<EngineDeps, 'config' | 'store' | 'clock' | 'logger'>): Promise<StatusRow[]> {
  const now = deps.clock.now();
  return Promise.all(deps.config.certificates.map((spec) => statusRow(spec, now, deps)));
}

async function statusRow(spec: CertificateSpec, now: Date, deps: Pick<EngineDeps, 'store' | 'logger'>): Promise<StatusRow> {
  const stored = await deps.store.getCertificate(spec.name).catch((error: unknown) => {
    deps.logger.warn({ cert: spec.name, err: String(error) }, 'stored certificate unreadable');
    return undefined;
  });
  const record = await deps.store.getRecord(spec.name);
  const decision = renewalDecision(stored?.info, spec, now);
  const info = stored?.info;
  return {
    name: spec.name,
    domains: spec.domains,
    serial: info?.serial ?? null,
    notBefore: info?.notBefore.toISOString() ?? null,
    notAfter: info?.notAfter.toISOString() ?? null,
    daysLeft: info ? Math.floor(((info.notAfter.getTime() - now.getTime()) / 86_400_000) * 10) / 10 : null,
    renewAt: decision.renewAt?.toISOString() ?? (info ? null : now.toISOString()),
    renewReason: decision.reason,
    renewMessage: decision.message,
    state: certState(info, decision, record, now),
    pendingSinks: info ? pendingSinks(spec, info.serial, record) : [...spec.sinks],
    lastResult: record.lastResult,
    consecutiveFailures: record.consecutiveFailures,
    nextAttemptAt: record.nextAttemptAt,
  };
}
