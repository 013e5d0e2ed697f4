// The HTTP transport under acme-client. acme-client sends everything through one shared axios
// instance whose retry interceptor sleeps with setTimeout (up to Retry-After, 5 times — hours
// when a CA rate-limits), cannot be cancelled, and turns a refused connection into a TypeError.
// So each client we build gets this transport instead (installed on its HttpClient): its own
// https.Agent trusting the configured CA bundle, the caller's AbortSignal, retries of network
// faults and 5xx through the injected Clock, 429 surfaced at once, an overall deadline on every
// exchange, and the last problem document kept so errors can be classified by type rather than
// by message.

import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { Clock } from '../core/clock.js';
import { formatDuration } from '../core/duration.js';
import { CertkeeperError, isCertkeeperError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, timerMs } from './deadline.js';
import { AcmeEndpointMap, type AcmeRequestInfo } from './endpoints.js';
import { parseProblem, parseRetryAfter, type AcmeProblem } from './errors.js';

/** What acme-client's HttpClient expects back from `request()`: axios's response shape, reduced. */
export interface AcmeHttpResponse {
  status: number;
  headers: Record<string, string | undefined>;
  data: unknown;
}

export interface AcmeTransportOptions {
  /** Extra PEM CA certificates to trust for the ACME server's HTTPS, besides the system roots. */
  caBundlePem?: string | undefined;
  clock: Clock;
  signal?: AbortSignal | undefined;
  logger: Logger;
  /** Socket idle timeout: no byte for this long fails the exchange (retried); default 30 s. */
  idleTimeoutMs?: number | undefined;
  /**
   * Overall deadline of one exchange, from connecting to the last byte, however steadily bytes
   * arrive; default 60 s. Passing it fails the request with DEADLINE_EXCEEDED, not retried.
   */
  deadlineMs?: number | undefined;
  /** Extra attempts after a network fault or a 5xx; default 2. */
  retries?: number | undefined;
  /** First retry delay, doubled each time; default 1 s. */
  retryDelayMs?: number | undefined;
  /** A 5xx asking to wait longer than this is reported instead of waited for; default 30 s. */
  maxRetryAfterMs?: number | undefined;
  /**
   * Told about every attempt (metrics): its HTTP status, or undefined when the network failed, and
   * which ACME resource it went to and how long it took. Not told about an aborted attempt.
   */
  onRequest?: ((status: number | undefined, info?: AcmeRequestInfo) => void) | undefined;
  /** The directory's URL, so a request to it is labelled `directory` even when it fails. */
  directoryUrl?: string | undefined;
  /** The account's URL when known, labelled `account`. */
  accountUrl?: string | null | undefined;
}

/** Node's codes for "the server's certificate is not trusted": retrying will not help, a CA bundle will. */
const TLS_TRUST_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const USER_AGENT = 'certkeeper (acme-client)';

export class AcmeTransport {
  private readonly agent: https.Agent;
  private readonly options: AcmeTransportOptions;
  private problem: AcmeProblem | undefined;
  private readonly endpoints: AcmeEndpointMap;

  constructor(options: AcmeTransportOptions) {
    this.options = options;
    this.agent = sharedAgent(options.caBundlePem);
    this.endpoints = new AcmeEndpointMap({ directoryUrl: options.directoryUrl, accountUrl: options.accountUrl });
  }

  /**
   * The problem document of the latest response if it was an error; a later successful response
   * clears it (a badNonce that acme-client retried successfully is not the cause of anything).
   */
  get lastProblem(): AcmeProblem | undefined {
    return this.problem;
  }

  clearProblem(): void {
    this.problem = undefined;
  }

  /**
   * Called when the client is done. The connections belong to the process's shared agent (idle
   * ones do not keep the process alive, Node unrefs them), so there is nothing of its own to close.
   */
  close(): void {}

  /** Signature of acme-client's `HttpClient.request(url, method, opts)`. */
  async request(url: string, method: string, opts: { headers?: Record<string, string>; data?: unknown } = {}): Promise<AcmeHttpResponse> {
    const { clock, signal, logger } = this.options;
    const retries = this.options.retries ?? 2;
    let delayMs = this.options.retryDelayMs ?? 1000;
    for (let attempt = 0; ; attempt++) {
      let response: AcmeHttpResponse;
      const started = performance.now();
      const info = (): AcmeRequestInfo => ({ endpoint: this.endpoints.classify(url, method), seconds: (performance.now() - started) / 1000 });
      try {
        response = await this.send(url, method.toUpperCase(), opts);
        this.endpoints.learn(url, response.headers, response.data);
        this.options.onRequest?.(response.status, info());
      } catch (error) {
        if (!signal?.aborted) this.options.onRequest?.(undefined, info());
        const code = (error as NodeJS.ErrnoException).code ?? '';
        if (signal?.aborted || (error as Error).name === 'AbortError') throw error;
        // A server that trickled its answer past the deadline would do it again: no retry.
        if (isCertkeeperError(error, 'DEADLINE_EXCEEDED')) throw error;
        if (TLS_TRUST_CODES.has(code)) {
          throw new CertkeeperError(
            'ACME_UNREACHABLE',
            `the ACME server ${new URL(url).origin} presented a certificate that is not trusted (${code}); set acme.caBundle to its CA`,
            {
              cause: error,
              retryable: false,
              details: { url, code },
            },
          );
        }
        if (attempt < retries) {
          logger.debug({ url, method, code, attempt: attempt + 1 }, 'ACME request failed at the network level; retrying');
          await clock.sleep(delayMs, signal);
          delayMs *= 2;
          continue;
        }
        throw new CertkeeperError('ACME_UNREACHABLE', `cannot reach the ACME server ${new URL(url).origin}: ${code || (error as Error).message}`, {
          cause: error,
          details: { url, code },
        });
      }

      logger.debug({ method, url, status: response.status }, 'ACME response');
      if (response.status < 400) {
        this.problem = undefined;
        return response;
      }
      const retryAfterSeconds = parseRetryAfter(response.headers['retry-after'], clock.now(), response.headers.date);
      this.problem = parseProblem(response.data, { status: response.status, retryAfterSeconds, url }) ?? {
        type: '',
        detail: `HTTP ${response.status}`,
        status: response.status,
        retryAfterSeconds,
        url,
      };
      const waitMs = retryAfterSeconds === undefined ? delayMs : retryAfterSeconds * 1000;
      if (response.status >= 500 && attempt < retries && waitMs <= (this.options.maxRetryAfterMs ?? 30_000)) {
        logger.debug({ url, method, status: response.status, attempt: attempt + 1, waitMs }, 'ACME server error; retrying');
        await clock.sleep(waitMs, signal);
        delayMs *= 2;
        continue;
      }
      // 4xx (badNonce included: acme-client retries that itself with the fresh nonce) and
      // exhausted 5xx go back to acme-client, which throws; the recorded problem explains it.
      return response;
    }
  }

  private send(url: string, method: string, opts: { headers?: Record<string, string>; data?: unknown }): Promise<AcmeHttpResponse> {
    const target = new URL(url);
    const body = opts.data === undefined || opts.data === null ? undefined : Buffer.from(JSON.stringify(opts.data));
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, accept: 'application/json, application/pem-certificate-chain, */*' };
    for (const [name, value] of Object.entries(opts.headers ?? {})) headers[name.toLowerCase()] = value;
    if (body) {
      // Every ACME POST is a JWS (RFC 8555 §6.2); acme-client set this header in the method we replace.
      headers['content-type'] ??= 'application/jose+json';
      headers['content-length'] = String(body.length);
    }
    const requestOptions: https.RequestOptions = {
      method,
      headers,
      timeout: this.options.idleTimeoutMs ?? 30_000,
      ...(this.options.signal ? { signal: this.options.signal } : {}),
    };
    const client = target.protocol === 'http:' ? http : https;
    if (target.protocol === 'https:') requestOptions.agent = this.agent;
    const deadlineMs = this.options.deadlineMs ?? DEFAULT_REQUEST_TIMEOUT_MS;

    return new Promise((resolve, reject) => {
      let settled = false;
      let deadline: NodeJS.Timeout | undefined;
      const settle = (finish: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        finish();
      };
      const request = client.request(target, requestOptions, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (error) => settle(() => reject(error)));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          settle(() =>
            resolve({ status: response.statusCode ?? 0, headers: flattenHeaders(response.headers), data: parseBody(text, response.headers['content-type']) }),
          );
        });
      });
      // The idle timeout restarts with every byte; this one does not. Destroying the request
      // closes the socket, so a kept-alive connection to a stalling server is not reused.
      deadline = setTimeout(() => {
        const error = new CertkeeperError(
          'DEADLINE_EXCEEDED',
          `the ACME server ${target.origin} did not finish answering ${method} ${target.pathname} within ${formatDuration(deadlineMs)}`,
          { details: { url, deadlineMs, scope: 'request' } },
        );
        settle(() => reject(error));
        request.destroy(error);
      }, timerMs(deadlineMs));
      request.on('timeout', () => request.destroy(Object.assign(new Error(`no answer within ${requestOptions.timeout} ms`), { code: 'ETIMEDOUT' })));
      request.on('error', (error) => settle(() => reject(error)));
      request.end(body);
    });
  }
}

/**
 * Connections to a CA at once, across every order of the process (issue 18: hundreds of orders in
 * flight). One agent per CA bundle shares its kept-alive connections among every session, so a
 * thousand orders need neither a thousand TLS handshakes nor a thousand sockets' buffers, and
 * the requests a CA sees at once stay bounded; the others queue in the agent.
 */
const MAX_SOCKETS_PER_CA = 32;
const sharedAgents = new Map<string, https.Agent>();
function sharedAgent(caBundlePem: string | undefined): https.Agent {
  const key = caBundlePem ?? '';
  let agent = sharedAgents.get(key);
  if (!agent) {
    agent = new https.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS_PER_CA, ...(caBundlePem ? { secureContext: trustingContext(caBundlePem) } : {}) });
    sharedAgents.set(key, agent);
  }
  return agent;
}

/**
 * One TLS context per CA bundle, built once: given `ca` instead, every new connection re-parses
 * the ~150 system roots (and the agent stringifies them to name each request), which dominated
 * the CPU time of a 50-certificate run (bench/issue.sh).
 */
const trustingContexts = new Map<string, tls.SecureContext>();
function trustingContext(caBundlePem: string): tls.SecureContext {
  let context = trustingContexts.get(caBundlePem);
  if (!context) {
    context = tls.createSecureContext({ ca: [...tls.rootCertificates, caBundlePem] });
    trustingContexts.set(caBundlePem, context);
  }
  return context;
}

function flattenHeaders(headers: http.IncomingHttpHeaders): Record<string, string | undefined> {
  const flat: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  return flat;
}

/** JSON bodies (directory, objects, problems) as objects; anything else (PEM chains) as text. */
function parseBody(text: string, contentType: string | undefined): unknown {
  if (text.length === 0) return '';
  if (contentType?.includes('json')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

interface AcmeHttpClientInternals {
  request(url: string, method: string, opts?: { headers?: Record<string, string>; data?: unknown }): Promise<unknown>;
}

/**
 * Routes an acme-client Client's HTTP through `transport`. Relies on acme-client 5.x keeping its
 * HttpClient at `client.http` with a `request(url, method, opts)` method; fails loudly otherwise.
 */
export function installTransport(client: object, transport: AcmeTransport): void {
  const internals = (client as { http?: Partial<AcmeHttpClientInternals> }).http;
  if (!internals || typeof internals.request !== 'function') {
    throw new CertkeeperError('INTERNAL', 'acme-client has no Client.http.request (expected acme-client 5.x); cannot install the ACME transport', {
      retryable: false,
    });
  }
  internals.request = (url, method, opts) => transport.request(url, method, opts);
  // acme-client gives up after 5 badNonce answers in a row; a CA under load (or Pebble with
  // PEBBLE_WFE_NONCEREJECT=50) rejects that many often enough to fail 1 order in 10. Each retry
  // is one cheap request with the fresh nonce the rejection carried.
  const nonceRetries = internals as { maxBadNonceRetries?: unknown };
  if (typeof nonceRetries.maxBadNonceRetries === 'number') nonceRetries.maxBadNonceRetries = BAD_NONCE_RETRIES;
}

/** Consecutive badNonce rejections of one request tolerated (RFC 8555 §6.5: clients retry them). */
export const BAD_NONCE_RETRIES = 20;
