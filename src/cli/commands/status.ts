// `certkeeper status`: what expires when, and what happens next.

import { formatDuration } from '../../core/duration.js';
import { CertkeeperError, describeError, isCertkeeperError } from '../../core/errors.js';
import { statusRows, type StatusRow } from '../../engine/status.js';
import { stateStore } from '../state.js';
import { commandLogger, EXIT_OK, loadConfig, type CommandIo, type GlobalOptions } from '../context.js';
import { oneLine, renderTable, shortTime } from '../table.js';
import { loadStoredWatchResults } from '../../verify/watcher.js';
import { renderEndpoints } from './probe.js';

export async function statusCommand(options: { json?: boolean; endpoints?: boolean }, global: GlobalOptions, io: CommandIo): Promise<number> {
  const config = loadConfig(global, io);
  const { logger } = commandLogger(global, io, config);
  const store = await stateStore(config, io.clock, logger);
  await store.ping().catch((error: unknown) => {
    if (isCertkeeperError(error, 'CONFIG_INVALID')) throw error; // this agent's encryption key is not the store's
    throw new CertkeeperError('STATE_UNREACHABLE', `the state store ${store.dir} is unreachable: ${describeError(error)} (certificates already deployed stay as they are)`, { cause: error });
  });
  const rows = await statusRows({ config, store, clock: io.clock, logger });
  if (options.endpoints) {
    // The watched endpoints as the daemon last probed them (`certkeeper probe` probes them now).
    const watched = (await loadStoredWatchResults(store.agentData, config.stateDir)) ?? [];
    io.stdout.write(options.json ? `${JSON.stringify(watched, null, 2)}\n` : renderEndpoints(watched));
    return EXIT_OK;
  }
  if (options.json) {
    io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return EXIT_OK;
  }
  io.stdout.write(renderStatus(rows, io.clock.now()));
  // Who is asking, and which store it reads: agents sharing a store each have their local sinks.
  io.stdout.write(`\nagent ${config.agentId} · state ${store.dir}\n`);
  const watched = config.watch?.endpoints.length ? await loadStoredWatchResults(store.agentData, config.stateDir) : undefined;
  if (watched) io.stdout.write(`\nwatched endpoints (last probed by certkeeper run; probe them now: certkeeper probe)\n${renderEndpoints(watched)}`);
  return EXIT_OK;
}

export function renderStatus(rows: StatusRow[], now: Date): string {
  if (rows.length === 0) return 'no certificates configured\n';
  return renderTable(
    ['NAME', 'STATE', 'DAYS LEFT', 'NOT BEFORE', 'NOT AFTER', 'RENEW AT', 'SERIAL', 'DOMAINS', 'LAST'],
    rows.map((row) => [
      row.name,
      row.state,
      daysLeftText(row, now),
      shortTime(row.notBefore),
      shortTime(row.notAfter),
      renewAtText(row, now),
      row.serial ? row.serial.slice(0, 16) : '-',
      row.domains.join(' '),
      lastText(row) + (row.serving ? `; serving: ${row.serving}` : '') + (row.lastRehearsal ? `; rehearsal ${row.lastRehearsal.result} ${shortTime(row.lastRehearsal.at)}` : '') +
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
    const rule = row.renewRule === 'ari' ? ', ARI window' : row.renewRule === 'loop-guard' ? ', loop guard' : row.renewRule === 'emergency' ? ', emergency' : '';
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
