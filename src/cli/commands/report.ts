// `certkeeper report --html FILE`: the status page as a static file, read from the state store
// without a running agent (an incident review, a ticket). No script, no links out; the certificates
// that need attention get their detail section (sinks, history strip) inline.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CertkeeperError, describeError, isCertkeeperError } from '../../core/errors.js';
import { rateLimitsIn } from '../../state/issuer-state.js';
import { statusRows } from '../../engine/status.js';
import { attentionItems, ATTENTION_LIMIT, DEFAULT_ALERT_DAYS, type PageData } from '../../observe/page/model.js';
import { detailSection, renderPage } from '../../observe/page/render.js';
import { certDetail } from '../../observe/page/source.js';
import { loadStoredWatchResults } from '../../verify/watcher.js';
import { stateStore } from '../state.js';
import { commandLogger, EXIT_OK, loadConfig, type CommandIo, type GlobalOptions } from '../context.js';

/** Rows in the static file: the most urgent this many (a report of 10,000 rows nobody reads). */
export const REPORT_ROWS = 1000;

export async function reportCommand(options: { html?: string }, global: GlobalOptions, io: CommandIo): Promise<number> {
  if (!options.html) throw new CertkeeperError('USAGE', 'report needs --html FILE (the file to write; - for standard output)', { retryable: false });
  const config = loadConfig(global, io);
  const { logger } = commandLogger(global, io, config);
  const store = await stateStore(config, io.clock, logger);
  await store.ping().catch((error: unknown) => {
    if (isCertkeeperError(error, 'CONFIG_INVALID')) throw error;
    throw new CertkeeperError('STATE_UNREACHABLE', `the state store ${store.dir} is unreachable: ${describeError(error)}`, { cause: error });
  });
  const rows = await statusRows({ config, store, clock: io.clock, logger, rateLimits: rateLimitsIn(store) });
  const data: PageData = {
    now: io.clock.now(),
    agentId: config.agentId,
    certificates: rows,
    endpoints:
      (config.watch?.endpoints.length ? await loadStoredWatchResults(store.agentData, config.stateDir, { logger, agentId: config.agentId }) : undefined) ?? [],
    alertDays: config.watch?.alertDays ?? [...DEFAULT_ALERT_DAYS],
  };
  const names = [...new Set(attentionItems(data).flatMap((item) => (item.cert && item.kind !== 'endpoint' ? [item.cert] : [])))].slice(0, ATTENTION_LIMIT);
  const details: string[] = [];
  for (const name of names) {
    const row = rows.find((r) => r.name === name);
    if (!row) continue;
    details.push(detailSection(await certDetail(row, config.certificates.find((c) => c.name === name)?.sinks ?? [], store), data));
  }
  const page = renderPage(data, { live: false, pageSize: REPORT_ROWS });
  const html = details.length ? page.replace('</main>', `<h2>Details</h2>${details.join('\n')}</main>`) : page;
  if (options.html === '-') io.stdout.write(html);
  else {
    await writeFile(options.html, html, { mode: 0o644 });
    io.stderr.write(`wrote ${path.resolve(options.html)} (${rows.length} certificate${rows.length === 1 ? '' : 's'})\n`);
  }
  return EXIT_OK;
}
