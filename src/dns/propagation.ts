// Is the challenge record visible yet? Polls every authoritative nameserver of the zone directly
// (no recursion, so no resolver cache can answer for them) until each one serves the TXT value,
// before the CA is asked to look. Also finds the name a domain's challenge record is written at.

import type { Clock } from '../core/clock.js';
import { challengeName, normalizeDomain } from '../core/domain.js';
import { formatDuration } from '../core/duration.js';
import { mapLimit } from '../core/concurrency.js';
import { CertkeeperError, isAbortError, isCertkeeperError } from '../core/errors.js';
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

async function discoverNameservers(
  fqdn: string,
  resolvers: string[],
  options: { timeoutMs: number; signal: AbortSignal | undefined; clock: Clock },
): Promise<string[]> {
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

export interface WaitForTxtPropagationBatchOptions extends Omit<WaitForTxtPropagationOptions, 'fqdn' | 'value'> {
  records: readonly { fqdn: string; value: string }[];
}

/** Queries sent at once by one batch check (each to one nameserver for one name). */
const BATCH_QUERY_CONCURRENCY = 64;

/**
 * One propagation check for a whole batch of records: each zone's nameservers are found once,
 * and each round asks every nameserver once per name still pending. Never throws for a record:
 * the result holds, per record in order, undefined when it is visible everywhere or its error
 * (DNS_PROPAGATION_TIMEOUT, a failed zone discovery). Cancellation (`signal`) does throw.
 */
export async function waitForTxtPropagationBatch(options: WaitForTxtPropagationBatchOptions): Promise<(Error | undefined)[]> {
  const { clock, signal } = options;
  const started = clock.now().getTime();
  const deadline = started + options.timeoutMs;
  const queryTimeoutMs = Math.max(1, Math.min(MAX_QUERY_TIMEOUT_MS, options.timeoutMs));
  const records = options.records.map((record) => ({ fqdn: normalizeName(record.fqdn), value: record.value }));
  const results: (Error | undefined)[] = records.map(() => undefined);
  const lookup = { timeoutMs: queryTimeoutMs, signal, clock };

  // Nameservers per name (one zone walk per name, one NS lookup per zone).
  const serversByZone = new Map<string, Promise<string[]>>();
  const serversByName = new Map<string, string[] | Error>();
  const names = [...new Set(records.map((record) => record.fqdn))];
  await mapLimit(names, BATCH_QUERY_CONCURRENCY, async (fqdn) => {
    if (options.nameservers) {
      serversByName.set(fqdn, options.nameservers);
      return;
    }
    try {
      const zone = await findZone(fqdn, options.resolvers, lookup);
      let servers = serversByZone.get(zone);
      if (!servers) {
        servers = authoritativeNameservers(zone, options.resolvers, lookup);
        serversByZone.set(zone, servers);
      }
      serversByName.set(fqdn, await servers);
    } catch (error) {
      if (isAbortError(error) || isCertkeeperError(error, 'CANCELLED')) throw error;
      serversByName.set(fqdn, error instanceof Error ? error : new Error(String(error)));
    }
  });

  /** Per record still waiting: the nameservers that have not shown its value yet. */
  const pending = new Map<number, Set<string>>();
  records.forEach((record, index) => {
    const servers = serversByName.get(record.fqdn);
    if (servers instanceof Error) results[index] = servers;
    else if (!servers || servers.length === 0)
      results[index] = new CertkeeperError('DNS_QUERY_FAILED', `no nameservers to check ${record.fqdn} on`, { retryable: false });
    else pending.set(index, new Set(servers));
  });
  const lastSeen = new Map<string, string>();
  for (let attempt = 1; pending.size > 0; attempt++) {
    // Each (nameserver, name) still needed is asked once per round, whatever the number of values.
    const asks = new Map<string, { ns: string; fqdn: string }>();
    for (const [index, servers] of pending) {
      for (const ns of servers) asks.set(`${ns} ${records[index]!.fqdn}`, { ns, fqdn: records[index]!.fqdn });
    }
    const answers = new Map<string, string[] | string>();
    await mapLimit([...asks], BATCH_QUERY_CONCURRENCY, async ([key, { ns, fqdn }]) => {
      answers.set(key, await servedValues(ns, fqdn, queryTimeoutMs, signal));
    });
    for (const [index, servers] of pending) {
      const record = records[index]!;
      for (const ns of [...servers]) {
        const seen = answers.get(`${ns} ${record.fqdn}`);
        if (Array.isArray(seen) && seen.includes(record.value)) servers.delete(ns);
        else
          lastSeen.set(
            `${ns} ${record.fqdn}`,
            Array.isArray(seen) ? (seen.length === 0 ? 'no TXT record' : `other values only: ${seen.length}`) : (seen ?? 'not asked'),
          );
      }
      if (servers.size === 0) pending.delete(index);
    }
    if (pending.size === 0) break;
    const remaining = deadline - clock.now().getTime();
    if (remaining <= 0) break;
    options.logger?.debug({ pending: pending.size, attempt }, 'TXT records of a batch not yet visible everywhere');
    await clock.sleep(Math.min(options.intervalMs, remaining), signal);
  }
  for (const [index, servers] of pending) {
    const record = records[index]!;
    const missing = [...servers].map((ns) => `${ns} (${lastSeen.get(`${ns} ${record.fqdn}`) ?? 'not asked'})`);
    results[index] = new CertkeeperError(
      'DNS_PROPAGATION_TIMEOUT',
      `TXT record ${record.fqdn} = "${record.value}" not visible after ${formatDuration(options.timeoutMs)} on ${missing.join(', ')}`,
      { details: { fqdn: record.fqdn, missing: [...servers] } },
    );
  }
  options.logger?.debug(
    { records: records.length, failed: results.filter(Boolean).length, elapsedMs: clock.now().getTime() - started },
    'batch propagation check done',
  );
  return results;
}

/** The TXT values `ns` serves at `fqdn`, or a short description of why there are none. */
async function servedValues(ns: string, fqdn: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<string[] | string> {
  try {
    const response = await query(ns, fqdn, 'TXT', { timeoutMs, signal, recursionDesired: false });
    if (response.rcode !== RCODE.NOERROR) return rcodeName(response.rcode);
    return response.answers.filter((record) => record.type === 'TXT' && sameName(record.name, fqdn)).map((record) => txtValue(rdata(record)));
  } catch (error) {
    if (isCertkeeperError(error, 'DNS_QUERY_FAILED')) return error.message;
    throw error;
  }
}
