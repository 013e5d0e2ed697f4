// An append-only JSON Lines file (history.jsonl): one fsynced line per append, read back
// tolerating a torn last line from a process killed mid-write. Appends never follow a symlink:
// one planted at the file's path is refused (UNSAFE_PATH), not appended through.

import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { CertkeeperError } from '../core/errors.js';

/** 'a+' without following a symlink at the path. */
const APPEND_NO_FOLLOW = constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0);

/** Appends `value` as one line and fsyncs. A torn last line left by a crash is closed first, so
 *  the new line never gets glued onto it. */
export async function appendJsonLine(file: string, value: unknown, mode = 0o600): Promise<void> {
  const line = `${JSON.stringify(value)}\n`;
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, APPEND_NO_FOLLOW, mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') {
      const link = await fs.readlink(file).catch(() => '?');
      throw new CertkeeperError('UNSAFE_PATH', `${file} is a symlink (to ${link}) that certkeeper did not create; it appends nothing through it. Remove the link (after checking who put it there)`, {
        cause: error,
        retryable: false,
      });
    }
    throw error;
  }
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
