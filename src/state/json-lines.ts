// An append-only JSON Lines file (history.jsonl): one fsynced line per append, read back
// tolerating a torn last line from a process killed mid-write.

import { promises as fs } from 'node:fs';
import path from 'node:path';

/** Appends `value` as one line and fsyncs. A torn last line left by a crash is closed first, so
 *  the new line never gets glued onto it. */
export async function appendJsonLine(file: string, value: unknown, mode = 0o600): Promise<void> {
  const line = `${JSON.stringify(value)}\n`;
  const handle = await fs.open(file, 'a+', mode);
  let created = false;
  try {
    const { size } = await handle.stat();
    created = size === 0;
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = '\n';
    }
    await handle.write(prefix + line); // O_APPEND: lands at the end whatever the position
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (created) await fsyncDir(path.dirname(file));
}

export interface JsonLines {
  values: unknown[];
  /** Lines that did not parse (a torn write); their content is not reported. */
  skipped: number;
}

/** Reads every parsable line in file order; a missing file reads as empty. */
export async function readJsonLines(file: string): Promise<JsonLines> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { values: [], skipped: 0 };
    throw error;
  }
  const values: unknown[] = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      values.push(JSON.parse(line));
    } catch {
      skipped++;
    }
  }
  return { values, skipped };
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r').catch(() => undefined);
  try {
    await handle?.sync();
  } catch {
    // Some filesystems refuse fsync on directories.
  } finally {
    await handle?.close();
  }
}
