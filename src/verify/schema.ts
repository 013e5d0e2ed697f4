// Config for what is served: a certificate's `verify:` endpoints and the `watch:` section
// (endpoints certkeeper does not manage). Endpoints are written "host:port" or as an object.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { durationMs, parseHostPort } from '../core/fields.js';
import { TLS_PROTOCOLS, type EndpointSpec, type TlsProtocol } from '../core/types.js';

export const DEFAULT_SETTLE_MS = 60_000;
export const DEFAULT_ALERT_DAYS = [21, 7, 1] as const;
export const DEFAULT_WATCH_INTERVAL_MS = 3_600_000;
export const DEFAULT_PROBE_TIMEOUT_MS = 10_000;
export const DEFAULT_PROBE_CONCURRENCY = 100;

/** The port a protocol listens on when the address names none. */
export const DEFAULT_PORTS: Record<TlsProtocol, number> = { tls: 443, 'starttls-smtp': 25, 'starttls-imap': 143, postgres: 5432 };

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

export function isIpAddress(host: string): boolean {
  return IPV4.test(host) || host.includes(':');
}

/** Parses "host[:port]" for a protocol; undefined when it is not an address. */
export function parseEndpoint(
  text: string,
  options: { protocol?: TlsProtocol; sni?: string; settleMs?: number; label?: string } = {},
): EndpointSpec | undefined {
  const protocol = options.protocol ?? 'tls';
  const parsed = parseHostPort(text.trim(), DEFAULT_PORTS[protocol]);
  if (!parsed || parsed.host === '') return undefined;
  const host = parsed.host.toLowerCase();
  const address = host.includes(':') ? `[${host}]:${parsed.port}` : `${host}:${parsed.port}`;
  return {
    address,
    host,
    port: parsed.port,
    protocol,
    settleMs: options.settleMs ?? DEFAULT_SETTLE_MS,
    ...(options.sni ? { sni: options.sni.toLowerCase() } : {}),
    ...(options.label ? { label: options.label } : {}),
  };
}

/** The name an endpoint goes by in tables, metrics and alerts. */
export function endpointName(endpoint: Pick<EndpointSpec, 'address' | 'label'>): string {
  return endpoint.label ?? endpoint.address;
}

const endpointObject = z
  .object({
    address: z.string().min(1),
    /** Server name for SNI and the name check (default: the host, unless it is an IP address). */
    sni: z.string().min(1).optional(),
    protocol: z.enum(TLS_PROTOCOLS).default('tls'),
    /** Deploy verification: how long a reload may take (default 60s). */
    settle: durationMs.optional(),
    label: z.string().min(1).max(100).optional(),
  })
  .strict();

/** `- host:port` or `{ address, sni?, protocol?, settle?, label? }`. */
export const endpointSchema = z.union([z.string().min(1), endpointObject]).transform((value, ctx): EndpointSpec => {
  const entry = typeof value === 'string' ? { address: value, protocol: 'tls' as const } : value;
  const parsed = parseEndpoint(entry.address, {
    protocol: entry.protocol,
    ...('sni' in entry && entry.sni ? { sni: entry.sni } : {}),
    ...('settle' in entry && entry.settle !== undefined ? { settleMs: entry.settle } : {}),
    ...('label' in entry && entry.label ? { label: entry.label } : {}),
  });
  if (!parsed) {
    ctx.addIssue({ code: 'custom', message: `"${entry.address}" is not "host:port" (IPv6 as "[::1]:443")` });
    return z.NEVER;
  }
  return parsed;
});

/** A certificate's `verify:` list. */
export const verifySchema = z.array(endpointSchema);

const watchObject = z
  .object({
    endpoints: z.array(endpointSchema).default([]),
    /** How often `certkeeper run` probes them (default 1h). */
    interval: durationMs.default(DEFAULT_WATCH_INTERVAL_MS),
    /** Alert when fewer days than these are left (default 21, 7, 1; the lowest two are critical). */
    alertDays: z
      .array(z.number().positive())
      .min(1)
      .default([...DEFAULT_ALERT_DAYS]),
    /** Extra CA certificates (PEM file) trusted besides the system's, e.g. a corporate CA. */
    caBundle: z.string().min(1).optional(),
    /** Deadline of one probe: connect, STARTTLS and handshake (default 10s). */
    timeout: durationMs.default(DEFAULT_PROBE_TIMEOUT_MS),
    /** Probes in flight at once (default 100). */
    concurrency: z.number().int().min(1).max(1000).default(DEFAULT_PROBE_CONCURRENCY),
  })
  .strict();

/** `watch:` — an object, or just the list of endpoints. */
export const watchSchema = z.preprocess((value) => (Array.isArray(value) ? { endpoints: value } : value), watchObject);

export type RawWatch = z.output<typeof watchObject>;

export interface WatchSettings {
  endpoints: EndpointSpec[];
  intervalMs: number;
  alertDays: number[];
  caBundlePath?: string;
  caBundlePem?: string;
  timeoutMs: number;
  concurrency: number;
}

/** Resolves `watch:` (reads caBundle beside the config file); problems go to `problem`. */
export function buildWatch(raw: RawWatch | undefined, baseDir: string, problem: (at: (string | number)[], message: string) => void): WatchSettings | undefined {
  if (!raw) return undefined;
  const settings: WatchSettings = {
    endpoints: raw.endpoints,
    intervalMs: raw.interval,
    alertDays: [...raw.alertDays].sort((a, b) => b - a),
    timeoutMs: raw.timeout,
    concurrency: raw.concurrency,
  };
  const seen = new Set<string>();
  raw.endpoints.forEach((endpoint, i) => {
    const key = endpointName(endpoint);
    if (seen.has(key)) problem(['watch', 'endpoints', i], `"${key}" is listed twice (give one a label)`);
    seen.add(key);
  });
  if (raw.caBundle) {
    settings.caBundlePath = path.resolve(baseDir, raw.caBundle);
    try {
      settings.caBundlePem = readFileSync(settings.caBundlePath, 'utf8');
      if (!settings.caBundlePem.includes('-----BEGIN CERTIFICATE-----')) problem(['watch', 'caBundle'], `${settings.caBundlePath} holds no PEM certificate`);
    } catch (error) {
      problem(['watch', 'caBundle'], `cannot read ${settings.caBundlePath}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }
  return settings;
}
