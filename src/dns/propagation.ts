// Is the challenge record visible yet? Polls every authoritative nameserver of the zone directly
// (no recursion, so no resolver cache can answer for them) until each one serves the TXT value,
// before the CA is asked to look. Also finds the name a domain's challenge record is written at.

import type { Clock } from '../core/clock.js';
import { challengeName, normalizeDomain } from '../core/domain.js';
import { formatDuration } from '../core/duration.js';
import { CertkeeperError, isCertkeeperError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { authoritativeNameservers, findZone, followCname } from './resolver.js';
import { query } from './wire/client.js';
import { RCODE, normalizeName, rcodeName, rdata, sameName, txtValue } from './wire/message.js';

/** One exchange may not outlast this, however long the overall wait. */
const MAX_QUERY_TIMEOUT_MS = 5000;

export interface WaitForTxtPropagationOptions {
  fqdn: string;
  value: string;
  /** `host:port` to poll; undefined → the zone's authoritative nameservers, found via `resolvers`. */
  nameservers?: string[] | undefined;
  resolvers: string[];
  timeoutMs: number;
  intervalMs: number;
  clock: Clock;
  signal?: AbortSignal | undefined;
  logger?: Logger | undefined;
}

/**
 * Resolves once every nameserver's TXT set at `fqdn` contains `value`; throws
 * DNS_PROPAGATION_TIMEOUT naming the nameservers that still lacked it after `timeoutMs`.
 */
export async function waitForTxtPropagation(options: WaitForTxtPropagationOptions): Promise<void> {
  const { clock, signal } = options;
  const fqdn = normalizeName(options.fqdn);
  const started = clock.now().getTime();
  const deadline = started + options.timeoutMs;
  const queryTimeoutMs = Math.max(1, Math.min(MAX_QUERY_TIMEOUT_MS, options.timeoutMs));
  const nameservers = options.nameservers ?? (await discoverNameservers(fqdn, options.resolvers, { timeoutMs: queryTimeoutMs, signal, clock }));
  if (nameservers.length === 0) throw new CertkeeperError('DNS_QUERY_FAILED', `no nameservers to check ${fqdn} on`, { retryable: false });
  /** Nameserver → what it last showed, until it shows the value. */
  const pending = new Map<string, string>(nameservers.map((ns) => [ns, 'not asked yet']));
  for (let attempt = 1; ; attempt++) {
    await Promise.all(
      [...pending.keys()].map(async (ns) => {
        const seen = await observe(ns, fqdn, options.value, queryTimeoutMs, signal);
        if (seen === true) pending.delete(ns);
        else pending.set(ns, seen);
      }),
    );
    if (pending.size === 0) {
      options.logger?.debug({ fqdn, nameservers, attempts: attempt, elapsedMs: clock.now().getTime() - started }, 'TXT record visible on every nameserver');
      return;
    }
    const remaining = deadline - clock.now().getTime();
    if (remaining <= 0) break;
    options.logger?.debug({ fqdn, waitingFor: [...pending.keys()], attempt }, 'TXT record not yet visible everywhere');
    await clock.sleep(Math.min(options.intervalMs, remaining), signal);
  }
  const missing = [...pending].map(([ns, seen]) => `${ns} (${seen})`);
  throw new CertkeeperError(
    'DNS_PROPAGATION_TIMEOUT',
    `TXT record ${fqdn} = "${options.value}" not visible after ${formatDuration(options.timeoutMs)} on ${missing.join(', ')}`,
    { details: { fqdn, missing: [...pending.keys()], lastSeen: Object.fromEntries(pending) } },
  );
}

async function discoverNameservers(fqdn: string, resolvers: string[], options: { timeoutMs: number; signal: AbortSignal | undefined; clock: Clock }): Promise<string[]> {
  const zone = await findZone(fqdn, resolvers, options);
  return authoritativeNameservers(zone, resolvers, options);
}

/** true when `ns` serves `value` at `fqdn`; otherwise a short description of what it served. */
async function observe(ns: string, fqdn: string, value: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<true | string> {
  try {
    const response = await query(ns, fqdn, 'TXT', { timeoutMs, signal, recursionDesired: false });
    if (response.rcode !== RCODE.NOERROR) return rcodeName(response.rcode);
    const values = response.answers.filter((record) => record.type === 'TXT' && sameName(record.name, fqdn)).map((record) => txtValue(rdata(record)));
    if (values.includes(value)) return true;
    if (values.length === 0 && response.answers.some((record) => record.type === 'CNAME')) return 'a CNAME, not the TXT record';
    return values.length === 0 ? 'no TXT record' : `other values only: ${values.length}`;
  } catch (error) {
    if (isCertkeeperError(error, 'DNS_QUERY_FAILED')) return error.message;
    throw error;
  }
}

export interface ResolveChallengeTargetOptions {
  resolvers: string[];
  clock?: Clock | undefined;
  signal?: AbortSignal | undefined;
  /** Per-exchange timeout. */
  timeoutMs?: number | undefined;
}

/** The fqdn the TXT record for `domain` is written at: `_acme-challenge.<base>`, after CNAMEs. */
export async function resolveChallengeTarget(domain: string, options: ResolveChallengeTargetOptions): Promise<string> {
  const name = challengeName(normalizeDomain(domain) || domain);
  return followCname(name, options.resolvers, { clock: options.clock, signal: options.signal, timeoutMs: options.timeoutMs });
}
