// `certkeeper status`: what expires when, and what happens next.

import { formatDuration } from '../../core/duration.js';
import { CertkeeperError, describeError, isCertkeeperError } from '../../core/errors.js';
import { selectCertificates } from '../../config/select.js';
import { rateLimitsIn } from '../../state/issuer-state.js';
import { statusRows, type StatusRow } from '../../engine/status.js';
import { stateStore } from '../state.js';
import { commandLogger, EXIT_OK, loadConfig, type CommandIo, type GlobalOptions } from '../context.js';
import { oneLine, renderTable, shortTime } from '../table.js';
import { loadStoredWatchResults } from '../../verify/watcher.js';
import { renderEndpoints } from './probe.js';

export interface StatusOptions {
  json?: boolean;
  endpoints?: boolean;
  /** Every column (the default is a compact table for an 80-column terminal). */
  wide?: boolean;
}

export async function statusCommand(names: string[], options: StatusOptions, global: GlobalOptions, io: CommandIo): Promise<number> {
  const loaded = loadConfig(global, io);
  // status NAME…: only those (USAGE, exit 2, for a name not in the config, as renew --cert).
  const config = names.length > 0 ? { ...loaded, certificates: selectCertificates(loaded.certificates, names) } : loaded;
  const { logger } = commandLogger(global, io, config);
  const store = await stateStore(config, io.clock, logger);
  await store.ping().catch((error: unknown) => {
    if (isCertkeeperError(error, 'CONFIG_INVALID')) throw error; // this agent's encryption key is not the store's
    throw new CertkeeperError(
      'STATE_UNREACHABLE',
      `the state store ${store.dir} is unreachable: ${describeError(error)} (certificates already deployed stay as they are)`,
      { cause: error },
    );
  });
  const rows = await statusRows({ config, store, clock: io.clock, logger, rateLimits: rateLimitsIn(store) });
  if (options.endpoints) {
    // The watched endpoints as the daemon last probed them (`certkeeper probe` probes them now).
    const watched = (await loadStoredWatchResults(store.agentData, config.stateDir, { logger, agentId: config.agentId })) ?? [];
    io.stdout.write(options.json ? `${JSON.stringify(watched, null, 2)}\n` : renderEndpoints(watched));
    return EXIT_OK;
  }
  if (options.json) {
    io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return EXIT_OK;
  }
  const width = (io.stdout as { columns?: number }).columns ?? 80;
  io.stdout.write(options.wide ? renderStatus(rows, io.clock.now()) : renderCompactStatus(rows, io.clock.now(), width));
  // Who is asking, and which store it reads: agents sharing a store each have their local sinks.
  io.stdout.write(`\nagent ${config.agentId} · state ${store.dir}\n`);
  const watched = config.watch?.endpoints.length
    ? await loadStoredWatchResults(store.agentData, config.stateDir, { logger, agentId: config.agentId })
    : undefined;
  if (watched) io.stdout.write(`\nwatched endpoints (last probed by certkeeper run; probe them now: certkeeper probe)\n${renderEndpoints(watched)}`);
  return EXIT_OK;
}

/** Most urgent first: expired, failing, due, never issued, valid; then the earliest expiry; then the name. */
const URGENCY: Record<StatusRow['state'], number> = { expired: 0, failing: 1, due: 2, missing: 3, valid: 4 };

export function byUrgency(rows: StatusRow[]): StatusRow[] {
  const expiry = (row: StatusRow): number => (row.notAfter ? Date.parse(row.notAfter) : Number.POSITIVE_INFINITY);
  return [...rows].sort((a, b) => URGENCY[a.state] - URGENCY[b.state] || expiry(a) - expiry(b) || a.name.localeCompare(b.name));
}

/**
 * The default table: five columns that fit `width` (an 80-column terminal), the most urgent rows
 * first, the last outcome cut to the room left. `--wide` shows every column.
 */
export function renderCompactStatus(rows: StatusRow[], now: Date, width = 80): string {
  if (rows.length === 0) return 'no certificates configured\n';
  const headers = ['NAME', 'STATE', 'EXPIRES', 'RENEWS', 'LAST'];
  const cells = byUrgency(rows).map((row) => [row.name, row.state, expiresText(row, now), renewsText(row, now), compactLast(row)]);
  const used = headers.slice(0, -1).reduce((sum, header, i) => sum + Math.max(header.length, ...cells.map((c) => c[i]!.length)) + 2, 0);
  const room = Math.max(12, width - used);
  const table = renderTable(
    headers,
    cells.map((c) => [...c.slice(0, -1), cut(c.at(-1)!, room)]),
  );
  const counts = Object.entries(countBy(byUrgency(rows).map((row) => row.state))).map(([state, n]) => `${n} ${state}`);
  return `${table}\n${rows.length} certificate${rows.length === 1 ? '' : 's'}: ${counts.join(', ')}\n`;
}

function expiresText(row: StatusRow, now: Date): string {
  if (!row.notAfter) return '-';
  const left = Date.parse(row.notAfter) - now.getTime();
  return left <= 0 ? `${formatDuration(-left)} ago` : `in ${formatDuration(left)}`; // STATE says expired
}

function renewsText(row: StatusRow, now: Date): string {
  if (row.state === 'failing' && row.nextAttemptAt) {
    const wait = Date.parse(row.nextAttemptAt) - now.getTime();
    return wait > 0 ? `retry in ${formatDuration(wait)}` : 'retry now';
  }
  if ((row.renewReason === 'not-due' || row.renewReason === 'loop-guard') && row.renewAt) {
    return `in ${formatDuration(Date.parse(row.renewAt) - now.getTime())}${row.renewRule === 'ari' ? ' (ARI)' : ''}`;
  }
  return 'now';
}

function compactLast(row: StatusRow): string {
  const last = row.lastResult;
  if (!last) return '-';
  const pending = row.pendingSinks.length > 0 && row.serial ? `; pending: ${row.pendingSinks.join(', ')}` : '';
  if (last.result === 'failure') return `${last.action} failed ${row.consecutiveFailures}x: ${oneLine(last.error ?? '')}${pending}`;
  return `${last.action} ${last.result} ${shortTime(last.at)}${pending}`;
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

export function renderStatus(rows: StatusRow[], now: Date): string {
  if (rows.length === 0) return 'no certificates configured\n';
  return renderTable(
    ['NAME', 'STATE', 'DAYS LEFT', 'NOT BEFORE', 'NOT AFTER', 'RENEW AT', 'SERIAL', 'DOMAINS', 'LAST'],
    byUrgency(rows).map((row) => [
      row.name,
      row.state,
      daysLeftText(row, now),
      shortTime(row.notBefore),
      shortTime(row.notAfter),
      renewAtText(row, now),
      row.serial ? row.serial.slice(0, 16) : '-',
      row.domains.join(' '),
      lastText(row) +
        (row.serving ? `; serving: ${row.serving}` : '') +
        (row.lastRehearsal ? `; rehearsal ${row.lastRehearsal.result} ${shortTime(row.lastRehearsal.at)}` : '') +
        (row.rateLimited?.length ? `; rate-limited: ${row.rateLimited.map((r) => `${r.issuer} until ${shortTime(r.until)}`).join(', ')}` : ''),
    ]),
  );
}

/** Days left to one decimal; once past notAfter, how long ago it expired ("expired 42s ago", never "-0.1"). */
export function daysLeftText(row: Pick<StatusRow, 'daysLeft' | 'notAfter'>, now: Date): string {
  if (row.daysLeft === null || row.notAfter === null) return '-';
  const left = Date.parse(row.notAfter) - now.getTime();
  return left <= 0 ? `expired ${formatDuration(-left)} ago` : row.daysLeft.toFixed(1);
}

function renewAtText(row: StatusRow, now: Date): string {
  if ((row.renewReason === 'not-due' || row.renewReason === 'loop-guard') && row.renewAt) {
    const rule =
      row.renewRule === 'ari' ? ', ARI window' : row.renewRule === 'loop-guard' ? ', loop guard' : row.renewRule === 'emergency' ? ', emergency' : '';
    return `${shortTime(row.renewAt)} (in ${formatDuration(Date.parse(row.renewAt) - now.getTime())}${rule})`;
  }
  const why: Record<string, string> = {
    missing: 'now (not issued yet)',
    'domains-changed': 'now (names changed)',
    'key-type-changed': 'now (key type changed)',
    expired: 'now (expired)',
    threshold: 'now (inside renewal window)',
    ari: 'now (the CA asked: ARI window)',
    emergency: 'now (emergency: 1/20 of the lifetime left)',
  };
  return why[row.renewReason] ?? row.renewMessage;
}

function lastText(row: StatusRow): string {
  const last = row.lastResult;
  if (!last) return '-';
  const base = `${last.action} ${last.result} ${shortTime(last.at)}`;
  const pending = row.pendingSinks.length > 0 && row.serial ? `; pending: ${row.pendingSinks.join(', ')}` : '';
  const retry = row.nextAttemptAt && last.result === 'failure' ? `; next try ${shortTime(row.nextAttemptAt)}` : '';
  return last.result === 'failure' ? `${base} (${row.consecutiveFailures}x)${retry}: ${oneLine(last.error ?? '')}${pending}` : `${base}${pending}`;
}
