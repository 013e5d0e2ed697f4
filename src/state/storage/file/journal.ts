// The change journal of a file store: every put and delete appends `<writer token> <key>` to
// `.changes` in the root, and a watcher follows it from where it last stopped. It is only a hint
// (a write stays written when its line is lost): past CHANGES_MAX_BYTES it is replaced by an
// empty one, and a watcher that finds another journal than the one it was reading, or one cut
// back, or none it can read, tells its listener to re-read everything under its prefix.
//
// Looking costs one open and fstat when nothing changed, so a watcher may look often (a poll)
// besides when a file event says so; 10,000 certificates cost nothing more.

import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { atomicWriteFile } from '../../../core/fs-atomic.js';
import type { StorageKey } from '../contract.js';

export const CHANGES = '.changes';
const CHANGES_MAX_BYTES = 1024 * 1024;
const FILE_MODE = 0o600;
const NOFOLLOW = constants.O_NOFOLLOW;
/** A reader's place before any journal exists. */
const NO_JOURNAL = 'none';

/**
 * Appends `key` to the journal in `root`. Past its bound the journal is replaced by an empty one
 * (every reader then re-reads everything); a line appended to a journal just replaced is appended
 * again to the new one, for the readers already there. Throws what the file system throws.
 */
export async function noteChange(root: string, token: string, key: StorageKey): Promise<void> {
  const journal = path.join(root, CHANGES);
  for (let attempt = 0; attempt < 3; attempt++) {
    const handle = await fs.open(journal, constants.O_CREAT | constants.O_WRONLY | constants.O_APPEND | NOFOLLOW, FILE_MODE);
    let replaced = false;
    try {
      await handle.write(`${token} ${key}\n`);
      const stat = await handle.stat();
      if (stat.size > CHANGES_MAX_BYTES) {
        await atomicWriteFile(journal, new Uint8Array(0), { mode: FILE_MODE });
        return;
      }
      const current = await fs.lstat(journal).catch(() => undefined);
      replaced = current?.ino !== stat.ino;
    } finally {
      await handle.close();
    }
    if (!replaced) return;
  }
}

/** One watcher's reading of the journal: `read` reports to `listener` what was appended since the last read. */
export class JournalReader {
  private readonly journal: string;
  /** Which journal (inode and birth time) is being read, and how far; undefined before the first look. */
  private at: { file: string; offset: number } | undefined;
  private reading = false;
  private again = false;
  private stopped = false;

  constructor(
    root: string,
    /** This store instance's writer token: its own lines are news to nobody here. */
    private readonly token: string,
    private readonly prefix: string,
    private readonly listener: (key: StorageKey) => void,
    private readonly onError: (error: unknown) => void,
  ) {
    this.journal = path.join(root, CHANGES);
  }

  stop(): void {
    this.stopped = true;
  }

  /** Reads what was appended since the last read (the first read only finds the starting point). One at a time: a call during a read makes it read again. */
  async read(): Promise<void> {
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    try {
      do {
        this.again = false;
        await this.readOnce();
      } while (this.again && !this.stopped);
    } catch (error) {
      this.onError(error);
      if (!this.stopped) this.listener(this.prefix);
    } finally {
      this.reading = false;
    }
  }

  private async readOnce(): Promise<void> {
    const handle = await fs
      .open(this.journal, constants.O_RDONLY | NOFOLLOW)
      .catch((error: unknown) => ((error as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : Promise.reject(error)));
    if (!handle) {
      this.at ??= { file: NO_JOURNAL, offset: 0 }; // none yet: the first one is read from its start
      return;
    }
    try {
      const stat = await handle.stat();
      const file = `${stat.ino}.${stat.birthtimeMs}`;
      const at = (this.at ??= { file, offset: stat.size }); // changes from now on
      if (at.file !== file) {
        // Replaced since the last look: what the old one held past `offset` was never read.
        if (at.file !== NO_JOURNAL) this.listener(this.prefix);
        at.file = file;
        at.offset = 0;
      }
      if (stat.size < at.offset) {
        at.offset = 0;
        this.listener(this.prefix); // cut back in place (an older certkeeper): something may have been missed
      }
      if (stat.size === at.offset || this.stopped) return;
      const buffer = Buffer.alloc(stat.size - at.offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, at.offset);
      const complete = buffer.lastIndexOf(0x0a, bytesRead - 1) + 1; // a line being appended is read next time
      at.offset += complete;
      const keys = new Set<string>();
      for (const line of buffer.toString('utf8', 0, complete).split('\n')) {
        const space = line.indexOf(' ');
        if (space > 0 && line.slice(0, space) !== this.token) keys.add(line.slice(space + 1));
      }
      for (const key of keys) if (key.startsWith(this.prefix) && !this.stopped) this.listener(key);
    } finally {
      await handle.close();
    }
  }
}
