// Folders certkeeper creates and owns (a sink's versions folder and version folders, the parents
// it creates for a sink, the state directory's subfolders) and the rule that goes with them: such
// a folder is opened without following a symlink, must be a real folder owned by this process's
// user, and is then used through its open descriptor, as `/proc/self/fd/N/<entry>` (Node has no
// openat()). Someone who can write the folder above can then neither plant a symlink in its place
// beforehand nor swap one in between the check and the writes. Without a usable /proc (not
// Linux) the checked path itself is used, which leaves that second race open.
//
// The folder at the top of a chain is the operator's (a configured sink parent, the state
// directory): it is opened following symlinks, as configured paths may legitimately contain them.

import { constants, promises as fs, type Dirent, type Stats } from 'node:fs';
import path from 'node:path';
import { CertkeeperError } from './errors.js';

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_DIRECTORY = constants.O_DIRECTORY ?? 0;

/** How a missing folder is created: `mode` is set with chmod afterwards, as mkdir's is narrowed by the umask. */
export interface DirCreate {
  mode: number;
  /** Group of the new folder; the owner stays certkeeper's user. */
  gid?: number | undefined;
}

/**
 * Whether `/proc/self/fd/N` leads to the folder open as N: decided once per process, at the first
 * folder opened (a property of the platform and of how the process was started, not of a folder).
 */
let procFdUsable: Promise<boolean> | undefined;

async function probeProcFd(handle: fs.FileHandle, stat: Stats): Promise<boolean> {
  const seen = await fs.stat(`/proc/self/fd/${handle.fd}`).catch(() => undefined);
  return seen !== undefined && seen.dev === stat.dev && seen.ino === stat.ino;
}

export class OwnedDir {
  private constructor(
    /** The real path, for messages and results. */
    readonly path: string,
    private readonly handle: fs.FileHandle,
    /** What fs calls go through: `/proc/self/fd/N` when it leads to the same folder, else `path`. */
    private readonly via: string,
    /** True when this call created the folder. */
    readonly created: boolean,
  ) {}

  /** Opens a folder the operator configured (symlinks in its path are followed: they are the operator's). */
  static async openConfigured(dir: string): Promise<OwnedDir> {
    const real = path.resolve(dir);
    const handle = await fs.open(real, constants.O_RDONLY | O_DIRECTORY);
    return OwnedDir.anchor(real, handle, false);
  }

  private static async anchor(real: string, handle: fs.FileHandle, created: boolean, stat?: Stats): Promise<OwnedDir> {
    try {
      procFdUsable ??= probeProcFd(handle, stat ?? (await handle.stat()));
      return new OwnedDir(real, handle, (await procFdUsable) ? `/proc/self/fd/${handle.fd}` : real, created);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** The path fs calls use for `name` inside this folder. */
  at(name: string): string {
    return path.join(this.via, name);
  }

  /** The real path of `name` inside this folder, for messages. */
  shown(name: string): string {
    return path.join(this.path, name);
  }

  /**
   * Opens the subfolder `name`, creating it first with `create`. Refuses with UNSAFE_PATH (and
   * without touching anything) a symlink, something that is not a folder, or a folder owned by
   * another user, who could put a symlink into it at any time. Missing and no `create`: undefined.
   */
  async child(name: string, create?: DirCreate): Promise<OwnedDir | undefined> {
    if (name.includes('/') || name === '.' || name === '..' || name === '') throw new Error(`invalid folder name: ${name}`);
    let created = false;
    if (create) {
      try {
        await fs.mkdir(this.at(name), { mode: create.mode });
        created = true;
      } catch (error) {
        if (errnoOf(error) !== 'EEXIST') throw error;
      }
    }
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.at(name), constants.O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    } catch (error) {
      const code = errnoOf(error);
      if (code === 'ENOENT' && !create) return undefined;
      if (code === 'ELOOP' || code === 'ENOTDIR') throw await this.notAFolder(name, error);
      throw error;
    }
    let stat: Stats;
    try {
      stat = await handle.stat();
      const euid = process.geteuid?.();
      if (euid !== undefined && stat.uid !== euid) {
        throw new CertkeeperError(
          'UNSAFE_PATH',
          `${this.shown(name)} belongs to uid ${stat.uid}, not to certkeeper's user (uid ${euid}): whoever owns it could redirect what certkeeper writes there, so it changed nothing. If that folder is certkeeper's, give it back: chown -R ${euid} ${this.shown(name)}`,
          { retryable: false },
        );
      }
      if (created && create) {
        await handle.chmod(create.mode);
        if (create.gid !== undefined) await handle.chown(-1, create.gid);
      }
    } catch (error) {
      await handle.close();
      throw error;
    }
    return OwnedDir.anchor(this.shown(name), handle, created, stat);
  }

  /** Runs `use` with the subfolder `name` (created when missing), closing it afterwards. */
  async withChild<T>(name: string, create: DirCreate, use: (dir: OwnedDir) => Promise<T>): Promise<T> {
    const dir = (await this.child(name, create))!;
    return dir.use(use);
  }

  /** Runs `use`, then closes this folder; errors name real paths, not `/proc/self/fd/N`. */
  async use<T>(use: (dir: OwnedDir) => Promise<T>): Promise<T> {
    try {
      return await use(this);
    } catch (error) {
      throw this.explain(error);
    } finally {
      await this.handle.close();
    }
  }

  /** lstat of `name` inside; undefined when missing. */
  async lstat(name: string): Promise<Stats | undefined> {
    try {
      return await fs.lstat(this.at(name));
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** The entries, typed as lstat sees them (a symlink is never a folder here). */
  async list(): Promise<Dirent[]> {
    return fs.readdir(this.via, { withFileTypes: true });
  }

  async sync(): Promise<void> {
    try {
      await this.handle.sync();
    } catch {
      // Some filesystems refuse fsync on directories; renames are still atomic.
    }
  }

  async chmod(mode: number): Promise<void> {
    await this.handle.chmod(mode);
  }

  async chown(gid: number): Promise<void> {
    await this.handle.chown(-1, gid);
  }

  private async notAFolder(name: string, cause: unknown): Promise<CertkeeperError> {
    const link = await fs.readlink(this.at(name)).catch(() => undefined);
    return notAFolderError(this.shown(name), link, cause);
  }

  /** The same error with this folder's `/proc/self/fd/N` replaced by its real path. */
  private explain(error: unknown): unknown {
    if (this.via === this.path || !(error instanceof Error)) return error;
    // `(?![0-9])`: /proc/self/fd/2 must not match the start of /proc/self/fd/23.
    const fix = (text: string): string => text.replace(new RegExp(`${this.via}(?![0-9])`, 'g'), this.path);
    error.message = fix(error.message);
    const errno = error as NodeJS.ErrnoException & { dest?: string };
    if (typeof errno.path === 'string') errno.path = fix(errno.path);
    if (typeof errno.dest === 'string') errno.dest = fix(errno.dest);
    return error;
  }
}

/** UNSAFE_PATH for `shown`, which should be a folder certkeeper owns but is a symlink (to `link`) or not a folder. */
export function notAFolderError(shown: string, link: string | undefined, cause?: unknown): CertkeeperError {
  if (link !== undefined) {
    return new CertkeeperError(
      'UNSAFE_PATH',
      `${shown} is a symlink (to ${link}) that certkeeper did not create; it refuses to write or delete through it and changed nothing. Check who planted it and what it points to, remove it (rm ${shown}), and make sure only certkeeper's user can write ${path.dirname(shown)}`,
      { cause, retryable: false },
    );
  }
  return new CertkeeperError('UNSAFE_PATH', `${shown} is not a folder; certkeeper changed nothing. Move it out of the way (mv ${shown} ${shown}.orig)`, {
    cause,
    retryable: false,
  });
}

/**
 * Runs `use` with `root/parts...`: `root` is the operator's folder (followed), each of `parts`
 * a folder certkeeper owns, created with `create` when missing and refused when it is a symlink,
 * not a folder, or someone else's.
 */
export async function withOwnedPath<T>(root: string, parts: string[], create: DirCreate, use: (dir: OwnedDir) => Promise<T>): Promise<T> {
  const walk = (dir: OwnedDir, rest: string[]): Promise<T> =>
    rest.length === 0 ? use(dir) : dir.withChild(rest[0]!, create, (child) => walk(child, rest.slice(1)));
  return (await OwnedDir.openConfigured(root)).use((dir) => walk(dir, parts));
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}
