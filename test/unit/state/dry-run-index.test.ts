// lastDryRuns: the newest dry run per certificate (status, rehearsal schedule) from the dry-run
// index (`history/dry-runs`), kept current at each dry-run append, so a reader never scans the
// history however long it grows. (A 0.1 history.jsonl without an index is read by the legacy
// reader, and the one-time copy builds the index: legacy-state.test.ts, migrate-file-layout.test.ts.)

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import type { HistoryEntry } from '../../../src/core/types.js';
import type { RepositoryStore } from '../../../src/state/repository-store.js';
import { openFileStore } from '../../helpers/state.js';

let tmp: string;
let store: RepositoryStore;
let historyFile: string;
let indexFile: string;

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-dryruns-'));
  store = await openFileStore(path.join(tmp, 'state'), systemClock);
  historyFile = path.join(tmp, 'state/store/logs/history.jsonl');
  indexFile = path.join(tmp, 'state/store/history/dry-runs');
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

let minute = 0;
function entry(cert: string, action: HistoryEntry['action'], result: HistoryEntry['result'] = 'success', error: string | null = null): HistoryEntry {
  const at = new Date(Date.UTC(2026, 5, 1, 0, minute++)).toISOString();
  return { at, cert, action, result, serial: null, notAfter: null, durationMs: 5, error };
}

async function index(): Promise<Record<string, unknown>> {
  return JSON.parse(await fs.readFile(indexFile, 'utf8')) as Record<string, unknown>;
}

it('is empty without history, and keeps the newest dry run of each certificate, written at each dry run', async () => {
  expect(await store.lastDryRuns()).toEqual(new Map());
  const first = entry('a', 'dry-run', 'failure', 'DNS timeout');
  const renew = entry('a', 'renew');
  const second = entry('a', 'dry-run');
  const other = entry('b', 'dry-run', 'failure', 'CA down');
  for (const e of [first, renew, second, other, entry('c', 'renew')]) await store.appendHistory(e);

  const expected = new Map([
    ['a', { at: second.at, result: 'success', error: null }],
    ['b', { at: other.at, result: 'failure', error: 'CA down' }],
  ]);
  expect(await store.lastDryRuns()).toEqual(expected);
  expect(new Map(Object.entries(await index()))).toEqual(expected);
});

it('reads the index alone: the history is not scanned', async () => {
  const dryRun = entry('a', 'dry-run');
  await store.appendHistory(dryRun);
  await store.appendHistory(entry('a', 'deploy'));
  // Blank out the history: the answer, from the index, does not change.
  await fs.writeFile(historyFile, '');
  const later = entry('b', 'dry-run', 'failure', 'boom');
  await store.appendHistory(later);
  expect(await store.lastDryRuns()).toEqual(
    new Map([
      ['a', { at: dryRun.at, result: 'success', error: null }],
      ['b', { at: later.at, result: 'failure', error: 'boom' }],
    ]),
  );
});

it('keeps a newer dry run over an older one appended after it (agents append out of order)', async () => {
  const older = entry('a', 'dry-run', 'failure', 'old');
  const newer = entry('a', 'dry-run');
  await store.appendHistory(newer);
  await store.appendHistory(older);
  expect((await store.lastDryRuns()).get('a')).toEqual({ at: newer.at, result: 'success', error: null });
});

it('keeps the index of a large fleet whole, and reads it back from another handle', async () => {
  const expected = new Map<string, { at: string; result: 'success' | 'failure'; error: string | null }>();
  for (let i = 0; i < 300; i++) {
    const e = entry(`c${i}`, 'dry-run', i % 2 === 0 ? 'success' : 'failure', i % 2 === 0 ? null : 'x'.repeat(i % 97));
    await store.appendHistory(e);
    expected.set(e.cert, { at: e.at, result: e.result, error: e.error });
  }
  expect((await fs.stat(indexFile)).size).toBeGreaterThan(4096);
  expect(await (await openFileStore(path.join(tmp, 'state'), systemClock)).lastDryRuns()).toEqual(expected);
});

it('rebuilds a damaged index from the history instead of failing status and the rehearsal schedule', async () => {
  const a = entry('a', 'dry-run', 'failure', 'DNS timeout');
  const b = entry('b', 'dry-run');
  for (const e of [a, entry('a', 'renew'), b]) await store.appendHistory(e);
  await fs.writeFile(indexFile, '{"a": {"at": 42'); // cut short (a full disk, a hand edit)

  const expected = new Map([
    ['a', { at: a.at, result: 'failure', error: 'DNS timeout' }],
    ['b', { at: b.at, result: 'success', error: null }],
  ]);
  expect(await store.lastDryRuns()).toEqual(expected);
  // Written back whole, and the next dry run keeps it up to date.
  expect(new Map(Object.entries(await index()))).toEqual(expected);
  await fs.writeFile(indexFile, 'not json');
  const c = entry('c', 'dry-run');
  await store.appendHistory(c);
  expect((await store.lastDryRuns()).get('c')).toEqual({ at: c.at, result: 'success', error: null });
  expect((await store.lastDryRuns()).get('a')).toEqual({ at: a.at, result: 'failure', error: 'DNS timeout' });
});
