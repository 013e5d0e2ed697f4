// ACME failures → CertkeeperError. acme-client throws plain `Error(detail)` for error responses,
// so the transport keeps the last problem document it saw (type, detail, status, Retry-After)
// and this module classifies by the problem's type and status — never by message text.

import { retryAfterSeconds } from '../core/retry-after.js';
import { CertkeeperError, isAbortError, toCertkeeperError, type ErrorCode } from '../core/errors.js';

export const ACME_ERROR_NS = 'urn:ietf:params:acme:error:';

/** An RFC 8555 §6.7 problem document, reduced to what we act on. */
export interface AcmeProblem {
  /** The short type, e.g. `rateLimited`; '' when the body was not an ACME problem. */
  type: string;
  detail: string;
  /** HTTP status of the response that carried it; undefined for problems inside an object (a challenge's error). */
  status?: number | undefined;
  retryAfterSeconds?: number | undefined;
  subproblems?: { type: string; detail: string; identifier?: string | undefined }[] | undefined;
  /** The URL asked, for diagnostics. */
  url?: string | undefined;
}

/**
 * Problem types that mean "the CA could not confirm control of the name" when a request (not a
 * challenge) fails with them. `unauthorized` is left out: on a request it means the account or
 * EAB was refused, which no DNS change fixes.
 */
const VALIDATION_TYPES: ReadonlySet<string> = new Set(['dns', 'connection', 'incorrectResponse', 'caa', 'tls']);

/** Problem types where the same request cannot succeed until someone changes something. */
const PERMANENT_TYPES: ReadonlySet<string> = new Set([
  'malformed',
  'badCSR',
  'badPublicKey',
  'badSignatureAlgorithm',
  'badRevocationReason',
  'alreadyRevoked',
  'rejectedIdentifier',
  'unsupportedIdentifier',
  'invalidContact',
  'unsupportedContact',
  'externalAccountRequired',
  'userActionRequired',
  'unauthorized',
  'accountDoesNotExist',
]);

/** Problem types the CA uses for a transient fault on its side. */
const TRANSIENT_TYPES: ReadonlySet<string> = new Set(['serverInternal', 'badNonce', 'orderNotReady']);

/** Reads a problem document out of a JSON value; undefined when it is not one. */
export function parseProblem(data: unknown, extra: { status?: number; retryAfterSeconds?: number; url?: string } = {}): AcmeProblem | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const record = data as Record<string, unknown>;
  if (typeof record.type !== 'string' && typeof record.detail !== 'string') return undefined;
  const subproblems = Array.isArray(record.subproblems)
    ? record.subproblems.flatMap((entry) => {
        const sub = parseProblem(entry);
        if (!sub) return [];
        const identifier = (entry as { identifier?: { value?: unknown } }).identifier?.value;
        return [{ type: sub.type, detail: sub.detail, identifier: typeof identifier === 'string' ? identifier : undefined }];
      })
    : undefined;
  return {
    type: shortType(typeof record.type === 'string' ? record.type : ''),
    detail: typeof record.detail === 'string' ? record.detail : '',
    status: extra.status,
    retryAfterSeconds: extra.retryAfterSeconds,
    subproblems: subproblems && subproblems.length > 0 ? subproblems : undefined,
    url: extra.url,
  };
}

function shortType(type: string): string {
  return type.startsWith(ACME_ERROR_NS) ? type.slice(ACME_ERROR_NS.length) : type;
}

/** Seconds to wait from a CA's Retry-After (delta-seconds or HTTP-date, measured from the answer's own Date header when it has one); undefined when absent or unusable. */
export function parseRetryAfter(header: string | undefined, now: Date, responseDate?: string): number | undefined {
  return retryAfterSeconds(header, responseDate, now);
}

export interface ProblemContext {
  /** What we were doing, for the message: "creating the order", "validating example.com". */
  operation: string;
  /** `challenge` when the problem is a challenge's own error: every type then means validation failed. */
  source: 'response' | 'challenge';
  /** Extra context for the error's details (never secrets). */
  details?: Record<string, unknown>;
}

/** The CertkeeperError a problem document stands for. */
export function problemToError(problem: AcmeProblem, context: ProblemContext, cause?: unknown): CertkeeperError {
  const { code, retryable } = classifyProblem(problem, context.source);
  const detail = describeProblem(problem);
  return new CertkeeperError(code, `${context.operation} failed: ${detail}`, {
    retryable,
    cause,
    retryAfterSeconds: problem.retryAfterSeconds,
    details: {
      acmeType: problem.type || undefined,
      httpStatus: problem.status,
      url: problem.url,
      ...context.details,
    },
  });
}

export function classifyProblem(problem: AcmeProblem, source: ProblemContext['source']): { code: ErrorCode; retryable: boolean } {
  const { type, status } = problem;
  if (type === 'rateLimited' || status === 429) return { code: 'ACME_RATE_LIMITED', retryable: true };
  if (source === 'challenge' || VALIDATION_TYPES.has(type)) {
    // A CAA record forbidding the CA needs the operator; anything else may pass next time
    // (a slow nameserver, a record that had not propagated to every CA vantage point).
    return { code: 'VALIDATION_FAILED', retryable: type !== 'caa' };
  }
  if (TRANSIENT_TYPES.has(type) || (status !== undefined && status >= 500)) return { code: 'ACME_ERROR', retryable: true };
  if (PERMANENT_TYPES.has(type)) return { code: 'ACME_ERROR', retryable: false };
  return { code: 'ACME_ERROR', retryable: true };
}

function describeProblem(problem: AcmeProblem): string {
  const head = problem.detail || (problem.status !== undefined ? `HTTP ${problem.status}` : 'no detail given');
  const type = problem.type ? ` (${problem.type})` : '';
  const subs = (problem.subproblems ?? []).map((sub) => `${sub.identifier ?? '?'}: ${sub.detail || sub.type}`);
  return subs.length > 0 ? `${head}${type}; ${subs.join('; ')}` : `${head}${type}`;
}

/**
 * Whatever a step threw, as a CertkeeperError: ours pass through, aborts become CANCELLED,
 * acme-client's plain errors take their meaning from the problem the transport recorded.
 */
export function toAcmeError(error: unknown, problem: AcmeProblem | undefined, operation: string): CertkeeperError {
  if (error instanceof CertkeeperError) return error;
  if (isAbortError(error)) return toCertkeeperError(error);
  if (problem) return problemToError(problem, { operation, source: 'response' }, error);
  const message = error instanceof Error ? error.message : String(error);
  return new CertkeeperError('ACME_ERROR', `${operation} failed: ${message}`, { cause: error });
}
