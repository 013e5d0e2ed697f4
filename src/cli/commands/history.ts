// `certkeeper history [NAME]`: recorded outcomes, newest first.

import { CertkeeperError } from '../../core/errors.js';
import type { HistoryEntry } from '../../core/types.js';
import { formatDuration } from '../../core/duration.js';
import { selectCertificates } from '../../config/select.js';
import { stateStore } from '../state.js';
import { commandLogger, EXIT_OK, loadConfig, type CommandIo, type GlobalOptions } from '../context.js';
import { oneLine, renderTable, shortTime } from '../table.js';

export async function historyCommand(
  name: string | undefined,
  options: { json?: boolean; limit?: string },
  global: GlobalOptions,
  io: CommandIo,
): Promise<number> {
  const config = loadConfig(global, io);
  const limit = options.limit === undefined ? 50 : Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new CertkeeperError('USAGE', '--limit must be a positive whole number', { retryable: false });
  const { logger } = commandLogger(global, io, config);
  const store = await stateStore(config, io.clock, logger);
  // A name neither configured nor stored is a typo (exit 2, with the configured names, as renew
  // --cert); a certificate removed from the config keeps its history until it is forgotten.
  if (name && !config.certificates.some((c) => c.name === name) && !(await store.listCertificateNames()).includes(name))
    selectCertificates(config.certificates, [name]);
  const entries = await store.readHistory({ ...(name ? { cert: name } : {}), limit });
  if (options.json) {
    io.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
    return EXIT_OK;
  }
  if (entries.length === 0) {
    io.stdout.write(name ? `no history for ${name}\n` : 'no history yet\n');
    return EXIT_OK;
  }
  io.stdout.write(renderHistory(entries));
  return EXIT_OK;
}

/** The history table; a cancelled order (shutdown, Ctrl-C) shows as such, not as the certificate failing. */
export function renderHistory(entries: HistoryEntry[]): string {
  return renderTable(
    ['AT', 'CERTIFICATE', 'ACTION', 'RESULT', 'SERIAL', 'TIME', 'DETAIL'],
    entries.map((e) => [
      shortTime(e.at),
      e.cert,
      e.sink ? `${e.action} → ${e.sink}` : e.action,
      e.code === 'CANCELLED' ? 'cancelled' : e.result,
      e.serial ? e.serial.slice(0, 16) : '-',
      formatDuration(e.durationMs),
      e.error ? oneLine(e.error) : e.reason ? `reason: ${e.reason}` : '',
    ]),
  );
}
