// The agent's HTTP endpoint (`http: { listen: 127.0.0.1:9107 }`): Prometheus metrics, liveness,
// readiness, the status rows of `status --json`, and the control endpoint `certkeeper reload`
// talks to. Plain node:http: five routes need no framework.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CertkeeperError, describeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { StatusRow } from '../core/status.js';
import { parseListen } from './http-schema.js';
import { contentSecurityPolicy } from './page/script.js';
import { statusBody, statusEtag } from './status-body.js';
import type { Readiness } from './readiness.js';

export { DEFAULT_HTTP_LISTEN, DEFAULT_HTTP_PORT, httpSettingsSchema, parseListen, type HttpSettings } from './http-schema.js';

export interface ReloadResult {
  ok: boolean;
  error?: string;
}

export interface HttpServerOptions {
  /** "host:port"; port 0 picks a free port (see `address` of the result). */
  listen: string;
  metrics: { render(): Promise<string>; readonly contentType: string };
  status: () => Promise<StatusRow[]>;
  /**
   * GET /: the status page (observe/page), read-only. Given the query (page, cert); undefined
   * for an unknown certificate (404). Without it GET / answers 404.
   */
  page?: (query: URLSearchParams) => Promise<string | undefined>;
  ready: () => Readiness | Promise<Readiness>;
  /** Re-reads the config; without it POST /reload answers 501. */
  onReload?: () => Promise<ReloadResult>;
  /**
   * POST /reload is unauthenticated, so by default only loopback clients may call it: the
   * metrics port is often opened to a Prometheus server elsewhere, and nobody there should be
   * able to make the agent re-read its config and secret files at will. Requests carrying an
   * Origin header (a browser page, possibly cross-site) are refused for the same reason.
   */
  allowRemoteReload?: boolean;
  logger: Logger;
}

export interface HttpServerHandle {
  /** "host:port" actually bound, IPv6 in brackets ("[::1]:40123"). */
  address: string;
  close(): Promise<void>;
}

type Handler = (request: http.IncomingMessage, response: http.ServerResponse) => Promise<void>;

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServerHandle> {
  const target = parseListen(options.listen);
  if (!target) throw new CertkeeperError('CONFIG_INVALID', `http.listen "${options.listen}" is not "host:port"`, { retryable: false });
  const logger = options.logger;
  let reloading: Promise<ReloadResult> | undefined;

  const routes: Record<string, Partial<Record<'GET' | 'POST', Handler>>> = {
    '/': {
      GET: async (request, response) => {
        if (!options.page) return sendJson(response, 404, { error: 'not found' });
        const html = await options.page(new URL(request.url ?? '/', 'http://agent').searchParams);
        if (html === undefined)
          return sendPage(response, 404, '<!doctype html><title>not found</title><p>No such certificate. <a href="./">All certificates</a></p>\n');
        sendPage(response, 200, html);
      },
    },
    '/metrics': {
      GET: async (_request, response) => send(response, 200, options.metrics.contentType, await options.metrics.render()),
    },
    '/healthz': {
      GET: async (_request, response) => send(response, 200, 'text/plain; charset=utf-8', 'ok\n'),
    },
    '/readyz': {
      GET: async (_request, response) => {
        const readiness = await options.ready();
        sendJson(response, readiness.ready ? 200 : 503, readiness);
      },
    },
    '/status': {
      GET: async (request, response) => {
        // The status page polls this: at 10,000 certificates the body is megabytes, so an unchanged
        // one is answered 304 to If-None-Match (status-body.ts).
        const rows = await options.status();
        const etag = statusEtag(rows);
        response.setHeader('etag', etag);
        if (request.headers['if-none-match'] === etag) {
          response.writeHead(304, { 'cache-control': 'no-store' });
          return void response.end();
        }
        send(response, 200, 'application/json; charset=utf-8', statusBody(rows).body);
      },
    },
    '/reload': {
      POST: async (request, response) => {
        if (!options.onReload) return sendJson(response, 501, { ok: false, error: 'reload is not available' });
        if (!(options.allowRemoteReload ?? false) && !isLoopback(request.socket.remoteAddress)) {
          logger.warn({ remote: request.socket.remoteAddress }, 'refused a reload request from a non-loopback client');
          return sendJson(response, 403, { ok: false, error: 'reload is accepted from loopback clients only' });
        }
        if (request.headers.origin !== undefined) return sendJson(response, 403, { ok: false, error: 'reload is not accepted from browsers' });
        // Concurrent requests share one reload instead of racing two.
        reloading ??= options.onReload().finally(() => {
          reloading = undefined;
        });
        const result = await reloading;
        sendJson(response, result.ok ? 200 : 422, result.ok ? { ok: true } : { ok: false, error: result.error ?? 'reload failed' });
      },
    },
  };

  const server = http.createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]!;
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    // Bodies are never needed; drain them so keep-alive connections stay usable.
    request.resume();
    if (!route) return sendJson(response, 404, { error: 'not found' });
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    const handler = method === 'GET' || method === 'POST' ? route[method] : undefined;
    if (!handler) {
      const allowed = Object.keys(route).flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m]));
      response.setHeader('allow', allowed.join(', '));
      return sendJson(response, 405, { error: `use ${allowed.join(' or ')}` });
    }
    handler(request, response).catch((error: unknown) => {
      logger.warn({ path, err: describeError(error) }, 'http endpoint failed');
      if (!response.headersSent) sendJson(response, 500, { error: 'internal error' });
      else response.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(new CertkeeperError('CONFIG_INVALID', `cannot listen on ${options.listen}: ${error.code ?? error.message}`, { cause: error, retryable: false }));
    };
    server.once('error', onError);
    server.listen({ host: target.host, port: target.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (error) => logger.warn({ err: describeError(error) }, 'http server error'));
  const bound = server.address() as AddressInfo;
  const address = bound.family === 'IPv6' || bound.address.includes(':') ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`;
  logger.info({ address }, 'http endpoint listening');

  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(response: http.ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}

/** The page with headers that keep it self-contained (its CSP is also in the document, for the static report). */
function sendPage(response: http.ServerResponse, status: number, html: string): void {
  response.setHeader('content-security-policy', contentSecurityPolicy(true));
  response.setHeader('x-content-type-options', 'nosniff');
  response.setHeader('referrer-policy', 'no-referrer');
  response.setHeader('x-frame-options', 'DENY');
  send(response, status, 'text/html; charset=utf-8', html);
}

function sendJson(response: http.ServerResponse, status: number, value: unknown): void {
  send(response, status, 'application/json; charset=utf-8', `${JSON.stringify(value, null, 2)}\n`);
}

/** 127.0.0.0/8, ::1, and IPv4 loopback mapped into IPv6. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  return v4.startsWith('127.') || address === '::1';
}
