// The file store's change journal (src/state/storage/file/journal.ts), read as a watcher's poll
// reads it: from where it stopped, from the start of a journal that did not exist yet, starting
// over (and saying "re-read everything") when the journal was replaced past its bound.

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHANGES, JournalReader, noteChange } from '../../../src/state/storage/file/journal.js';

let root: string;
let seen: string[];
let errors: unknown[];
const reader = (prefix = 'certs/') =>
  new JournalReader(
    root,
    'mine',
    prefix,
    (key) => seen.push(key),
    (error) => errors.push(error),
  );

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'ck-journal-'));
  seen = [];
  errors = [];
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe('the change journal', () => {
  it('reports what others appended since the last read, not its own lines nor keys outside the prefix', async () => {
    await noteChange(root, 'other', 'certs/old/current');
    const r = reader();
    await r.read(); // the starting point: what was there before is not news
    await noteChange(root, 'other', 'certs/www/current');
    await noteChange(root, 'mine', 'certs/own/current');
    await noteChange(root, 'other', 'accounts/le');
    await r.read();
    expect(seen).toEqual(['certs/www/current']);
    await r.read();
    expect(seen).toEqual(['certs/www/current']);
  });

  it('reads a journal that did not exist at its first look from its start', async () => {
    const r = reader();
    await r.read();
    await noteChange(root, 'other', 'certs/first/current');
    await r.read();
    expect(seen).toEqual(['certs/first/current']);
  });

  it('leaves a line being appended for the next read', async () => {
    const r = reader();
    await r.read();
    await fs.appendFile(path.join(root, CHANGES), 'other certs/half');
    await r.read();
    expect(seen).toEqual([]);
    await fs.appendFile(path.join(root, CHANGES), '/current\n');
    await r.read();
    expect(seen).toEqual(['certs/half/current']);
  });

  it('replaced past its bound: the reader is told to re-read everything, then follows the new journal', async () => {
    const r = reader();
    await noteChange(root, 'other', 'certs/start/current');
    await r.read();
    const { ino } = await fs.stat(path.join(root, CHANGES));
    const long = `certs/${'x'.repeat(120)}/${'y'.repeat(120)}/${'z'.repeat(120)}`;
    for (let i = 0; (await fs.stat(path.join(root, CHANGES))).ino === ino; i++) {
      if (i > 10_000) throw new Error('the journal was never replaced');
      await noteChange(root, 'other', long);
    }
    expect((await fs.stat(path.join(root, CHANGES))).size).toBe(0);
    await noteChange(root, 'other', 'certs/after/current');
    await r.read();
    expect(seen).toEqual(['certs/', 'certs/after/current']);
    expect(errors).toEqual([]);
  });
});
