// One event stream for everything a run does (as certmagic does): the progress display, logs,
// and later metrics and notifications all read it.

import type { IssueStep } from '../issuers/contract.js';
import type { VerifyReport } from '../verify/report.js';

export type PlannedAction = 'issue' | 'renew' | 'deploy' | 'dry-run' | 'skip';

export interface CertOutcome {
  cert: string;
  action: PlannedAction;
  result: 'success' | 'failure' | 'skipped';
  reason: string;
  message: string;
  serial: string | null;
  notAfter: string | null;
  durationMs: number;
  /** Sinks deployed in this run. */
  deployed: string[];
  error?: string;
  code?: string;
  failedSink?: string;
  /** When the certificate has `verify:` endpoints and was deployed in this run: what they serve. */
  verify?: VerifyReport;
}

export type EngineEvent =
  | { type: 'lock_wait'; holder: string }
  | { type: 'cert_planned'; cert: string; action: PlannedAction; reason: string; message: string }
  | { type: 'cert_step'; cert: string; step: IssueStep | 'stored' | 'deploying' | 'deployed' | 'verifying'; detail?: string }
  | { type: 'cert_done'; outcome: CertOutcome }
  | {
      type: 'cert_verified';
      cert: string;
      report: VerifyReport;
      /** Whether the verification before this one passed (null: none). */ previousOk: boolean | null;
    };
