// `certkeeper probe [ENDPOINT]...`: what TLS endpoints serve right now — expiry, issuer, names,
// chain trust, name match, days left, and which managed certificate they carry (drift). Works
// without any config file (`certkeeper probe example.com:443 db.internal:5432`); with a config and
// no endpoints it probes `watch:`. Exit 0 when every endpoint passes, 1 when any fails a check or
// is inside an alert threshold, 2 on a usage error.

import { existsSync, readFileSync } from 'node:fs';
import { CertkeeperError } from '../../core/errors.js';
import { formatDuration, MAX_TIMER_MS, parseDuration } from '../../core/duration.js';
import { TLS_PROTOCOLS, type EndpointSpec, type TlsProtocol } from '../../core/types.js';
import type { Config } from '../../config/load.js';
import type { ManagedCertificate } from '../../verify/checks.js';
import {
  DEFAULT_ALERT_DAYS,
  DEFAULT_PROBE_CONCURRENCY,
  DEFAULT_PROBE_TIMEOUT_MS,
  DEFAULT_WATCH_INTERVAL_MS,
  parseEndpoint,
  type WatchSettings,
} from '../../verify/schema.js';
import { checkEndpoints } from '../../verify/watcher.js';
import type { WatchResult } from '../../core/endpoint-results.js';
import { stateStore } from '../state.js';
import { commandLogger, configPath, EXIT_FAILED, EXIT_OK, loadConfig, type CommandIo, type GlobalOptions } from '../context.js';
import { oneLine, renderTable, shortTime } from '../table.js';
import { mapLimit } from '../../core/concurrency.js';

export interface ProbeCommandOptions {
  sni?: string;
  protocol?: string;
  caBundle?: string;
  timeout?: string;
  concurrency?: string;
  json?: boolean;
}

const usage = (message: string): CertkeeperError => new CertkeeperError('USAGE', message, { retryable: false });

export async function probeCommand(args: string[], options: ProbeCommandOptions, global: GlobalOptions, io: CommandIo): Promise<number> {
  const protocol = (options.protocol ?? 'tls') as TlsProtocol;
  if (!(TLS_PROTOCOLS as readonly string[]).includes(protocol)) throw usage(`--protocol must be one of ${TLS_PROTOCOLS.join(', ')}`);
  const timeoutMs = options.timeout === undefined ? undefined : parseDuration(options.timeout);
  if (timeoutMs === undefined && options.timeout !== undefined) throw usage('--timeout must be a duration, e.g. 5s');
  // It becomes a setTimeout, which fires after 1 ms past 2^31-1 ms.
  if (timeoutMs !== undefined && !(timeoutMs > 0 && timeoutMs <= MAX_TIMER_MS))
    throw usage(`--timeout must be longer than 0 and at most ${formatDuration(MAX_TIMER_MS)}`);
  const concurrency = options.concurrency === undefined ? undefined : Number(options.concurrency);
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) throw usage('--concurrency must be a positive whole number');

  // A config is optional when endpoints are named: only an explicit one, or one at the default path, is read.
  const explicit = global.config !== undefined || io.env.CERTKEEPER_CONFIG !== undefined;
  const config: Config | undefined = explicit || args.length === 0 || existsSync(configPath(global, io.env)) ? loadConfig(global, io) : undefined;

  let endpoints: EndpointSpec[];
  if (args.length > 0) {
    endpoints = args.map((text) => {
      const endpoint = parseEndpoint(text, { protocol, ...(options.sni ? { sni: options.sni } : {}) });
      if (!endpoint) throw usage(`"${text}" is not host:port (IPv6 as [::1]:443)`);
      return endpoint;
    });
  } else {
    endpoints = config?.watch?.endpoints ?? [];
    if (endpoints.length === 0) throw usage('name endpoints to probe (certkeeper probe example.com:443), or list them under watch: in the config');
  }
  let caBundlePem = config?.watch?.caBundlePem;
  if (options.caBundle) {
    try {
      caBundlePem = readFileSync(options.caBundle, 'utf8');
    } catch (error) {
      throw usage(`cannot read --ca-bundle ${options.caBundle}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }
  const settings: WatchSettings = {
    endpoints,
    intervalMs: config?.watch?.intervalMs ?? DEFAULT_WATCH_INTERVAL_MS,
    alertDays: config?.watch?.alertDays ?? [...DEFAULT_ALERT_DAYS],
    timeoutMs: timeoutMs ?? config?.watch?.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
    concurrency: concurrency ?? config?.watch?.concurrency ?? DEFAULT_PROBE_CONCURRENCY,
    ...(caBundlePem ? { caBundlePem } : {}),
  };
  const managed = config ? await managedCertificates(config, global, io) : [];
  const results = await checkEndpoints(settings, { clock: io.clock, managed });
  if (options.json) io.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else io.stdout.write(renderEndpoints(results));
  return results.every((r) => r.ok) ? EXIT_OK : EXIT_FAILED;
}

async function managedCertificates(config: Config, global: GlobalOptions, io: CommandIo): Promise<ManagedCertificate[]> {
  const { logger } = commandLogger(global, io, config);
  const store = await stateStore(config, io.clock, logger);
  // Only the serial is needed: the recorded details (one small read each), a bounded number at once.
  return mapLimit(config.certificates, 32, async (spec) => {
    const stored = await store.peekCertificate(spec.name).catch(() => undefined);
    return { name: spec.name, domains: spec.domains, serial: stored?.info.serial ?? null };
  });
}

/** The endpoints table of `probe` and `status`. */
export function renderEndpoints(results: readonly WatchResult[]): string {
  if (results.length === 0) return 'no endpoints\n';
  return renderTable(
    ['ENDPOINT', 'STATUS', 'DAYS LEFT', 'NOT AFTER', 'SERIAL', 'ISSUER', 'NAMES', 'MANAGED BY', 'DETAIL'],
    results.map((r) => [
      r.endpoint === r.address ? r.address : `${r.endpoint} (${r.address})`,
      r.ok ? 'ok' : (r.problems[0] ?? (r.alert.alert ? `expiring` : 'failing')),
      r.daysLeft === null ? '-' : r.daysLeft.toFixed(1),
      shortTime(r.leaf?.notAfter ?? null),
      r.leaf ? r.leaf.serial.slice(0, 16) : '-',
      r.leaf ? oneLine(commonName(r.leaf.issuer), 40) : '-',
      r.leaf ? oneLine(r.leaf.names.join(' '), 60) : '-',
      r.drift ? `${r.drift.cert} (${r.drift.current ? 'current' : 'STALE'})` : '-',
      oneLine(r.messages.join('; ')),
    ]),
  );
}

function commonName(dn: string): string {
  return /CN=([^,]+)/.exec(dn)?.[1] ?? dn;
}
