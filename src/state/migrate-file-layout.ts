// The state directory's first layout (certkeeper 0.1: certs/<name>/live, record.json,
// accounts/<id>/account.json, issuers/<id>.json, history.jsonl) copied once into the storage
// layout under store/. The old files are read through the 0.1 reader (legacy/) and left exactly
// as they were: nothing is moved or deleted, so a downgrade still finds them, and anything that
// pointed at them keeps its (now frozen) files. store/format marks the copy as complete; a copy
// cut short by a crash is simply done again (every write is a plain put of the same value).

import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../core/clock.js';
import { describeError, isCertkeeperError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { decodeJson, encodeJson } from './codec.js';
import { acquireFileLock } from './file-lock.js';
import type { RepositoryStore } from './repository-store.js';
import { z } from 'zod';

const FORMAT_KEY = 'format';
const FORMAT = 2;
const formatCodec = z.object({ version: z.number().int(), migratedFrom: z.string().optional(), at: z.string() });

export interface MigrationReport {
  migrated: boolean;
  certificates: number;
  records: number;
  accounts: number;
  historyEntries: number;
  skipped: string[];
}

/** True when `dir` holds files of the 0.1 layout. */
async function hasOldLayout(dir: string): Promise<boolean> {
  for (const entry of ['history.jsonl', 'certs', 'accounts', 'issuers']) {
    if (await fs.lstat(path.join(dir, entry)).catch(() => undefined)) return true;
  }
  return false;
}

/**
 * Copies a 0.1 state directory into `store` once. Runs under the 0.1 state lock (`<dir>/lock`), so
 * an old certkeeper still running there finishes first, and two new ones do not copy at once.
 */
export async function migrateFileLayout(
  dir: string,
  store: RepositoryStore,
  options: { clock: Clock; logger: Logger; agentId: string },
): Promise<MigrationReport> {
  const report: MigrationReport = { migrated: false, certificates: 0, records: 0, accounts: 0, historyEntries: 0, skipped: [] };
  const formatted = async (): Promise<boolean> => {
    const stored = await store.storage.get(FORMAT_KEY);
    return stored !== undefined && decodeJson(formatCodec, stored.value, FORMAT_KEY).version >= FORMAT;
  };
  if (await formatted()) return report;
  if (!(await hasOldLayout(dir))) {
    await store.storage.put(FORMAT_KEY, encodeJson({ version: FORMAT, at: options.clock.now().toISOString() }));
    return report;
  }
  const lock = await acquireFileLock(path.join(dir, 'lock'), { clock: options.clock, logger: options.logger, timeoutMs: 10 * 60_000 });
  try {
    if (await formatted()) return report; // another process copied it while this one waited
    options.logger.info({ dir }, 'copying the state directory into the storage layout (once; the old files stay as they are)');
    // Loaded only here: an agent whose folder was copied long ago never loads the 0.1 reader.
    const { LegacyState } = await import('./legacy/index.js');
    const old = new LegacyState(dir, options.logger);

    for (const name of await old.certificates.names()) {
      try {
        const current = await old.certificates.get(name);
        if (current) {
          await store.certificates.put(name, current.material, { directoryUrl: current.directoryUrl, issuedAt: current.issuedAt });
          report.certificates++;
        }
      } catch (error) {
        // A damaged certificate is issued afresh, as it would have been in place.
        report.skipped.push(`certificate ${name}: ${describeError(error)}`);
      }
    }
    for (const name of await old.records.names()) {
      try {
        const record = await old.records.get(name);
        // 0.1 recorded deploys by sink name alone; a local sink's are now per agent (sinks/scope.ts).
        // This agent made them, so each is recorded both ways: shared sinks read the one, local the other.
        const deployed = { ...record.deployed };
        for (const [sink, serial] of Object.entries(record.deployed)) deployed[`${sink}@${options.agentId}`] = serial;
        await store.records.put(name, { ...record, deployed });
        report.records++;
      } catch (error) {
        // A damaged record is left out: the certificate starts with an empty one.
        report.skipped.push(`record ${name}: ${describeError(error)}`);
      }
      // Apart from the record, one sink at a time: a damaged record or file must not cost an acm sink its ARN.
      const sinks = await old.records.sinkNames(name).catch((error: unknown) => {
        report.skipped.push(`sink data of ${name}: ${describeError(error)}`);
        return [];
      });
      for (const sink of sinks) {
        try {
          const data = await old.records.getSinkState(name, sink);
          if (data) await store.records.putData(name, sink, data);
        } catch (error) {
          report.skipped.push(`sink data ${sink} of ${name}: ${describeError(error)}`);
        }
      }
    }
    for (const { id, account } of await old.accounts.list()) {
      if (account instanceof Error) {
        report.skipped.push(`account ${id}: ${describeError(account)}`);
        continue;
      }
      await store.accounts.put(account);
      report.accounts++;
    }
    for (const { file, state } of await old.issuers.list()) {
      if (state instanceof Error) report.skipped.push(`issuer state ${file}: ${describeError(state)}`);
      else await store.issuers.put(state.key, state.data);
    }
    // Oldest first, so the log keeps their order.
    const history = await old.history.entries();
    for (const entry of history) {
      try {
        await store.history.append(entry);
        report.historyEntries++;
      } catch (error) {
        if (isCertkeeperError(error)) throw error; // the store failed: the copy is redone at the next start
        report.skipped.push(`history entry of ${entry.at}: not a history entry this version reads`);
      }
    }

    await store.storage.put(FORMAT_KEY, encodeJson({ version: FORMAT, migratedFrom: 'file layout 1', at: options.clock.now().toISOString() }));
    report.migrated = true;
    for (const problem of report.skipped) options.logger.warn({ dir }, `not copied: ${problem}`);
    options.logger.info({ dir, ...report, skipped: report.skipped.length }, 'state directory copied into the storage layout');
    return report;
  } finally {
    await lock.release();
  }
}
