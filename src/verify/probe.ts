// The TLS client probe: connects to one endpoint (directly, or through STARTTLS for SMTP, IMAP
// and PostgreSQL), completes a handshake with SNI, and reports what is served — the chain, the
// leaf's serial, validity, issuer and names, whether the chain validates against the system
// trust store (plus an optional CA bundle) and whether the name matches. It never throws: every
// failure is a result. Deadlines are real timers because they bound I/O (as runCommand's do).

import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { EndpointSpec } from '../core/types.js';
import type { ProbeFailure, ProbeResult, ServedCertificate } from '../core/endpoint-results.js';
import { normalizeSerial, subjectAltDnsNames } from '../core/x509.js';
import { DEFAULT_PROBE_CONCURRENCY, DEFAULT_PROBE_TIMEOUT_MS, endpointName, isIpAddress } from './schema.js';
import { mapLimit } from '../core/concurrency.js';

export interface ProbeOptions {
  /** Deadline of the whole probe (connect, STARTTLS, handshake); default 10 s. */
  timeoutMs?: number;
  /** Deadline of the TCP connect alone; default min(5 s, timeoutMs). */
  connectTimeoutMs?: number;
  /** Extra trusted CA certificates (PEM), besides the system's. */
  caBundlePem?: string;
  /** "now" for the result's `at` (the injected clock). */
  now?: () => Date;
}

export type ProbeFn = (endpoint: EndpointSpec, options?: ProbeOptions) => Promise<ProbeResult>;

class ProbeError extends Error {
  constructor(
    readonly failure: ProbeFailure,
    message: string,
  ) {
    super(message);
  }
}

/** The server name a probe sends and checks: the configured SNI, else the host unless it is an IP. */
export function serverName(endpoint: EndpointSpec): string | null {
  if (endpoint.sni) return endpoint.sni;
  return isIpAddress(endpoint.host) ? null : endpoint.host;
}

export async function probeEndpoint(endpoint: EndpointSpec, options: ProbeOptions = {}): Promise<ProbeResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const connectTimeoutMs = Math.min(options.connectTimeoutMs ?? 5_000, timeoutMs);
  const started = performance.now();
  const at = (options.now?.() ?? new Date()).toISOString();
  const sni = serverName(endpoint);
  const base = { endpoint: endpointName(endpoint), address: endpoint.address, sni, protocol: endpoint.protocol, at };
  const sockets: net.Socket[] = [];
  let deadline: NodeJS.Timeout | undefined;
  try {
    const expired = new Promise<never>((_resolve, reject) => {
      deadline = setTimeout(() => reject(new ProbeError('timeout', `no TLS handshake within ${timeoutMs} ms`)), timeoutMs);
    });
    expired.catch(() => {});
    const work = (async () => {
      const raw = await connect(endpoint, connectTimeoutMs, sockets);
      if (endpoint.protocol !== 'tls') await startTls(endpoint.protocol, raw, sni);
      return handshake(raw, sni, options.caBundlePem, sockets);
    })();
    work.catch(() => {});
    const secure = await Promise.race([work, expired]);
    const chain = readChain(secure);
    const leaf = chain[0] ?? null;
    if (!leaf) throw new ProbeError('handshake', 'the server sent no certificate');
    const peer = secure.getPeerCertificate(false);
    const identity = sni ?? endpoint.host;
    const nameProblem = tls.checkServerIdentity(identity, peer);
    const authorizationError = secure.authorizationError ? String(secure.authorizationError) : null;
    return {
      ...base,
      reachable: true,
      failure: null,
      error: null,
      durationMs: Math.round(performance.now() - started),
      leaf,
      chain,
      trusted: secure.authorized,
      trustError: secure.authorized ? null : (authorizationError ?? 'not trusted'),
      nameMatch: nameProblem === undefined,
      nameError: nameProblem ? nameProblem.message : null,
    };
  } catch (error) {
    const failure = error instanceof ProbeError ? error.failure : classify(error);
    return {
      ...base,
      reachable: false,
      failure,
      error: error instanceof Error ? error.message : String(error),
      durationMs: Math.round(performance.now() - started),
      leaf: null,
      chain: [],
      trusted: null,
      trustError: null,
      nameMatch: null,
      nameError: null,
    };
  } finally {
    clearTimeout(deadline);
    // TLS socket first: destroying the socket under a live TLSSocket crashes Node 20 (SIGSEGV).
    for (const socket of sockets.reverse()) socket.destroy();
  }
}

/** Probes every endpoint, at most `concurrency` at once; results in input order. */
export async function probeAll(
  endpoints: readonly EndpointSpec[],
  options: ProbeOptions & { concurrency?: number; probe?: ProbeFn } = {},
): Promise<ProbeResult[]> {
  const probe = options.probe ?? probeEndpoint;
  return mapLimit(endpoints, options.concurrency ?? DEFAULT_PROBE_CONCURRENCY, (endpoint) => probe(endpoint, options));
}

function connect(endpoint: EndpointSpec, timeoutMs: number, sockets: net.Socket[]): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: endpoint.host, port: endpoint.port });
    sockets.push(socket);
    const timer = setTimeout(() => {
      reject(new ProbeError('connect-timeout', `no TCP connection to ${endpoint.address} within ${timeoutMs} ms`));
      socket.destroy();
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket); // later errors surface through the TLS socket; the listener above stays so none is unhandled
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function handshake(raw: net.Socket, sni: string | null, caBundlePem: string | undefined, sockets: net.Socket[]): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tls.connect({
      socket: raw,
      ...(sni ? { servername: sni } : {}),
      rejectUnauthorized: false, // judged below, so an untrusted chain is still read and reported
      checkServerIdentity: () => undefined, // the name is checked separately: `authorized` then means the chain alone
      ...(caBundlePem ? { secureContext: trustContext(caBundlePem) } : {}),
      // Accept what old servers offer: the probe reports what is served, it does not enforce policy.
      minVersion: 'TLSv1',
    });
    sockets.push(secure);
    secure.once('secureConnect', () => resolve(secure));
    // `on`, not `once`: a late second error (a reset after the handshake) must find a listener.
    secure.on('error', (error) => reject(new ProbeError('handshake', `TLS handshake failed: ${error.message}`)));
    secure.once('close', () => reject(new ProbeError('closed', 'the connection closed during the TLS handshake')));
  });
}

/** One secure context per CA bundle: parsing the system roots again for every probe costs more than the handshake. */
const trustContexts = new Map<string, tls.SecureContext>();
function trustContext(caBundlePem: string): tls.SecureContext {
  let context = trustContexts.get(caBundlePem);
  if (!context) {
    if (trustContexts.size >= 8) trustContexts.clear();
    context = tls.createSecureContext({ ca: [...tls.rootCertificates, caBundlePem], minVersion: 'TLSv1' });
    trustContexts.set(caBundlePem, context);
  }
  return context;
}

/** Reads the served chain, leaf first, following issuer links until a self-signed one. */
function readChain(secure: tls.TLSSocket): ServedCertificate[] {
  const chain: ServedCertificate[] = [];
  const seen = new Set<string>();
  let current: tls.DetailedPeerCertificate | undefined = secure.getPeerCertificate(true);
  while (current && current.raw && !seen.has(current.fingerprint256)) {
    seen.add(current.fingerprint256);
    chain.push(describe(new X509Certificate(current.raw)));
    current = current.issuerCertificate;
  }
  return chain;
}

function describe(cert: X509Certificate): ServedCertificate {
  const ips = (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((part) => part.startsWith('IP Address:'))
    .map((part) => `IP:${part.slice('IP Address:'.length)}`);
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    issuer: cert.issuer.replace(/\n/g, ', '),
    serial: normalizeSerial(cert.serialNumber),
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(cert.validTo).toISOString(),
    names: [...subjectAltDnsNames(cert), ...ips],
    fingerprint256: cert.fingerprint256,
  };
}

function classify(error: unknown): ProbeFailure {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'dns';
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'closed';
  return 'error';
}

// ---- STARTTLS: the plaintext exchange before the handshake ----

async function startTls(protocol: EndpointSpec['protocol'], socket: net.Socket, sni: string | null): Promise<void> {
  const reader = new LineReader(socket);
  try {
    if (protocol === 'starttls-smtp') {
      await reader.smtpReply(220, 'greeting');
      socket.write(`EHLO ${sni ?? 'certkeeper.invalid'}\r\n`);
      const ehlo = await reader.smtpReply(250, 'EHLO');
      if (!ehlo.some((line) => /^250[- ]STARTTLS\b/i.test(line))) throw new ProbeError('starttls', 'the SMTP server does not offer STARTTLS');
      socket.write('STARTTLS\r\n');
      await reader.smtpReply(220, 'STARTTLS');
    } else if (protocol === 'starttls-imap') {
      const greeting = await reader.line();
      if (!/^\* (OK|PREAUTH)\b/i.test(greeting)) throw new ProbeError('starttls', `unexpected IMAP greeting: ${greeting.slice(0, 80)}`);
      socket.write('ck1 STARTTLS\r\n');
      for (;;) {
        const line = await reader.line();
        if (!line.startsWith('ck1 ')) continue;
        if (!/^ck1 OK\b/i.test(line)) throw new ProbeError('starttls', `IMAP STARTTLS refused: ${line.slice(0, 80)}`);
        break;
      }
    } else if (protocol === 'postgres') {
      // SSLRequest: length 8, code 80877103; the server answers one byte, S (go ahead) or N.
      socket.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]));
      const answer = await reader.bytes(1);
      if (answer[0] !== 0x53) throw new ProbeError('starttls', 'the PostgreSQL server does not accept TLS (SSLRequest answered N)');
    }
  } finally {
    reader.detach();
  }
}

/** Reads CRLF lines or raw bytes from a plaintext socket, then hands the socket over intact. */
class LineReader {
  private buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private failed: Error | undefined;
  private readonly onData = (chunk: Buffer): void => {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    this.waiter?.();
  };
  private readonly onEnd = (): void => {
    this.failed = new ProbeError('starttls', 'the server closed the connection before STARTTLS');
    this.waiter?.();
  };

  constructor(private readonly socket: net.Socket) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
  }

  detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.pause();
  }

  private async until<T>(take: () => T | undefined): Promise<T> {
    for (;;) {
      const value = take();
      if (value !== undefined) return value;
      if (this.failed) throw this.failed;
      if (this.buffer.length > 16_384) throw new ProbeError('starttls', 'the server sent too much before STARTTLS');
      await new Promise<void>((resolve) => (this.waiter = resolve));
      this.waiter = undefined;
    }
  }

  line(): Promise<string> {
    return this.until(() => {
      const end = this.buffer.indexOf('\n');
      if (end < 0) return undefined;
      const line = this.buffer.subarray(0, end).toString('latin1').replace(/\r$/, '');
      this.buffer = this.buffer.subarray(end + 1);
      return line;
    });
  }

  bytes(count: number): Promise<Buffer> {
    return this.until(() => {
      if (this.buffer.length < count) return undefined;
      const out = this.buffer.subarray(0, count);
      this.buffer = this.buffer.subarray(count);
      return out;
    });
  }

  /** One SMTP reply (continuation lines "250-…", last "250 …"); throws unless its code is `expected`. */
  async smtpReply(expected: number, what: string): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.line();
      lines.push(line);
      if (!/^\d{3}-/.test(line)) break;
    }
    const last = lines.at(-1) ?? '';
    if (!last.startsWith(String(expected))) throw new ProbeError('starttls', `SMTP ${what}: expected ${expected}, got "${last.slice(0, 80)}"`);
    return lines;
  }
}
