// The error family: every failure certkeeper reports carries a stable code, whether retrying
// could help, and the underlying cause. Callers branch on `code`, never on message text.
//
// Secrets are redacted here, where a foreign error or a hook's output becomes certkeeper's: the
// constructor scrubs the message and string details, describeError each raw cause's text (with
// the registry in core/redaction.ts). History, status, alerts and logs all quote these, so one
// scrub covers every output, including ones added later.

import { redactStrings, redactText } from './redaction.js';

export type ErrorCode =
  | 'CONFIG_INVALID' // the configuration file is unreadable, malformed or inconsistent
  | 'USAGE' // a command-line argument is wrong
  | 'ACME_ERROR' // the CA refused a request or answered in an unexpected way
  | 'ACME_RATE_LIMITED' // the CA said "rateLimited" (429); see retryAfter
  | 'ACME_UNREACHABLE' // the CA could not be reached at all
  | 'RATE_BUDGET' // certkeeper's local count of the CA's limits refused the order (plan/budget.ts)
  | 'VALIDATION_FAILED' // the CA could not validate a challenge
  | 'DNS_UPDATE_FAILED' // a DNS provider could not add or remove a record
  | 'DNS_ZONE_NOT_FOUND' // no zone could be found for a challenge name
  | 'DNS_PROPAGATION_TIMEOUT' // the record never became visible on every nameserver
  | 'DNS_QUERY_FAILED' // a DNS query got no usable answer
  | 'HOOK_FAILED' // an external command exited non-zero or could not start
  | 'HOOK_TIMEOUT' // an external command ran past its timeout
  | 'SINK_FAILED' // a sink could not deploy a certificate
  | 'SINK_TARGET_EXISTS' // a sink's target holds a file or folder certkeeper did not create
  | 'UNSAFE_PATH' // a path certkeeper writes or deletes is a symlink (or other object) it did not create
  | 'DEADLINE_EXCEEDED' // a request or an order ran past its overall deadline
  | 'STATE_IO' // the state directory could not be read or written
  | 'STATE_CORRUPT' // stored data failed to parse
  | 'STATE_CONFLICT' // a compare-and-set write lost to another writer (re-read and retry)
  | 'STATE_UNREACHABLE' // the state store (database, API server) did not answer
  | 'LOCK_TIMEOUT' // another process held the state lock for too long
  | 'CANCELLED' // the operation was aborted (shutdown, timeout of a parent)
  | 'INTERNAL'; // a bug: anything not classified above

export interface CertkeeperErrorOptions {
  retryable?: boolean;
  cause?: unknown;
  /** Seconds the remote side asked us to wait before trying again (Retry-After). */
  retryAfterSeconds?: number;
  /** Extra structured context for logs and history (strings in it are redacted like the message). */
  details?: Record<string, unknown>;
}

const RETRYABLE_BY_DEFAULT: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ACME_ERROR',
  'ACME_RATE_LIMITED',
  'ACME_UNREACHABLE',
  'VALIDATION_FAILED',
  'DNS_UPDATE_FAILED',
  'DNS_PROPAGATION_TIMEOUT',
  'DNS_QUERY_FAILED',
  'HOOK_FAILED',
  'HOOK_TIMEOUT',
  'SINK_FAILED',
  'DEADLINE_EXCEEDED',
  'LOCK_TIMEOUT',
  'STATE_CONFLICT',
  'STATE_UNREACHABLE',
]);

export class CertkeeperError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: CertkeeperErrorOptions = {}) {
    // The cause stays raw (code paths read its fields); describeError redacts its text.
    super(redactText(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CertkeeperError';
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT.has(code);
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.details = options.details === undefined ? undefined : redactStrings(options.details);
  }
}

export function isCertkeeperError(error: unknown, code?: ErrorCode): error is CertkeeperError {
  return error instanceof CertkeeperError && (code === undefined || error.code === code);
}

/** Wraps anything thrown into a CertkeeperError, keeping an existing one as it is. */
export function toCertkeeperError(error: unknown, fallback: ErrorCode = 'INTERNAL'): CertkeeperError {
  if (error instanceof CertkeeperError) return error;
  if (isAbortError(error)) return new CertkeeperError('CANCELLED', 'operation cancelled', { cause: error });
  const message = error instanceof Error ? error.message : String(error);
  return new CertkeeperError(fallback, message, { cause: error });
}

export function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || (error as { code?: string }).code === 'ABORT_ERR');
}

/**
 * A one-line description including the chain of causes, for logs and history. Causes are often
 * foreign errors with raw messages, so each text is redacted; a cause whose text is already in
 * the description (a wrapper that quoted it) is not repeated.
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    const text = redactText(current instanceof Error ? current.message : String(current));
    if (text && !parts.some((part) => part.includes(text))) parts.push(text);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': ');
}
