// A set of files published as one atomic switch: `dir` becomes a symlink to a fresh version folder
// in `.<name>.versions` beside it, so a reader never pairs a new certificate with an old key; the
// previous `keep` versions stay for rollback.
//
// certkeeper replaces and deletes only what it created there:
//   - at `dir`: nothing, or the symlink it manages, whose text is `.<name>.versions/<version>` as
//     written below. A folder, a file or any other symlink is refused (SINK_TARGET_EXISTS unless
//     the caller names another code) before anything is created, moved or deleted.
//   - `.<name>.versions`, and every folder it creates on the way to `dir`, must be a real folder
//     owned by certkeeper's user (core/owned-dirs.ts) and is used through its open descriptor.
//   - pruning deletes only real folders in `.<name>.versions` named like a version; anything else
//     there stays.
// There is no marker file saying "this versions folder is certkeeper's": whoever could forge one
// (certkeeper's own user) could do anything anyway, while ownership and the folder's name are what
// someone who can merely write the parent cannot fake. Folders written by earlier versions, which
// have no marker, keep working as they are.

import { randomBytes } from 'node:crypto';
import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { CertkeeperError, type ErrorCode } from './errors.js';
import { atomicWriteFile, tempName } from './fs-atomic.js';
import { notAFolderError, withOwnedPath, type DirCreate, type OwnedDir } from './owned-dirs.js';

export interface FileSetEntry {
  name: string; // a plain file name, no separators
  data: string | Uint8Array;
  mode: number;
}

export interface PublishOptions {
  /** How many previous versions to keep for rollback (default 1). */
  keep?: number;
  /** Mode of the folders it creates and of the versions folder (default 0o755; state uses 0o700). Set with chmod: the umask does not narrow it. */
  dirMode?: number;
  /** Owner and group of the files; the folders get the group (their owner stays certkeeper's user). */
  uid?: number | undefined;
  gid?: number | undefined;
  /** A label for the version folder, e.g. the serial; sanitised. */
  label?: string;
  /** Used for version folder names; pass the injected clock's now. */
  now?: Date;
  /**
   * The operator's folder above `dir`; every folder between it and `dir` must be certkeeper's.
   * Default: the nearest existing ancestor of `dir` (folders that already exist are the operator's).
   */
  root?: string;
  /** Code of the refusal when `dir` holds something certkeeper did not create (default SINK_TARGET_EXISTS). */
  targetExistsCode?: ErrorCode;
}

export interface PublishResult {
  /** The stable path readers use (the symlink). */
  dir: string;
  /** The real folder the link now points at. */
  versionDir: string;
  /** The folder it pointed at before, if any (kept for rollback unless pruned). */
  previousVersionDir: string | undefined;
}

/** `<stamp>[-<label>]-<6 hex>`; stamps with or without milliseconds (the first releases wrote seconds). */
const VERSION_NAME = /^\d{8}T\d{6}(?:\d{3})?Z(?:-[A-Za-z0-9_-]{1,64})?-[0-9a-f]{6}$/;
/** Earlier releases moved a hand-made folder found at `dir` aside under this name: it holds the operator's files, so pruning keeps it. */
const PREEXISTING = /Z-preexisting-[0-9a-f]{6}$/;

/** The sibling folder holding the versions of `dir`: `/a/b/www` → `/a/b/.www.versions`. */
export function versionsDirOf(dir: string): string {
  return path.join(path.dirname(dir), versionsName(path.basename(dir)));
}

function versionsName(base: string): string {
  return `.${base}.versions`;
}

/** The version a link at `<parent>/<base>` points to when it is the link certkeeper writes, else undefined. */
export function managedVersionOf(base: string, linkText: string): string | undefined {
  const prefix = `${versionsName(base)}/`;
  if (!linkText.startsWith(prefix)) return undefined;
  const version = linkText.slice(prefix.length);
  return VERSION_NAME.test(version) ? version : undefined;
}

/**
 * Publishes a set of files at `dir` as one atomic switch. `dir` becomes a symlink to a fresh
 * folder under `versionsDirOf(dir)`; the previous target is kept (up to `keep` versions).
 */
export async function publishFileSet(dir: string, files: FileSetEntry[], options: PublishOptions = {}): Promise<PublishResult> {
  for (const file of files) {
    if (file.name.includes('/') || file.name.startsWith('.') || file.name === '') throw new Error(`invalid file name in set: ${file.name}`);
  }
  const keep = options.keep ?? 1;
  const target = path.resolve(dir);
  const base = path.basename(target);
  const create: DirCreate = { mode: options.dirMode ?? 0o755, gid: options.gid };
  const { root, parts } = await chainTo(path.dirname(target), options.root);
  const code = options.targetExistsCode ?? 'SINK_TARGET_EXISTS';

  return withOwnedPath(root, parts, create, async (parent) => {
    // Whether certkeeper may replace what is at `dir` is decided before anything is created.
    const previous = await currentVersion(parent, base, code);
    return parent.withChild(versionsName(base), create, async (versions) => {
      if (!versions.created) {
        // Made by an earlier deploy: the configured modes and group may have changed since.
        await versions.chmod(create.mode);
        if (create.gid !== undefined) await versions.chown(create.gid);
      }
      // Millisecond stamps sort versions by age, so pruning keeps the newest.
      const stamp = (options.now ?? new Date()).toISOString().replace(/[-:]/g, '').replace('.', '');
      const label = (options.label ?? '').replace(/[^A-Za-z0-9_-]/g, '').slice(0, 64);
      const version = `${stamp}${label ? `-${label}` : ''}-${randomBytes(3).toString('hex')}`;
      const versionDir = (await versions.child(version, create))!;
      try {
        await versionDir.use(async (folder) => {
          if (!folder.created) throw new Error(`${folder.path} already exists`);
          for (const file of files) {
            await atomicWriteFile(folder.at(file.name), file.data, { mode: file.mode, uid: options.uid, gid: options.gid });
          }
          await folder.sync();
        });
        await switchLink(parent, base, `${versionsName(base)}/${version}`, previous, code);
      } catch (error) {
        // Never live: the new version goes, so a failed deploy leaves no key material behind.
        if (versionDir.created) await fs.rm(versions.at(version), { recursive: true, force: true }).catch(() => undefined);
        throw error;
      }
      await pruneVersions(versions, new Set([version, ...(previous ? [previous] : [])]), keep);
      return { dir: target, versionDir: versions.shown(version), previousVersionDir: previous && versions.shown(previous) };
    });
  });
}

/** The operator's folder to start from and the folders below it up to `parent`. */
async function chainTo(parent: string, root: string | undefined): Promise<{ root: string; parts: string[] }> {
  if (root !== undefined) {
    const relative = path.relative(path.resolve(root), parent);
    if (relative.startsWith('..') || path.isAbsolute(relative)) throw new Error(`${parent} is not inside ${root}`);
    return { root: path.resolve(root), parts: relative === '' ? [] : relative.split(path.sep) };
  }
  const parts: string[] = [];
  let current = parent;
  for (;;) {
    // stat follows: an existing ancestor is the operator's. A dangling symlink reads as missing,
    // and creating it below then refuses the link.
    const stat = await fs.stat(current).catch((error: NodeJS.ErrnoException) => error);
    if (!(stat instanceof Error)) {
      if (!stat.isDirectory()) throw new Error(`${current} is not a folder`);
      return { root: current, parts: parts.reverse() };
    }
    if (stat.code !== 'ENOENT') throw stat;
    const up = path.dirname(current);
    if (up === current) throw new Error(`no existing folder above ${parent}`);
    parts.push(path.basename(current));
    current = up;
  }
}

/** The version the managed link at `base` points to; undefined when nothing is there; refuses anything else. */
async function currentVersion(parent: OwnedDir, base: string, code: ErrorCode): Promise<string | undefined> {
  const stat = await parent.lstat(base);
  if (!stat) return undefined;
  const link = stat.isSymbolicLink() ? await fs.readlink(parent.at(base)) : undefined;
  const version = link === undefined ? undefined : managedVersionOf(base, link);
  if (version === undefined) throw targetExistsError(parent.shown(base), stat, link, code);
  return version;
}

/** Points `base` at `linkText` by renaming a fresh link over it; what is there must still be what was checked. */
async function switchLink(parent: OwnedDir, base: string, linkText: string, previous: string | undefined, code: ErrorCode): Promise<void> {
  const temp = path.basename(tempName(base));
  await fs.symlink(linkText, parent.at(temp));
  try {
    // Checked again just before: a folder put there since cannot be replaced by rename anyway
    // (EISDIR), anything else is refused rather than clobbered.
    if ((await currentVersion(parent, base, code)) !== previous) throw new Error(`${parent.shown(base)} changed while the new version was written; try again`);
    await fs.rename(parent.at(temp), parent.at(base));
  } catch (error) {
    await fs.unlink(parent.at(temp)).catch(() => undefined);
    throw error;
  }
  await parent.sync();
}

/** Deletes old version folders, newest kept: the current one, the previous one and up to `keep` in all. */
async function pruneVersions(versions: OwnedDir, protect: Set<string>, keep: number): Promise<void> {
  const names = (await versions.list())
    .filter((entry) => entry.isDirectory() && VERSION_NAME.test(entry.name) && !PREEXISTING.test(entry.name))
    .map((entry) => entry.name)
    .sort()
    .reverse();
  let kept = 0;
  for (const name of names) {
    if (protect.has(name)) continue;
    if (kept < keep - (protect.size - 1)) {
      kept++;
      continue;
    }
    // rm does not follow symlinks inside; the folder itself is looked at once more right before.
    if (!(await versions.lstat(name))?.isDirectory()) continue;
    await fs.rm(versions.at(name), { recursive: true, force: true });
  }
}

function targetExistsError(shown: string, stat: Stats, link: string | undefined, code: ErrorCode): CertkeeperError {
  const what = link !== undefined ? `a symlink to ${link}` : stat.isDirectory() ? 'a folder' : stat.isFile() ? 'a file' : 'a special file';
  return new CertkeeperError(
    code,
    `${shown} already exists (${what}) and certkeeper did not create it: it replaces only the symlink it manages there, so it moved and deleted nothing. If the path is wrong, fix the configured dir; if the content is to be replaced, move it away first (mv ${shown} ${shown}.orig) and deploy again`,
    { retryable: false, details: { path: shown } },
  );
}

/**
 * Read-only look at `dir` for `doctor`: the refusal publishFileSet would give for what is there
 * now (something at `dir` it did not create; a versions folder that is a symlink or not a folder),
 * or undefined. Ownership is not judged here: doctor may run as another user than the agent.
 */
export async function inspectPublishTarget(dir: string, code: ErrorCode = 'SINK_TARGET_EXISTS'): Promise<CertkeeperError | undefined> {
  const target = path.resolve(dir);
  const lstat = (file: string): Promise<Stats | undefined> =>
    fs.lstat(file).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
      throw error;
    });
  const stat = await lstat(target);
  if (stat) {
    const link = stat.isSymbolicLink() ? await fs.readlink(target) : undefined;
    if (link === undefined || managedVersionOf(path.basename(target), link) === undefined) return targetExistsError(target, stat, link, code);
  }
  const versions = versionsDirOf(target);
  const versionsStat = await lstat(versions);
  if (versionsStat && !versionsStat.isDirectory()) return notAFolderError(versions, versionsStat.isSymbolicLink() ? await fs.readlink(versions) : undefined);
  return undefined;
}
