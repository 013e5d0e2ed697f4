// Crash-safe file primitives: a file is replaced by writing a temp file, fsyncing it and
// renaming it over the old one; a set of files is replaced by writing a new version folder
// and atomically re-pointing a symlink at it. Readers never see a half-written file or a
// certificate next to the wrong key.

import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

export interface WriteOptions {
  mode?: number; // default 0o644
  uid?: number;
  gid?: number;
}

async function fsyncDir(dir: string): Promise<void> {
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

function tempName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Writes `data` to `file` atomically: temp file, fsync, chmod/chown, rename, fsync dir. */
export async function atomicWriteFile(file: string, data: string | Uint8Array, options: WriteOptions = {}): Promise<void> {
  const temp = tempName(file);
  const mode = options.mode ?? 0o644;
  const handle = await fs.open(temp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.chmod(mode); // the umask may have narrowed the open() mode
    if (options.uid !== undefined || options.gid !== undefined) {
      await handle.chown(options.uid ?? -1, options.gid ?? -1);
    }
    await handle.sync();
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
}

/** Creates a directory (and parents) with the given mode, tightening the mode if it exists. */
export async function ensureDir(dir: string, mode = 0o700): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode });
}

export interface FileSetEntry {
  name: string; // a plain file name, no separators
  data: string | Uint8Array;
  mode: number;
}

export interface PublishOptions {
  /** How many previous versions to keep for rollback (default 1). */
  keep?: number;
  /** Mode of the version folders (default 0o755; state uses 0o700). */
  dirMode?: number;
  uid?: number;
  gid?: number;
  /** A label for the version folder, e.g. the serial; sanitised. */
  label?: string;
  /** Used for version folder names; pass the injected clock's now. */
  now?: Date;
}

export interface PublishResult {
  /** The stable path readers use (the symlink). */
  dir: string;
  /** The real folder the link now points at. */
  versionDir: string;
  /** The folder it pointed at before, if any (kept for rollback unless pruned). */
  previousVersionDir: string | undefined;
}

/** The sibling folder holding the versions of `dir`: `/a/b/www` → `/a/b/.www.versions`. */
export function versionsDirOf(dir: string): string {
  return path.join(path.dirname(dir), `.${path.basename(dir)}.versions`);
}

/**
 * Publishes a set of files at `dir` as one atomic switch. `dir` becomes a symlink to a fresh
 * folder under `versionsDirOf(dir)`; the previous target is kept (up to `keep` versions).
 */
export async function publishFileSet(dir: string, files: FileSetEntry[], options: PublishOptions = {}): Promise<PublishResult> {
  const keep = options.keep ?? 1;
  const dirMode = options.dirMode ?? 0o755;
  const parent = path.dirname(dir);
  const versions = versionsDirOf(dir);
  await ensureDir(parent, dirMode);
  await ensureDir(versions, dirMode);

  // Millisecond stamps sort versions by age, so pruning keeps the newest.
  const stamp = (options.now ?? new Date()).toISOString().replace(/[-:]/g, '').replace('.', '');
  const label = (options.label ?? '').replace(/[^A-Za-z0-9_-]/g, '').slice(0, 64);
  const versionName = `${stamp}${label ? `-${label}` : ''}-${randomBytes(3).toString('hex')}`;
  const versionDir = path.join(versions, versionName);
  await fs.mkdir(versionDir, { mode: dirMode });
  await fs.chmod(versionDir, dirMode);
  if (options.uid !== undefined || options.gid !== undefined) {
    await fs.chown(versionDir, options.uid ?? -1, options.gid ?? -1);
  }
  for (const file of files) {
    if (file.name.includes('/') || file.name.startsWith('.')) throw new Error(`invalid file name in set: ${file.name}`);
    await atomicWriteFile(path.join(versionDir, file.name), file.data, { mode: file.mode, uid: options.uid, gid: options.gid });
  }
  await fsyncDir(versionDir);

  // Find what `dir` is now: a symlink (normal case), a real folder (first run over a
  // hand-made folder: move it into the versions so it is kept), or nothing.
  let previousVersionDir: string | undefined;
  const existing = await fs.lstat(dir).catch(() => undefined);
  if (existing?.isSymbolicLink()) {
    previousVersionDir = path.resolve(parent, await fs.readlink(dir));
  } else if (existing?.isDirectory()) {
    previousVersionDir = path.join(versions, `${stamp}-preexisting-${randomBytes(3).toString('hex')}`);
    await fs.rename(dir, previousVersionDir);
  } else if (existing) {
    throw new Error(`${dir} exists and is neither a folder nor a symlink`);
  }

  const tempLink = tempName(dir);
  await fs.symlink(path.relative(parent, versionDir), tempLink);
  await fs.rename(tempLink, dir);
  await fsyncDir(parent);

  await pruneVersions(versions, [versionDir, previousVersionDir], keep);
  return { dir, versionDir, previousVersionDir };
}

/** Deletes old version folders, newest first kept: the current one plus `keep` previous. */
async function pruneVersions(versions: string, protect: (string | undefined)[], keep: number): Promise<void> {
  const names = (await fs.readdir(versions)).filter((name) => !name.startsWith('.')).sort().reverse();
  const protectedSet = new Set(protect.filter((p): p is string => p !== undefined).map((p) => path.resolve(p)));
  let kept = 0;
  for (const name of names) {
    const full = path.resolve(versions, name);
    if (protectedSet.has(full)) continue;
    if (kept < keep - (protectedSet.size - 1)) {
      kept++;
      continue;
    }
    await fs.rm(full, { recursive: true, force: true });
  }
}

/** Removes stray temp files (`.NAME.tmp-*`) left in a folder by a killed process. */
export async function removeStaleTempFiles(dir: string): Promise<number> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) {
    if (/^\..+\.tmp-\d+-[0-9a-f]+$/.test(name)) {
      await fs.rm(path.join(dir, name), { force: true, recursive: true });
      removed++;
    }
  }
  return removed;
}
