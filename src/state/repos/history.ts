// History: one entry per outcome, in the storage's append-only log `history` (a table on
// PostgreSQL, a JSON Lines file on disk), queried newest first per certificate. Beside it, the
// dry-run index (`history/dry-runs`): the newest dry run of each certificate, kept current at each
// dry-run append, so `status` and the rehearsal schedule never scan the log.

import { z } from 'zod';
import { CertkeeperError, isCertkeeperError } from '../../core/errors.js';
import type { HistoryEntry } from '../../core/types.js';
import { decodeJson, encodeJson } from '../codec.js';
import type { DryRunSummary, HistoryQuery } from '../contract.js';
import type { Storage } from '../storage/contract.js';

const LOG = 'history';
const DRY_RUN_INDEX = 'history/dry-runs';
const MAX_CAS_ROUNDS = 20;

const orderCodec = z.object({
  issuer: z.string(),
  directoryUrl: z.string(),
  email: z.string().nullable(),
  replaced: z.boolean(),
  failedNames: z.array(z.string()).optional(),
});

/** A history entry as the log keeps it (and as 0.1's history.jsonl held it, legacy/history.ts). */
export const historyEntryCodec: z.ZodType<HistoryEntry> = z.object({
  at: z.string(),
  cert: z.string(),
  action: z.enum(['issue', 'renew', 'deploy', 'dry-run', 'verify', 'revoke']),
  result: z.enum(['success', 'failure']),
  serial: z.string().nullable(),
  notAfter: z.string().nullable(),
  durationMs: z.number(),
  error: z.string().nullable(),
  reason: z.string().optional(),
  note: z.string().optional(),
  sink: z.string().optional(),
  code: z.string().optional(),
  orders: z.array(orderCodec).optional(),
});

const dryRunCodec = z.object({ at: z.string(), result: z.enum(['success', 'failure']), error: z.string().nullable() });
const dryRunIndexCodec = z.record(z.string(), dryRunCodec);

export class HistoryRepository {
  constructor(private readonly storage: Storage) {}

  async append(entry: HistoryEntry): Promise<void> {
    const parsed = historyEntryCodec.parse(entry); // what goes in is what comes out
    await this.storage.appendLog(LOG, { at: new Date(parsed.at), subject: parsed.cert, kind: parsed.action, body: JSON.stringify(parsed) });
    if (parsed.action === 'dry-run') await this.indexDryRun(parsed.cert, { at: parsed.at, result: parsed.result, error: parsed.error ?? null });
  }

  /** Newest first; entries that no longer parse are skipped (a log is never worth failing a run over). */
  async read(query: HistoryQuery = {}): Promise<HistoryEntry[]> {
    const lines = await this.storage.readLog(LOG, {
      ...(query.cert !== undefined ? { subject: query.cert } : {}),
      ...(query.limit !== undefined ? { limit: Math.max(0, query.limit) } : {}),
    });
    const entries: HistoryEntry[] = [];
    for (const line of lines) {
      try {
        entries.push(decodeJson(historyEntryCodec, new TextEncoder().encode(line.body), `${LOG} entry`));
      } catch {
        // a foreign or damaged line: skipped
      }
    }
    return entries;
  }

  async lastDryRuns(): Promise<Map<string, DryRunSummary>> {
    const stored = await this.storage.get(DRY_RUN_INDEX);
    if (!stored) return new Map();
    return new Map(Object.entries(await this.indexOf(stored)));
  }

  /**
   * The stored index; a damaged one (cut short, edited by hand) is rebuilt from the history's
   * dry-run lines and written back, rather than failing `status` and the rehearsal schedule.
   */
  private async indexOf(stored: { value: Uint8Array; version: string }): Promise<Record<string, DryRunSummary>> {
    try {
      return decodeJson(dryRunIndexCodec, stored.value, DRY_RUN_INDEX);
    } catch (error) {
      if (!isCertkeeperError(error, 'STATE_CORRUPT')) throw error;
    }
    const index: Record<string, DryRunSummary> = {};
    for (const line of await this.storage.readLog(LOG, { kind: 'dry-run' })) {
      try {
        const entry = decodeJson(historyEntryCodec, new TextEncoder().encode(line.body), `${LOG} entry`);
        const previous = index[entry.cert];
        if (!previous || previous.at < entry.at) index[entry.cert] = { at: entry.at, result: entry.result, error: entry.error ?? null };
      } catch {
        // a foreign or damaged line: skipped, as read() does
      }
    }
    // Another agent may have repaired it meanwhile: theirs stands, ours is as good.
    await this.storage.put(DRY_RUN_INDEX, encodeJson(index), { ifVersion: stored.version }).catch((error: unknown) => {
      if (!isCertkeeperError(error, 'STATE_CONFLICT')) throw error;
    });
    return index;
  }

  private async indexDryRun(cert: string, summary: DryRunSummary): Promise<void> {
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const stored = await this.storage.get(DRY_RUN_INDEX);
      const index = stored ? await this.indexOf(stored) : {};
      const previous = index[cert];
      if (previous && previous.at > summary.at) return; // a newer one is indexed already
      index[cert] = summary;
      try {
        await this.storage.put(DRY_RUN_INDEX, encodeJson(index), { ifVersion: stored?.version ?? null });
        return;
      } catch (error) {
        if (!isCertkeeperError(error, 'STATE_CONFLICT')) throw error;
      }
    }
    throw new CertkeeperError('STATE_CONFLICT', `the dry-run index kept changing under us (${MAX_CAS_ROUNDS} conflicting writes in a row)`);
  }
}
