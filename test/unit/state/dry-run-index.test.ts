// lastDryRuns: the newest dry run per certificate (status, rehearsal schedule) from dry-runs.json
// plus the history appended since, so a reader never scans the whole of a long history.jsonl.

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import type { HistoryEntry } from '../../../src/core/types.js';
import { FileStore } from '../../../src/state/file-store.js';

let tmp: string;
let store: FileStore;
let historyFile: string;
let indexFile: string;

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-dryruns-'));
  store = await FileStore.open({ dir: path.join(tmp, 'state'), clock: systemClock });
  historyFile = path.join(store.dir, 'history.jsonl');
  indexFile = path.join(store.dir, 'dry-runs.json');
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

let minute = 0;
function entry(cert: string, action: HistoryEntry['action'], result: HistoryEntry['result'] = 'success', error: string | null = null): HistoryEntry {
  const at = new Date(Date.UTC(2026, 5, 1, 0, minute++)).toISOString();
  return { at, cert, action, result, serial: null, notAfter: null, durationMs: 5, error };
}

async function index(): Promise<{ historyBytes: number; last: Record<string, unknown> }> {
  return JSON.parse(await fs.readFile(indexFile, 'utf8')) as { historyBytes: number; last: Record<string, unknown> };
}

it('is empty without history, and keeps the newest dry run of each certificate', async () => {
  expect(await store.lastDryRuns()).toEqual(new Map());
  const first = entry('a', 'dry-run', 'failure', 'DNS timeout');
  const renew = entry('a', 'renew');
  const second = entry('a', 'dry-run');
  const other = entry('b', 'dry-run', 'failure', 'CA down');
  for (const e of [first, renew, second, other, entry('c', 'renew')]) await store.appendHistory(e);

  expect(await store.lastDryRuns()).toEqual(
    new Map([
      ['a', { at: second.at, result: 'success', error: null }],
      ['b', { at: other.at, result: 'failure', error: 'CA down' }],
    ]),
  );
  // Written after the dry run, covering the history up to it.
  const written = await index();
  expect(Object.keys(written.last).sort()).toEqual(['a', 'b']);
  expect(written.historyBytes).toBeLessThan((await fs.stat(historyFile)).size); // the 'c' renewal came after
});

it('reads only the history after the index: the part it covers is not scanned again', async () => {
  const dryRun = entry('a', 'dry-run');
  await store.appendHistory(dryRun);
  const covered = (await index()).historyBytes;
  expect(covered).toBe((await fs.stat(historyFile)).size);
  // Blank out the covered part (same length): the answer, from the index, does not change.
  await fs.writeFile(historyFile, `${' '.repeat(covered - 1)}\n`);
  const later = entry('b', 'dry-run', 'failure', 'boom');
  await store.appendHistory(later);
  expect(await store.lastDryRuns()).toEqual(
    new Map([
      ['a', { at: dryRun.at, result: 'success', error: null }],
      ['b', { at: later.at, result: 'failure', error: 'boom' }],
    ]),
  );
});

it('finds dry runs appended after the index by a process that does not keep it (an older version)', async () => {
  await store.appendHistory(entry('a', 'dry-run'));
  const raw = entry('a', 'dry-run', 'failure', 'late');
  await fs.appendFile(historyFile, `${JSON.stringify(raw)}\n`);
  expect((await store.lastDryRuns()).get('a')).toEqual({ at: raw.at, result: 'failure', error: 'late' });
});

it('reads an older state dir (history, no index) in full, and writes the index at its first append', async () => {
  const old = [entry('a', 'dry-run'), entry('b', 'renew'), entry('a', 'dry-run', 'failure', 'x')];
  await fs.writeFile(historyFile, old.map((e) => `${JSON.stringify(e)}\n`).join(''));
  const fresh = new FileStore({ dir: store.dir, clock: systemClock });
  expect(await fresh.lastDryRuns()).toEqual(new Map([['a', { at: old[2]!.at, result: 'failure', error: 'x' }]]));
  await expect(fs.stat(indexFile)).rejects.toMatchObject({ code: 'ENOENT' }); // readers never write

  await fresh.appendHistory(entry('b', 'deploy')); // not a dry run, but no index yet: built now
  expect(await index()).toEqual({ historyBytes: (await fs.stat(historyFile)).size, last: { a: { at: old[2]!.at, result: 'failure', error: 'x' } } });
});

it('leaves a torn last line for later and skips unreadable lines', async () => {
  await store.appendHistory(entry('a', 'dry-run'));
  const size = (await fs.stat(historyFile)).size;
  await fs.appendFile(historyFile, 'not json\n{"at":"2026-06-0'); // garbage, then a line being written
  const map = await store.lastDryRuns();
  expect([...map.keys()]).toEqual(['a']);
  const next = entry('b', 'dry-run');
  await store.appendHistory(next); // closes the torn line first
  const written = await index();
  expect(written.historyBytes).toBe((await fs.stat(historyFile)).size);
  expect(written.historyBytes).toBeGreaterThan(size);
  expect(Object.keys(written.last).sort()).toEqual(['a', 'b']);
});

it('rebuilds from the history when dry-runs.json is unreadable', async () => {
  const dryRun = entry('a', 'dry-run');
  await store.appendHistory(dryRun);
  await fs.writeFile(indexFile, '{"historyBytes": ');
  expect(await store.lastDryRuns()).toEqual(new Map([['a', { at: dryRun.at, result: 'success', error: null }]]));
});

it('reads the whole history again when it was replaced by a shorter one', async () => {
  await store.appendHistory(entry('a', 'dry-run'));
  await store.appendHistory(entry('b', 'dry-run'));
  const kept = entry('c', 'dry-run');
  await fs.writeFile(historyFile, `${JSON.stringify(kept)}\n`);
  const map = await store.lastDryRuns();
  expect(map.get('c')).toEqual({ at: kept.at, result: 'success', error: null });
  expect([...map.keys()].sort()).toEqual(['a', 'b', 'c']); // what the index knew stays known
});

it('scans a history longer than one read chunk, lines crossing chunk boundaries', async () => {
  const lines: string[] = [];
  const expected = new Map<string, { at: string; result: 'success' | 'failure'; error: string | null }>();
  for (let i = 0; i < 9000; i++) {
    const e = { ...entry(`c${i % 300}`, i % 3 === 0 ? 'dry-run' : 'deploy'), reason: 'x'.repeat(i % 97) };
    lines.push(JSON.stringify(e));
    if (e.action === 'dry-run') expected.set(e.cert, { at: e.at, result: e.result, error: e.error });
  }
  await fs.writeFile(historyFile, `${lines.join('\n')}\n`);
  expect((await fs.stat(historyFile)).size).toBeGreaterThan(1024 * 1024);
  expect(await store.lastDryRuns()).toEqual(expected);

  // The index written at the next append is read back whole (it is larger than one small read).
  await store.appendHistory(entry('c0', 'deploy'));
  expect((await fs.stat(indexFile)).size).toBeGreaterThan(4096);
  expect(await new FileStore({ dir: store.dir, clock: systemClock }).lastDryRuns()).toEqual(expected);
});
