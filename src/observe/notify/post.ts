// One JSON POST to a webhook URL, with errors that say what went wrong without ever naming the
// URL (Slack and Teams URLs are the credential): status, a short scrubbed body, or a socket code.

import { systemClock, type Clock } from '../../core/clock.js';
import { CertkeeperError, isAbortError } from '../../core/errors.js';
import { retryAfterSeconds } from '../../core/retry-after.js';

export interface PostOptions {
  headers?: Record<string, string>;
  signal: AbortSignal;
  /** What is posting, for messages, e.g. `notify target "ops" (slack)`. */
  label: string;
  /** Reads a Retry-After date when the response carries no `Date` of its own; default: the system clock. */
  clock?: Clock;
}

const BODY_LIMIT = 300;

export async function postJson(url: string, body: unknown, options: PostOptions): Promise<void> {
  let response: Response;
  try {
    const headers = new Headers(options.headers);
    headers.set('content-type', 'application/json');
    if (!headers.has('user-agent')) headers.set('user-agent', 'certkeeper');
    response = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: options.signal,
      // A redirect would re-post the alert somewhere the operator did not configure.
      redirect: 'error',
    });
  } catch (error) {
    if (isAbortError(error)) throw error;
    // No `cause`: undici's messages name the host and port, and describeError would log them.
    throw new CertkeeperError('HOOK_FAILED', `${options.label}: request failed (${networkCode(error, url)})`, { retryable: true });
  }
  const text = await response.text().catch(() => '');
  if (response.ok) return;
  const snippet = scrub(text, url);
  // Either form (seconds or an HTTP date, RFC 9110 §10.2.3); the dispatcher caps the wait.
  const retryAfter = retryAfterSeconds(response.headers.get('retry-after'), response.headers.get('date'), (options.clock ?? systemClock).now());
  throw new CertkeeperError('HOOK_FAILED', `${options.label}: HTTP ${response.status}${snippet ? `: ${snippet}` : ''}`, {
    retryable: response.status >= 500 || response.status === 429 || response.status === 408,
    ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}),
    details: { status: response.status },
  });
}

/** ECONNREFUSED, ENOTFOUND, UND_ERR_SOCKET…, or undici's short reason ("bad port": fetch refuses some ports). */
function networkCode(error: unknown, url: string): string {
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === 'string') return cause.code;
  if (cause && typeof cause.message === 'string' && cause.message !== '') return scrub(cause.message, url);
  return error instanceof Error ? error.name : 'unknown error';
}

/** A short, single-line body with the URL (and its path, which holds the token) removed. */
function scrub(text: string, url: string): string {
  let out = text.replace(/\s+/g, ' ').trim();
  const secrets = [url];
  try {
    const { pathname, search } = new URL(url);
    if (pathname.length > 1) secrets.push(pathname);
    if (search.length > 1) secrets.push(search);
  } catch {
    // the schema only lets valid URLs through
  }
  for (const secret of secrets) out = out.split(secret).join('[REDACTED]');
  return out.length > BODY_LIMIT ? `${out.slice(0, BODY_LIMIT)}…` : out;
}
