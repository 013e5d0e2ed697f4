// How PostgresStorage reaches its database: the options it is built from, their translation into
// node-postgres settings (libpq's sslmode/sslrootcert included), and the one place where a driver
// error becomes a CertkeeperError, with the password taken out of everything it carries.

import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { CertkeeperError, type ErrorCode } from '../../../core/errors.js';
import { REDACTED } from '../../../core/redaction.js';

export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';

export interface PostgresConnectionOptions {
  /** `postgres://user:password@host:port/database?sslmode=...`; `?host=/run/postgresql` for a unix socket. */
  url: string;
  /** Overrides the URL's password (a `passwordFile` secret reference resolved by the config layer). */
  password?: string;
  /** Default: from the URL; else `disable` for a loopback or unix-socket host and `verify-full` for any other. */
  sslmode?: SslMode;
  /** A PEM file of the CA(s) the server's certificate must chain to (libpq's sslrootcert); default: the system's CAs. */
  sslrootcert?: string;
  /** Connections the pool may open (default 5). */
  poolSize?: number;
  /** Connecting, or waiting for a free pooled connection, gives up after this (default 5 s). */
  connectTimeoutMs?: number;
  /** A statement is cancelled by the server after this, and abandoned by the client a second later (default 15 s). */
  statementTimeoutMs?: number;
}

export interface ResolvedConnection {
  /** Settings for every pg.Client and the pool (without pool-only fields). */
  client: pg.ClientConfig;
  poolSize: number;
  statementTimeoutMs: number;
  /** `postgres://user@host:port/database`: never the password. */
  display: string;
  /** Strings that must never appear in an error, a log line or a status. */
  secrets: string[];
}

const SSL_MODES: readonly string[] = ['disable', 'require', 'verify-ca', 'verify-full'];
const EMPTY_HOST = 'certkeeper-empty-host';
const DEFAULT_SOCKET_DIR = '/var/run/postgresql';
const URL_PARAMETERS = new Set(['sslmode', 'sslrootcert', 'host', 'port', 'application_name']);

export function resolveConnection(options: PostgresConnectionOptions): ResolvedConnection {
  let url: URL;
  // libpq allows an empty host (`postgres://user@/db?host=/run/postgresql`, `postgres:///db`);
  // WHATWG URL does not, so a placeholder stands in for it while parsing.
  const emptyHost = /^postgres(ql)?:\/\/([^@/?#]*@)?[:/]/i.test(options.url);
  try {
    url = new URL(emptyHost ? options.url.replace(/^(postgres(?:ql)?:\/\/(?:[^@/?#]*@)?)(?=[:/])/i, `$1${EMPTY_HOST}`) : options.url);
  } catch {
    // URL's own error carries the input (and so the password) in `input`: never pass it on.
    throw invalid('the PostgreSQL URL cannot be parsed (expected postgres://user:password@host:port/database)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw invalid(`the PostgreSQL URL must start with postgres:// (not ${url.protocol}//)`);
  for (const name of url.searchParams.keys()) {
    if (!URL_PARAMETERS.has(name))
      throw invalid(`the PostgreSQL URL has a parameter certkeeper does not use: ${name} (known: ${[...URL_PARAMETERS].join(', ')})`);
  }

  const user = decodeURIComponent(url.username);
  const password = options.password ?? (url.password === '' ? undefined : decodeURIComponent(url.password));
  const socketDir = url.searchParams.get('host') ?? undefined;
  // No host at all means libpq's default socket folder (Debian's).
  const host = socketDir ?? (emptyHost ? DEFAULT_SOCKET_DIR : url.hostname.replace(/^\[(.*)\]$/, '$1'));
  const portText = url.searchParams.get('port') ?? url.port;
  const port = portText === '' ? 5432 : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw invalid(`the PostgreSQL port must be a number from 1 to 65535, not ${portText}`);
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || undefined;
  const sslmode = options.sslmode ?? url.searchParams.get('sslmode') ?? defaultSslMode(host);
  if (!SSL_MODES.includes(sslmode)) {
    throw invalid(
      `sslmode ${sslmode} is not supported: use one of ${SSL_MODES.join(', ')} (node-postgres cannot fall back from TLS to plain text as libpq's prefer/allow do)`,
    );
  }
  const sslrootcert = options.sslrootcert ?? url.searchParams.get('sslrootcert') ?? undefined;
  const statementTimeoutMs = options.statementTimeoutMs ?? 15_000;

  const client: pg.ClientConfig = {
    host,
    port,
    database,
    ssl: sslOptions(sslmode as SslMode, sslrootcert, host),
    application_name: url.searchParams.get('application_name') ?? 'certkeeper',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    // The server cancels a statement past its deadline; the client stops waiting shortly after,
    // for when the server (or the network to it) is gone and cannot say so.
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + 1_000,
    // A silently dropped connection (a partition, a NAT timeout) is noticed by TCP keepalives.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
  if (user !== '') client.user = user;
  if (password !== undefined) client.password = password;

  const userPart = user === '' ? '' : `${encodeURIComponent(user)}@`;
  const hostPart = socketDir !== undefined || emptyHost ? `[${host}]${portText === '' ? '' : `:${port}`}` : url.host;
  const secrets = [password, process.env.PGPASSWORD].filter((s): s is string => typeof s === 'string' && s.length > 0);
  // The URL-encoded form too: an error quoting the URL would carry that one.
  for (const secret of [...secrets]) if (encodeURIComponent(secret) !== secret) secrets.push(encodeURIComponent(secret));
  if (url.password !== '') secrets.push(url.password);
  return {
    client,
    poolSize: options.poolSize ?? 5,
    statementTimeoutMs,
    display: `postgres://${userPart}${hostPart}/${database ?? ''}`,
    secrets: [...new Set(secrets)],
  };
}

function defaultSslMode(host: string | undefined): SslMode {
  if (host === undefined || host.startsWith('/') || host === 'localhost' || host === '::1' || /^127\./.test(host)) return 'disable';
  return 'verify-full';
}

function sslOptions(mode: SslMode, rootCertFile: string | undefined, host: string | undefined): false | ConnectionOptions {
  if (mode === 'disable') return false;
  let ca: string | undefined;
  if (rootCertFile !== undefined) {
    try {
      ca = readFileSync(rootCertFile, 'utf8');
    } catch (error) {
      throw invalid(`cannot read sslrootcert ${rootCertFile}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
  }
  // libpq: `require` with a root certificate verifies the chain as verify-ca does.
  if (mode === 'require' && ca === undefined) return { rejectUnauthorized: false };
  const verified: ConnectionOptions = { rejectUnauthorized: true, ...(ca === undefined ? {} : { ca }) };
  if (mode === 'verify-full') return { ...verified, servername: host !== undefined && !host.startsWith('/') ? host : undefined };
  return { ...verified, checkServerIdentity: () => undefined }; // verify-ca: the chain, not the name
}

function invalid(message: string): CertkeeperError {
  return new CertkeeperError('CONFIG_INVALID', message, { retryable: false });
}

/** Replaces every secret in `text` (longest first) with REDACTED. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].sort((x, y) => y.length - x.length)) out = out.split(secret).join(REDACTED);
  return out;
}

/**
 * The CertkeeperError for a failure of `action` (e.g. "read certs/www"). A driver error with no
 * SQLSTATE is the connection failing (refused, reset, timed out, closed): STATE_UNREACHABLE, as
 * are SQLSTATEs saying the server is going away, starting up, full or too slow. The cause kept is a
 * plain copy (name, code, redacted message), so no secret rides along in a property of the original.
 */
export function storageError(action: string, error: unknown, secrets: readonly string[]): CertkeeperError {
  if (error instanceof CertkeeperError) return error;
  const sqlState = error instanceof pg.DatabaseError ? error.code : undefined;
  const message = redact(error instanceof Error ? error.message : String(error), secrets);
  const code = classify(error, sqlState);
  const cause = new Error(message);
  cause.name = error instanceof Error ? error.name : 'Error';
  const errno = (error as { code?: unknown } | undefined)?.code;
  if (typeof errno === 'string') Object.assign(cause, { code: errno });
  const details = sqlState === undefined ? undefined : { sqlState };
  const hint = sqlState?.startsWith('28') ? ' (check the user and password given for the state database)' : '';
  return new CertkeeperError(code, `PostgreSQL: cannot ${action}: ${message}${hint}`, { cause, details, retryable: code === 'STATE_UNREACHABLE' });
}

function classify(error: unknown, sqlState: string | undefined): ErrorCode {
  if (sqlState === undefined) {
    const name = error instanceof Error ? error.name : '';
    return name === 'TypeError' || name === 'RangeError' ? 'INTERNAL' : 'STATE_UNREACHABLE';
  }
  if (sqlState.startsWith('08') || sqlState.startsWith('53') || sqlState.startsWith('57P')) return 'STATE_UNREACHABLE';
  if (sqlState === '57014') return 'STATE_UNREACHABLE'; // statement_timeout: the server did not answer in time
  return 'STATE_IO';
}
