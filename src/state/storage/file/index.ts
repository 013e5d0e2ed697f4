// FileStorage: the storage contract on a local folder, the embedded default. A key is a file
// below the root (`certs/www/current` → `<root>/certs/www/current`), written by temp file, fsync
// and rename, 0600 in 0700 folders. Locks are lock files (file-lock.ts: O_EXCL, refreshed by the
// holder, taken over once unchanged for the TTL). Logs are JSON Lines files under `logs/`.
//
// certkeeper never follows a symlink it did not create: every folder below the root is checked
// with lstat before it is used, files are opened with O_NOFOLLOW, and a symlink found anywhere in
// the tree is an UNSAFE_PATH error that touches nothing.

import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  promises as fs,
  readdirSync,
  readSync,
  watch as watchFs,
  type Dirent,
  type FSWatcher,
} from 'node:fs';
import path from 'node:path';
import { systemClock, type Clock } from '../../../core/clock.js';
import { CertkeeperError, isCertkeeperError, toCertkeeperError } from '../../../core/errors.js';
import { atomicWriteFile } from '../../../core/fs-atomic.js';
import { silentLogger, type Logger } from '../../../core/logger.js';
import { acquireFileLock, describeHolder, removeDeadLock } from '../../file-lock.js';
import { assertStorageKey, DEFAULT_POLL_INTERVAL_MS } from '../contract.js';
import type { LockOptions, LogEntry, LogQuery, PutOptions, Storage, StorageKey, StorageLock, StoredValue } from '../contract.js';
import { CHANGES, JournalReader, noteChange } from './journal.js';
import { readLogNewestFirst } from './log-file.js';

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
const NOFOLLOW = constants.O_NOFOLLOW;
/** Compare-and-set writes take this short lock, so "compare, then rename" is one step between processes. */
const CAS_LOCK = '.cas';
const TEMP_FILE = /^\..+\.tmp-\d+-[0-9a-f]+$/;
/** Folders the sweep lists between two turns of the event loop. */
const SWEEP_SLICE = 64;
/** Keys getMany reads between two turns of the event loop. */
const GET_MANY_SLICE = 64;

export interface FileStorageOptions {
  dir: string;
  clock: Clock;
  logger?: Logger;
  /** How often a watcher looks at the change journal besides its file events (default 20 s). */
  pollIntervalMs?: number;
  /** false: no file events, the poll alone (tests stand in for a network file system so). Default true. */
  fileEvents?: boolean;
}

export class FileStorage implements Storage {
  readonly description: string;
  readonly root: string;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly watchers = new Set<FSWatcher>();
  private readonly polls = new Set<NodeJS.Timeout>();
  private readonly pollIntervalMs: number;
  private readonly fileEvents: boolean;
  /** Names this instance's writes in the change journal, so its own watchers skip them. */
  private readonly token = randomBytes(6).toString('hex');
  /** Compare-and-set steps of this process, one after another (see underCasLock). */
  private casChain: Promise<void> = Promise.resolve();

  private constructor(root: string, options: FileStorageOptions) {
    this.root = root;
    this.clock = options.clock;
    this.logger = options.logger ?? silentLogger;
    this.description = `file:${root}`;
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.fileEvents = options.fileEvents ?? true;
  }

  /** Creates the root (0700) if needed. The root itself may be an operator's symlink; nothing below it may. */
  static async open(options: FileStorageOptions): Promise<FileStorage> {
    const wanted = path.resolve(options.dir);
    try {
      await fs.mkdir(wanted, { recursive: true, mode: DIR_MODE });
      const root = await fs.realpath(wanted);
      const { mode } = await fs.stat(root);
      if ((mode & 0o077) !== 0) await fs.chmod(root, DIR_MODE);
      return new FileStorage(root, options);
    } catch (error) {
      throw new CertkeeperError('STATE_IO', `cannot open the state directory ${wanted}: ${toCertkeeperError(error).message}`, { cause: error });
    }
  }

  where(key: StorageKey): string {
    return this.fileOf(key);
  }

  async get(key: StorageKey): Promise<StoredValue | undefined> {
    const file = this.fileOf(key);
    return this.io('read', file, async () => {
      await this.checkParents(file, false);
      let handle: fs.FileHandle;
      try {
        handle = await fs.open(file, constants.O_RDONLY | NOFOLLOW);
      } catch (error) {
        if (errnoOf(error) === 'ENOENT') return undefined;
        throw error;
      }
      try {
        const stat = await handle.stat({ bigint: true });
        if (!stat.isFile()) throw unsafe(file, 'is not a regular file');
        const value = new Uint8Array(await handle.readFile());
        return { value, version: versionOf(stat), modifiedAt: new Date(Number(stat.mtimeMs)) };
      } finally {
        await handle.close();
      }
    });
  }

  async getMany(keys: readonly StorageKey[]): Promise<Map<StorageKey, StoredValue>> {
    const unique = [...new Set(keys)];
    const files = unique.map((key) => this.fileOf(key));
    // Read with synchronous calls, a slice of keys at a time with a turn of the event loop in
    // between: a small local file costs a few microseconds in its four system calls, and through
    // the thread pool each call is a round trip between threads (30,000 keys: 0.46 s so, 1.9 s
    // with 32 reads in flight, on two busy cores). A slice holds the loop for about a millisecond.
    // Each folder on the way is checked once per call, as checkParents checks it.
    const folders = new Map<string, boolean>();
    const found = new Map<StorageKey, StoredValue>();
    for (let start = 0; start < unique.length; start += GET_MANY_SLICE) {
      if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      for (let i = start; i < Math.min(start + GET_MANY_SLICE, unique.length); i++) {
        const file = files[i]!;
        let value: StoredValue | undefined;
        try {
          value = this.folderExistsSync(path.dirname(file), folders) ? readValueSync(file) : undefined;
        } catch (error) {
          throw ioFailure('read', file, error);
        }
        if (value) found.set(unique[i]!, value);
      }
    }
    return found;
  }

  async put(key: StorageKey, value: Uint8Array, options: PutOptions = {}): Promise<string> {
    const file = this.fileOf(key);
    const version =
      options.ifVersion === undefined
        ? await this.io('write', file, () => this.write(file, value))
        : await this.underCasLock(file, async () => {
            const current = await this.get(key);
            const expected = options.ifVersion;
            if ((current?.version ?? null) !== expected) throw conflict(key, expected === null ? 'it exists already' : 'it changed since it was read');
            return this.io('write', file, () => this.write(file, value));
          });
    await this.noteChange(key);
    return version;
  }

  async delete(key: StorageKey, options: { ifVersion?: string } = {}): Promise<boolean> {
    const file = this.fileOf(key);
    const remove = (): Promise<boolean> =>
      this.io('delete', file, async () => {
        await this.checkParents(file, false);
        const stat = await fs.lstat(file).catch((error: unknown) => (errnoOf(error) === 'ENOENT' ? undefined : Promise.reject(error)));
        if (!stat) return false;
        if (!stat.isFile()) throw unsafe(file, 'is not a regular file; left alone');
        await fs.unlink(file);
        await this.noteChange(key);
        return true;
      });
    if (options.ifVersion === undefined) return remove();
    return this.underCasLock(file, async () => {
      const current = await this.get(key);
      if (current?.version !== options.ifVersion) throw conflict(key, 'it changed since it was read');
      return remove();
    });
  }

  async list(prefix: string): Promise<StorageKey[]> {
    if (prefix !== '' && !prefix.endsWith('/')) throw new Error(`a list prefix ends with '/': ${prefix}`);
    if (prefix !== '') assertStorageKey(prefix.slice(0, -1));
    const start = path.join(this.root, prefix);
    return this.io('list', start, async () => {
      const keys: StorageKey[] = [];
      const walk = async (dir: string, keyPrefix: string): Promise<void> => {
        let entries;
        try {
          entries = await fs.readdir(dir, { withFileTypes: true });
        } catch (error) {
          if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return;
          throw error;
        }
        for (const entry of entries) {
          if (entry.name.startsWith('.')) continue; // temp files, lock helpers, hidden folders
          if (entry.isSymbolicLink()) throw unsafe(path.join(dir, entry.name), 'is a symlink certkeeper did not create');
          if (entry.isDirectory()) await walk(path.join(dir, entry.name), `${keyPrefix}${entry.name}/`);
          else if (entry.isFile()) keys.push(`${keyPrefix}${entry.name}`);
        }
      };
      await this.checkParents(path.join(start, 'x'), false);
      await walk(start, prefix);
      return keys.sort();
    });
  }

  async appendLog(log: string, entry: LogEntry): Promise<void> {
    const file = this.logFile(log);
    const line = `${JSON.stringify({ at: entry.at.toISOString(), subject: entry.subject, kind: entry.kind, body: entry.body })}\n`;
    await this.io('append to', file, async () => {
      await this.checkParents(file, true);
      const handle = await fs.open(file, constants.O_CREAT | constants.O_RDWR | constants.O_APPEND | NOFOLLOW, FILE_MODE);
      try {
        const { size } = await handle.stat();
        let prefix = '';
        if (size > 0) {
          // A torn last line from a crash is closed first, so the new line is never glued onto it.
          const last = Buffer.alloc(1);
          await handle.read(last, 0, 1, size - 1);
          if (last[0] !== 0x0a) prefix = '\n';
        }
        await handle.write(prefix + line);
        await handle.sync();
      } finally {
        await handle.close();
      }
    });
  }

  async readLog(log: string, query: LogQuery = {}): Promise<LogEntry[]> {
    const file = this.logFile(log);
    return this.io('read', file, async () => {
      await this.checkParents(file, false);
      return readLogNewestFirst(file, query);
    });
  }

  async lock(name: string, options: LockOptions): Promise<StorageLock> {
    assertStorageKey(name);
    const file = path.join(this.root, 'locks', name);
    await this.io('create the lock folder for', file, () => this.checkParents(file, true));
    const lost = new AbortController();
    const held = await acquireFileLock(file, {
      clock: this.clock,
      logger: this.logger,
      timeoutMs: options.waitMs,
      staleMs: options.ttlMs,
      refreshMs: Math.max(1, Math.floor(options.ttlMs / 3)),
      pollMs: Math.min(200, Math.max(10, Math.floor(options.ttlMs / 10))),
      signal: options.signal,
      onWait: options.onWait,
      onLost: () => lost.abort(new CertkeeperError('LOCK_TIMEOUT', `the lock ${name} was taken over by another agent`)),
    });
    return {
      name,
      holder: describeHolder(held.holder), // as waiters are told it (onWait)
      tookOver: held.tookOver,
      lost: lost.signal,
      release: () => held.release(),
    };
  }

  /**
   * Follows the change journal (journal.ts) through a watch on the root folder alone (one inotify
   * watch, however many certificates: a recursive watch of 10,000 certificates' folders cost 70 MB
   * and most of a second), and besides looks at it every poll interval, for the file event that
   * never comes: a network file system raises none for another host's writes, and events can be
   * dropped. A value written around certkeeper (by hand) is not in the journal, so no watcher
   * hears of it: the agent reads it at its next plan.
   */
  watch(prefix: string, listener: (key: StorageKey) => void): () => void {
    if (prefix !== '' && !prefix.endsWith('/')) throw new Error(`a watch prefix ends with '/': ${prefix}`);
    const reader = new JournalReader(this.root, this.token, prefix, listener, (error) =>
      this.logger.debug({ err: toCertkeeperError(error).message }, 'cannot read the change journal; watchers re-read'),
    );
    let watcher: FSWatcher | undefined;
    if (this.fileEvents) {
      try {
        watcher = watchFs(this.root, { persistent: false }, (_event, filename) => {
          if (filename === CHANGES) void reader.read();
        });
        watcher.on('error', () => watcher?.close());
        this.watchers.add(watcher);
      } catch (error) {
        this.logger.debug({ err: toCertkeeperError(error).message }, 'no file watch on the state directory; polling alone');
      }
    }
    // The poll: a timer that never keeps the process up (the file watch does not either).
    const poll = setInterval(() => void reader.read(), this.pollIntervalMs);
    poll.unref();
    this.polls.add(poll);
    void reader.read(); // the starting point
    return () => {
      reader.stop();
      clearInterval(poll);
      this.polls.delete(poll);
      if (!watcher) return;
      watcher.close();
      this.watchers.delete(watcher);
    };
  }

  /** Appends `key` to the change journal (see watch). */
  private async noteChange(key: StorageKey): Promise<void> {
    try {
      await noteChange(this.root, this.token, key);
    } catch (error) {
      // Only a hint for watchers: a write that happened stays written.
      this.logger.debug({ err: toCertkeeperError(error).message }, 'cannot note a change in the journal');
    }
  }

  /**
   * Removes temp files of writers that died mid-write (`.NAME.tmp-<pid>-<hex>` of a pid that no
   * longer runs on this host) and locks of holders that died; a live writer's are left alone.
   * Returns how many went.
   */
  async sweep(): Promise<number> {
    let removed = 0;
    const locks = path.join(this.root, 'locks');
    // Every folder, listed with synchronous calls a slice at a time (as getMany reads): some
    // 20,000 folders for 10,000 certificates at every `renew`, in half the time of 16 in flight.
    const folders = [this.root];
    for (let i = 0; i < folders.length; i++) {
      if (i % SWEEP_SLICE === SWEEP_SLICE - 1) await new Promise<void>((resolve) => setImmediate(resolve));
      const dir = folders[i]!;
      let entries: Dirent[];
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        continue; // gone meanwhile, or unreadable: nothing of ours to clean there
      }
      for (const entry of entries) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) folders.push(full);
        else if (entry.isFile() && isTempFile(entry.name) && !pidAlive(Number(/\.tmp-(\d+)-/.exec(entry.name)?.[1]))) {
          await fs.unlink(full).catch(() => undefined);
          removed++;
        } else if (entry.isFile() && dir.startsWith(locks) && !entry.name.startsWith('.') && (await removeDeadLock(full, Date.now()).catch(() => false))) {
          removed++; // a killed agent's lock: nobody need wait for it
        }
      }
    }
    if (removed > 0) this.logger.info({ removed }, 'removed temp files left by an interrupted run');
    return removed;
  }

  async ping(): Promise<void> {
    await this.io('look at', this.root, async () => {
      await fs.access(this.root, constants.R_OK | constants.W_OK);
    });
  }

  async close(): Promise<void> {
    for (const watcher of this.watchers) watcher.close();
    this.watchers.clear();
    for (const poll of this.polls) clearInterval(poll);
    this.polls.clear();
  }

  // ---- internals ----

  /** Whether `dir` exists as a real folder, every folder above it checked too (memo per call); UNSAFE_PATH for a symlink or a file. */
  private folderExistsSync(dir: string, memo: Map<string, boolean>): boolean {
    if (dir === this.root) return true;
    const known = memo.get(dir);
    if (known !== undefined) return known;
    let exists = this.folderExistsSync(path.dirname(dir), memo);
    if (exists) {
      const stat = lstatSync(dir, { throwIfNoEntry: false });
      if (stat?.isSymbolicLink()) throw unsafe(dir, 'is a symlink certkeeper did not create');
      if (stat && !stat.isDirectory()) throw unsafe(dir, 'is not a folder');
      exists = stat !== undefined;
    }
    memo.set(dir, exists);
    return exists;
  }

  private fileOf(key: StorageKey): string {
    assertStorageKey(key);
    return path.join(this.root, ...key.split('/'));
  }

  private logFile(log: string): string {
    assertStorageKey(log);
    if (log.includes('/')) throw new Error(`a log name is one segment: ${log}`);
    return path.join(this.root, 'logs', `${log}.jsonl`);
  }

  /**
   * Checks every folder between the root and `file` with lstat: a real folder, or (when
   * `create`) created 0700 where missing. A symlink or a non-folder is UNSAFE_PATH.
   */
  private async checkParents(file: string, create: boolean): Promise<void> {
    const relative = path.relative(this.root, path.dirname(file));
    if (relative === '') return;
    let dir = this.root;
    for (const segment of relative.split(path.sep)) {
      dir = path.join(dir, segment);
      let stat = await fs.lstat(dir).catch((error: unknown) => (errnoOf(error) === 'ENOENT' ? undefined : Promise.reject(error)));
      if (!stat) {
        if (!create) return; // nothing below exists either
        await fs.mkdir(dir, { mode: DIR_MODE }).catch((error: unknown) => (errnoOf(error) === 'EEXIST' ? undefined : Promise.reject(error)));
        stat = await fs.lstat(dir);
      }
      if (stat.isSymbolicLink()) throw unsafe(dir, 'is a symlink certkeeper did not create');
      if (!stat.isDirectory()) throw unsafe(dir, 'is not a folder');
    }
  }

  private async write(file: string, value: Uint8Array): Promise<string> {
    await this.checkParents(file, true);
    // Temp file, fsync, rename, fsync the folder; a target that is not a regular file is refused.
    return versionOf(await atomicWriteFile(file, value, { mode: FILE_MODE }));
  }

  /**
   * Runs a compare-and-set step alone: one at a time within this process (a promise chain), and
   * between processes under a short lock file. Both are I/O mutexes, timed by the real clock even
   * when the logic runs on an injected one: a test's frozen clock must not freeze a file write.
   */
  private async underCasLock<T>(file: string, step: () => Promise<T>): Promise<T> {
    const previous = this.casChain;
    let done!: () => void;
    this.casChain = new Promise<void>((resolve) => (done = resolve));
    await previous;
    try {
      const lockFile = path.join(this.root, 'locks', CAS_LOCK);
      await this.io('create the lock folder for', lockFile, () => this.checkParents(lockFile, true));
      const held = await acquireFileLock(lockFile, {
        clock: systemClock,
        logger: this.logger,
        timeoutMs: 30_000,
        pollMs: 5,
        staleMs: 10_000,
        refreshMs: 2_000,
      }).catch((error: unknown) => {
        throw toCertkeeperError(error, 'STATE_IO');
      });
      try {
        return await step();
      } finally {
        await held.release();
      }
    } finally {
      done();
    }
  }

  private async io<T>(action: string, file: string, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      throw ioFailure(action, file, error);
    }
  }
}

/** A failure of `action` on `file` as the storage reports it: a symlink is UNSAFE_PATH, the rest STATE_IO. */
function ioFailure(action: string, file: string, error: unknown): CertkeeperError {
  if (isCertkeeperError(error)) return error;
  const code = errnoOf(error);
  if (code === 'ELOOP') return unsafe(file, 'is a symlink certkeeper did not create');
  return new CertkeeperError('STATE_IO', `cannot ${action} ${file}: ${code ?? toCertkeeperError(error).message}`, { cause: error });
}

/** One value as `get` reads it (never through a symlink, a regular file only), with synchronous calls; undefined when there is none. */
function readValueSync(file: string): StoredValue | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | NOFOLLOW);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const stat = fstatSync(fd, { bigint: true });
    if (!stat.isFile()) throw unsafe(file, 'is not a regular file');
    // Values are replaced by rename, never written in place: the opened file keeps its size.
    const value = new Uint8Array(Number(stat.size));
    let done = 0;
    while (done < value.length) {
      const read = readSync(fd, value, done, value.length - done, done);
      if (read === 0) break;
      done += read;
    }
    return { value: done === value.length ? value : value.subarray(0, done), version: versionOf(stat), modifiedAt: new Date(Number(stat.mtimeMs)) };
  } finally {
    closeSync(fd);
  }
}

/** A rename-based write gives every version a new inode; inode and nanosecond mtime together name it. */
function versionOf(stat: { ino: bigint; mtimeNs: bigint; size: bigint }): string {
  return `${stat.ino.toString(36)}.${stat.mtimeNs.toString(36)}.${stat.size.toString(36)}`;
}

function unsafe(file: string, what: string): CertkeeperError {
  return new CertkeeperError('UNSAFE_PATH', `${file} ${what}: certkeeper refuses to use it (remove it, or point the state directory elsewhere)`, {
    retryable: false,
  });
}

function conflict(key: string, why: string): CertkeeperError {
  return new CertkeeperError('STATE_CONFLICT', `not written: ${key}: ${why}`);
}

/** Temp files of killed writers, for the sweep at start-up. */
export function isTempFile(name: string): boolean {
  return TEMP_FILE.test(name);
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) === 'EPERM'; // alive, another user's
  }
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}
