// The doctor's contract: a check is a named async function returning pass/warn/fail lines; the
// runner (index.ts) runs them all at once, each under its own deadline.

import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Config } from '../config/load.js';
import type { StateStore } from '../state/contract.js';
import type { ProcessIdentity, SystemdHost } from './identity.js';

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface CheckResult {
  /** Dotted name of the check, e.g. `acme.directory`, `dns.credentials`, `sink.writable`. */
  name: string;
  status: CheckStatus;
  message: string;
  /** The certificate the line is about; absent for config-wide checks. */
  cert?: string;
}

export interface DoctorContext {
  config: Config;
  /** Read-only use: the doctor changes nothing. */
  store: StateStore;
  clock: Clock;
  logger: Logger;
  /** Recursive resolvers for CNAME, zone, NS and CAA lookups (config.resolvers or the host's). */
  resolvers: string[];
  /** Per DNS exchange. */
  dnsTimeoutMs: number;
  signal: AbortSignal;
  /** Who the doctor runs as (identity.ts); read from the process when absent. */
  identity?: ProcessIdentity;
  /** What the host offers systemctl hooks; probed when absent. */
  systemd?: SystemdHost;
}

/** One unit of work for the runner; `name` (and `cert`) label its line when it fails or times out. */
export interface Check {
  name: string;
  cert?: string;
  /** Put before the message of a fail line made when the check throws or times out (e.g. `backup: `). */
  subject?: string;
  run(ctx: DoctorContext): Promise<CheckResult[]>;
}

export const pass = (name: string, message: string, cert?: string): CheckResult => ({ name, status: 'pass', message, ...(cert ? { cert } : {}) });
export const warn = (name: string, message: string, cert?: string): CheckResult => ({ name, status: 'warn', message, ...(cert ? { cert } : {}) });
export const fail = (name: string, message: string, cert?: string): CheckResult => ({ name, status: 'fail', message, ...(cert ? { cert } : {}) });
