// Crash-safe file primitives: a file is replaced by writing a temp file, fsyncing it and
// renaming it over the old one; a set of files is replaced by writing a new version folder
// and atomically re-pointing a symlink at it. Readers never see a half-written file or a
// certificate next to the wrong key.
//
// Neither follows a symlink it did not create: a file is only ever replaced when it is a regular
// file, temp files are created with O_EXCL|O_NOFOLLOW, and a file set lives in folders that
// core/owned-dirs.ts checks and pins (see file-set.ts).

import { randomBytes } from 'node:crypto';
import { constants, promises as fs, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { CertkeeperError } from './errors.js';

export interface WriteOptions {
  mode?: number; // default 0o644
  uid?: number | undefined;
  gid?: number | undefined;
}

const CREATE_EXCLUSIVE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);

export async function fsyncDir(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  } finally {
    await handle?.close();
  }
}

/** A fresh temp name beside `target` (same folder, so the final rename is atomic). */
export function tempName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Writes `data` to `file` atomically: temp file, fsync, chmod/chown, rename, fsync dir. Refuses
 * with UNSAFE_PATH when `file` is a symlink, a folder or anything but a regular file: replacing
 * it would delete something certkeeper did not write. Returns what the new file is (its inode and
 * times, to name the version written).
 */
export async function atomicWriteFile(file: string, data: string | Uint8Array, options: WriteOptions = {}): Promise<BigIntStats> {
  const existing = await fs.lstat(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (existing && !existing.isFile()) {
    const what = existing.isSymbolicLink()
      ? `a symlink (to ${await fs.readlink(file).catch(() => '?')})`
      : existing.isDirectory()
        ? 'a folder'
        : 'not a regular file';
    throw new CertkeeperError(
      'UNSAFE_PATH',
      `${file} is ${what}, which certkeeper did not create; it replaces only regular files it wrote, so it changed nothing. Remove it (after checking who put it there)`,
      {
        retryable: false,
      },
    );
  }
  const temp = tempName(file);
  const mode = options.mode ?? 0o644;
  const handle = await fs.open(temp, CREATE_EXCLUSIVE, mode);
  let written: BigIntStats;
  try {
    await handle.writeFile(data);
    await handle.chmod(mode); // the umask may have narrowed the open() mode
    if (options.uid !== undefined || options.gid !== undefined) {
      await handle.chown(options.uid ?? -1, options.gid ?? -1);
    }
    await handle.sync();
    written = await handle.stat({ bigint: true });
  } catch (error) {
    await handle.close();
    await fs.rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
  await fsyncDir(path.dirname(file));
  return written;
}

/** Creates a configured directory (and parents) with the given mode; symlinks in its path are the operator's. */
export async function ensureDir(dir: string, mode = 0o700): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode });
}
