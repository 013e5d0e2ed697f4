// `certkeeper status`: what expires when, and what happens next.

import { formatDuration } from '../../core/duration.js';
import { statusRows, type StatusRow } from '../../engine/status.js';
import { FileStore } from '../../state/file-store.js';
import { commandLogger, EXIT_OK, loadConfig, type CommandIo, type GlobalOptions } from '../context.js';
import { oneLine, renderTable, shortTime } from '../table.js';

export async function statusCommand(options: { json?: boolean }, global: GlobalOptions, io: CommandIo): Promise<number> {
  const config = loadConfig(global, io);
  const { logger } = commandLogger(global, io, config);
  const store = await FileStore.open({ dir: config.stateDir, clock: io.clock, logger });
  const rows = await statusRows({ config, store, clock: io.clock, logger });
  if (options.json) {
    io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return EXIT_OK;
  }
  io.stdout.write(renderStatus(rows, io.clock.now()));
  return EXIT_OK;
}

export function renderStatus(rows: StatusRow[], now: Date): string {
  if (rows.length === 0) return 'no certificates configured\n';
  return renderTable(
    ['NAME', 'STATE', 'DAYS LEFT', 'NOT BEFORE', 'NOT AFTER', 'RENEW AT', 'SERIAL', 'DOMAINS', 'LAST'],
    rows.map((row) => [
      row.name,
      row.state,
      row.daysLeft === null ? '-' : row.daysLeft.toFixed(1),
      shortTime(row.notBefore),
      shortTime(row.notAfter),
      renewAtText(row, now),
      row.serial ? row.serial.slice(0, 16) : '-',
      row.domains.join(' '),
      lastText(row),
    ]),
  );
}

function renewAtText(row: StatusRow, now: Date): string {
  if (row.renewReason === 'not-due' && row.renewAt) {
    return `${shortTime(row.renewAt)} (in ${formatDuration(Date.parse(row.renewAt) - now.getTime())})`;
  }
  const why: Record<string, string> = {
    missing: 'now (not issued yet)',
    'domains-changed': 'now (names changed)',
    'key-type-changed': 'now (key type changed)',
    expired: 'now (expired)',
    threshold: 'now (inside renewal window)',
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
