// The history of a 0.1 state directory: history.jsonl, one JSON line per outcome, oldest first.
// A torn line (a process killed mid-append) or a line that is no history entry (the log's own
// codec, repos/history.ts) is skipped and counted.
// (0.1 also kept dry-runs.json, an index of the newest dry runs; it is derived from this file,
// so the reader reads the file and leaves the index alone.)

import type { HistoryEntry } from '../../core/types.js';
import type { Logger } from '../../core/logger.js';
import type { DryRunSummary, HistoryQuery } from '../contract.js';
import { historyEntryCodec } from '../repos/history.js';
import { readOptional } from './files.js';
import type { LegacyLayout } from './layout.js';

export class LegacyHistory {
  constructor(
    private readonly layout: LegacyLayout,
    private readonly logger: Logger,
  ) {}

  /** Oldest first, as appended. */
  async entries(): Promise<HistoryEntry[]> {
    const file = this.layout.history;
    const text = (await readOptional(file)) ?? '';
    const entries: HistoryEntry[] = [];
    let skipped = 0;
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        skipped++;
        continue;
      }
      const entry = historyEntryCodec.safeParse(value);
      if (entry.success) entries.push(entry.data);
      else skipped++;
    }
    if (skipped > 0) this.logger.warn({ file, skipped }, 'skipped unreadable history lines');
    return entries;
  }

  /** Newest first, filtered by certificate, at most `limit`. */
  async read(query: HistoryQuery = {}): Promise<HistoryEntry[]> {
    let entries = (await this.entries()).reverse();
    if (query.cert !== undefined) entries = entries.filter((entry) => entry.cert === query.cert);
    if (query.limit !== undefined) entries = entries.slice(0, Math.max(0, query.limit));
    return entries;
  }

  /** The newest dry run of each certificate that has one. */
  async lastDryRuns(): Promise<Map<string, DryRunSummary>> {
    const last = new Map<string, DryRunSummary>();
    for (const entry of await this.entries()) {
      if (entry.action === 'dry-run') last.set(entry.cert, { at: entry.at, result: entry.result, error: entry.error ?? null });
    }
    return last;
  }
}
