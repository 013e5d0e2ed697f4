// FileStore: the StateStore on a local directory. It owns this layout (dirs 0700, files 0600):
//
//   <stateDir>/lock                              the state lock (see file-lock.ts)
//   <stateDir>/history.jsonl                     one line per outcome, appended and fsynced
//   <stateDir>/certs/<name>/live                 symlink to the current version folder
//   <stateDir>/certs/<name>/.live.versions/<v>/  cert.pem chain.pem fullchain.pem privkey.pem meta.json
//   <stateDir>/certs/<name>/record.json          deploy bookkeeping (CertRecord)
//   <stateDir>/accounts/<id>/account.json        ACME account with its key; id = hash(directory, email)
//   <stateDir>/issuers/<id>.json                 per CA and account: rate-limit backoff; id = hash(key)
//
// A certificate and its key are published together by one symlink switch (core/fs-atomic), so a
// reader of `live` never sees a new certificate next to an old key; older versions stay as the
// archive. Every other file is replaced by temp file + fsync + rename.

import { createHash } from 'node:crypto';
import { promises as fs, type Dirent } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../core/clock.js';
import { CertkeeperError, toCertkeeperError } from '../core/errors.js';
import { atomicWriteFile, ensureDir, publishFileSet, removeStaleTempFiles } from '../core/fs-atomic.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { CertificateMaterial, CertificatePaths, HistoryEntry, StoredCertificate } from '../core/types.js';
import { keyMatchesCertificate, parseCertificate } from '../core/x509.js';
import { emptyRecord, type AccountRecord, type CertRecord, type HistoryQuery, type StateLock, type StateStore } from './contract.js';
import { acquireFileLock, type LockTiming } from './file-lock.js';
import { appendJsonLine, readJsonLines } from './json-lines.js';

export interface FileStoreOptions {
  dir: string;
  clock: Clock;
  logger?: Logger;
  /** Previous certificate versions kept per name as the archive (default 10). */
  archiveVersions?: number;
  /** Lock polling, refresh and staleness; defaults suit production, tests shorten them. */
  lockTiming?: LockTiming;
}

/** Contents of meta.json beside each stored certificate. */
interface CertificateMeta {
  directoryUrl: string;
  issuedAt: string;
  serial: string;
  notAfter: string;
}

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
const FILES = { cert: 'cert.pem', chain: 'chain.pem', fullchain: 'fullchain.pem', key: 'privkey.pem', meta: 'meta.json' } as const;
// Names become folder names: no separators, no dot-files, nothing that walks out of certs/.
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class FileStore implements StateStore {
  readonly dir: string;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly archiveVersions: number;
  private readonly lockTiming: LockTiming;

  constructor(options: FileStoreOptions) {
    this.dir = path.resolve(options.dir);
    this.clock = options.clock;
    this.logger = options.logger ?? silentLogger;
    this.archiveVersions = options.archiveVersions ?? 10;
    this.lockTiming = options.lockTiming ?? {};
  }

  /** Creates the layout (tightening the state dir to 0700 if it was looser) and returns the store. */
  static async open(options: FileStoreOptions): Promise<FileStore> {
    const store = new FileStore(options);
    await store.io('create the state directory', store.dir, async () => {
      await ensureDir(store.dir, DIR_MODE);
      const { mode } = await fs.stat(store.dir);
      if ((mode & 0o077) !== 0) {
        store.logger.warn({ dir: store.dir, mode: (mode & 0o777).toString(8) }, 'state directory was readable by others; setting it to 0700');
        await fs.chmod(store.dir, DIR_MODE);
      }
      await ensureDir(path.join(store.dir, 'certs'), DIR_MODE);
      await ensureDir(path.join(store.dir, 'accounts'), DIR_MODE);
    });
    return store;
  }

  // ---- lock ----

  async lock(options: { timeoutMs?: number; signal?: AbortSignal; onWait?: (holder: string) => void } = {}): Promise<StateLock> {
    const held = await acquireFileLock(path.join(this.dir, 'lock'), { ...this.lockTiming, ...options, clock: this.clock, logger: this.logger });
    try {
      await this.removeLeftovers();
    } catch (error) {
      // Leftover temp files are harmless clutter; never fail a run over them.
      this.logger.warn({ err: toCertkeeperError(error).message }, 'cannot clean temp files in the state directory');
    }
    return { release: () => held.release() };
  }

  /** Temp files of a process killed mid-write; only safe to delete while holding the lock. */
  private async removeLeftovers(): Promise<void> {
    const dirs = [this.dir];
    for (const root of [path.join(this.dir, 'certs'), path.join(this.dir, 'accounts')]) {
      for (const entry of await readDirents(root)) {
        if (!entry.isDirectory()) continue;
        const dir = path.join(root, entry.name);
        dirs.push(dir);
        const versions = path.join(dir, '.live.versions');
        for (const version of await readDirents(versions)) if (version.isDirectory()) dirs.push(path.join(versions, version.name));
      }
    }
    let removed = 0;
    for (const dir of dirs) removed += await removeStaleTempFiles(dir);
    if (removed > 0) this.logger.info({ removed }, 'removed temp files left by an interrupted run');
  }

  // ---- certificates ----

  async getCertificate(name: string): Promise<StoredCertificate | undefined> {
    const live = this.livePath(name);
    // Read through the resolved version folder, so a concurrent switch cannot hand us the
    // certificate of one version and the key of another.
    let versionDir: string;
    try {
      versionDir = await fs.realpath(live);
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw this.ioError('read', live, error);
      if (!(await fs.lstat(live).catch(() => undefined))) return undefined;
      throw new CertkeeperError('STATE_CORRUPT', `${live} points to a version folder that no longer exists`, { cause: error });
    }

    const read = async (file: string): Promise<string> => {
      const full = path.join(versionDir, file);
      try {
        return await fs.readFile(full, 'utf8');
      } catch (error) {
        if (errnoOf(error) === 'ENOENT') throw new CertkeeperError('STATE_CORRUPT', `stored certificate "${name}" is incomplete: ${full} is missing`, { cause: error });
        throw this.ioError('read', full, error);
      }
    };
    const [certPem, chainPem, fullchainPem, keyPem, metaText] = await Promise.all([read(FILES.cert), read(FILES.chain), read(FILES.fullchain), read(FILES.key), read(FILES.meta)]);

    const meta = parseMeta(metaText);
    if (!meta) throw new CertkeeperError('STATE_CORRUPT', `stored certificate "${name}": ${path.join(versionDir, FILES.meta)} is not valid`);
    let info;
    try {
      info = parseCertificate(certPem);
    } catch (error) {
      throw new CertkeeperError('STATE_CORRUPT', `stored certificate "${name}": ${path.join(versionDir, FILES.cert)} does not parse`, { cause: error });
    }
    if (!keyMatchesCertificate(certPem, keyPem)) {
      throw new CertkeeperError('STATE_CORRUPT', `stored certificate "${name}": the private key in ${versionDir} does not belong to its certificate`);
    }
    return {
      name,
      info,
      material: { certPem, chainPem, fullchainPem, keyPem },
      paths: this.pathsUnder(live),
      issuedAt: new Date(meta.issuedAt),
      directoryUrl: meta.directoryUrl,
    };
  }

  async putCertificate(name: string, material: CertificateMaterial, meta: { directoryUrl: string; issuedAt: Date }): Promise<StoredCertificate> {
    const live = this.livePath(name);
    let info;
    try {
      info = parseCertificate(material.certPem);
    } catch (error) {
      throw new CertkeeperError('INTERNAL', `refusing to store certificate "${name}": it does not parse`, { cause: error, retryable: false });
    }
    if (!keyMatchesCertificate(material.certPem, material.keyPem)) {
      throw new CertkeeperError('INTERNAL', `refusing to store certificate "${name}": the private key does not belong to it`, { retryable: false });
    }
    const metaJson: CertificateMeta = { directoryUrl: meta.directoryUrl, issuedAt: meta.issuedAt.toISOString(), serial: info.serial, notAfter: info.notAfter.toISOString() };
    await this.io('store the certificate in', live, async () => {
      await ensureDir(path.join(this.dir, 'certs'), DIR_MODE);
      await publishFileSet(
        live,
        [
          { name: FILES.cert, data: material.certPem, mode: FILE_MODE },
          { name: FILES.chain, data: material.chainPem, mode: FILE_MODE },
          { name: FILES.fullchain, data: material.fullchainPem, mode: FILE_MODE },
          { name: FILES.key, data: material.keyPem, mode: FILE_MODE },
          { name: FILES.meta, data: `${JSON.stringify(metaJson, null, 2)}\n`, mode: FILE_MODE },
        ],
        { keep: this.archiveVersions, dirMode: DIR_MODE, label: info.serial, now: this.clock.now() },
      );
    });
    this.logger.debug({ cert: name, serial: info.serial }, 'stored certificate');
    return { name, info, material, paths: this.pathsUnder(live), issuedAt: meta.issuedAt, directoryUrl: meta.directoryUrl };
  }

  /**
   * Moves the current version folder to certs/<name>/revoked/<serial>/ and removes `live`, so the
   * key is out of the live path and out of the pruned archive; a later put starts afresh.
   */
  async quarantineCertificate(name: string): Promise<string | undefined> {
    const live = this.livePath(name);
    const current = await fs.realpath(live).catch((error: unknown) => {
      if (errnoOf(error) === 'ENOENT') return undefined;
      throw this.ioError('read', live, error);
    });
    if (current === undefined) return undefined;
    const meta = parseMeta((await this.readOptional(path.join(current, FILES.meta))) ?? '');
    const serial = (meta?.serial ?? '').replace(/[^A-Za-z0-9]/g, '') || path.basename(current);
    const target = path.join(this.certDir(name), 'revoked', serial);
    const moved = await this.io('quarantine the certificate in', target, async () => {
      await ensureDir(path.dirname(target), DIR_MODE);
      // A second quarantine of the same serial (a retried command) keeps both.
      const free = (await fs.lstat(target).catch(() => undefined)) ? `${target}-${this.clock.now().getTime()}` : target;
      await fs.rename(current, free);
      await fs.unlink(live);
      return free;
    });
    this.logger.info({ cert: name, serial }, 'certificate moved out of the live path');
    return moved;
  }

  /** Names that have a current certificate, sorted. */
  async listCertificateNames(): Promise<string[]> {
    const certs = path.join(this.dir, 'certs');
    const names: string[] = [];
    for (const entry of await this.io('list', certs, () => readDirents(certs))) {
      if (!entry.isDirectory() || !SAFE_NAME.test(entry.name)) continue;
      if (await fs.lstat(path.join(certs, entry.name, 'live')).catch(() => undefined)) names.push(entry.name);
    }
    return names.sort();
  }

  // ---- records ----

  async getRecord(name: string): Promise<CertRecord> {
    const file = path.join(this.certDir(name), 'record.json');
    const text = await this.readOptional(file);
    if (text === undefined) return emptyRecord();
    try {
      // Defaults first: a record written by an older version may lack newer fields.
      return { ...emptyRecord(), ...(JSON.parse(text) as Partial<CertRecord>) };
    } catch (error) {
      throw new CertkeeperError('STATE_CORRUPT', `${file} is not valid JSON`, { cause: error });
    }
  }

  async putRecord(name: string, record: CertRecord): Promise<void> {
    const dir = this.certDir(name);
    const file = path.join(dir, 'record.json');
    await this.io('write', file, async () => {
      await ensureDir(dir, DIR_MODE);
      await atomicWriteFile(file, `${JSON.stringify(record, null, 2)}\n`, { mode: FILE_MODE });
    });
  }

  // ---- per-sink data ----

  async getSinkState(certName: string, sinkName: string): Promise<Record<string, unknown> | undefined> {
    const file = this.sinkStateFile(certName, sinkName);
    const text = await this.readOptional(file);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new CertkeeperError('STATE_CORRUPT', `${file} is not valid JSON`, { cause: error });
    }
  }

  async putSinkState(certName: string, sinkName: string, data: Record<string, unknown>): Promise<void> {
    const file = this.sinkStateFile(certName, sinkName);
    await this.io('write', file, async () => {
      await ensureDir(path.dirname(file), DIR_MODE);
      await atomicWriteFile(file, `${JSON.stringify(data, null, 2)}\n`, { mode: FILE_MODE });
    });
  }

  private sinkStateFile(certName: string, sinkName: string): string {
    if (!SAFE_NAME.test(sinkName)) throw new CertkeeperError('CONFIG_INVALID', `sink name "${sinkName}" cannot be used as a file name`, { retryable: false });
    return path.join(this.certDir(certName), 'sinks', `${sinkName}.json`);
  }

  // ---- per-issuer data (rate-limit backoff per CA and account) ----

  async getIssuerState(key: string): Promise<Record<string, unknown> | undefined> {
    const file = this.issuerStateFile(key);
    const text = await this.readOptional(file);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new CertkeeperError('STATE_CORRUPT', `${file} is not valid JSON`, { cause: error });
    }
  }

  async putIssuerState(key: string, data: Record<string, unknown>): Promise<void> {
    const file = this.issuerStateFile(key);
    await this.io('write', file, async () => {
      await ensureDir(path.dirname(file), DIR_MODE);
      await atomicWriteFile(file, `${JSON.stringify({ key, ...data }, null, 2)}\n`, { mode: FILE_MODE });
    });
  }

  private issuerStateFile(key: string): string {
    return path.join(this.dir, 'issuers', `${createHash('sha256').update(key).digest('hex').slice(0, 16)}.json`);
  }

  // ---- accounts ----

  async getAccount(directoryUrl: string, email: string | null): Promise<AccountRecord | undefined> {
    const file = path.join(this.accountDir(directoryUrl, email), 'account.json');
    const text = await this.readOptional(file);
    if (text === undefined) return undefined;
    let value: Partial<AccountRecord>;
    try {
      value = JSON.parse(text) as Partial<AccountRecord>;
    } catch (error) {
      throw new CertkeeperError('STATE_CORRUPT', `${file} is not valid JSON`, { cause: error });
    }
    if (typeof value.keyPem !== 'string' || value.directoryUrl !== directoryUrl || (value.email ?? null) !== email) {
      throw new CertkeeperError('STATE_CORRUPT', `${file} does not hold the account for ${directoryUrl} and ${email ?? 'no email'}`);
    }
    return { directoryUrl, email, accountUrl: value.accountUrl ?? null, keyPem: value.keyPem };
  }

  async putAccount(account: AccountRecord): Promise<void> {
    const dir = this.accountDir(account.directoryUrl, account.email);
    const file = path.join(dir, 'account.json');
    const data: AccountRecord = { directoryUrl: account.directoryUrl, email: account.email, accountUrl: account.accountUrl, keyPem: account.keyPem };
    await this.io('write', file, async () => {
      await ensureDir(path.join(this.dir, 'accounts'), DIR_MODE);
      await ensureDir(dir, DIR_MODE);
      await atomicWriteFile(file, `${JSON.stringify(data, null, 2)}\n`, { mode: FILE_MODE });
    });
  }

  // ---- history ----

  async appendHistory(entry: HistoryEntry): Promise<void> {
    const file = this.historyPath();
    await this.io('append to', file, async () => {
      await ensureDir(this.dir, DIR_MODE);
      await appendJsonLine(file, entry, FILE_MODE);
    });
  }

  async readHistory(query: HistoryQuery = {}): Promise<HistoryEntry[]> {
    const file = this.historyPath();
    const { values, skipped } = await this.io('read', file, () => readJsonLines(file));
    if (skipped > 0) this.logger.warn({ file, skipped }, 'skipped unreadable history lines');
    // File order is append order (appends happen under the lock), so newest first = reversed.
    let entries = values.filter(isHistoryEntry).reverse();
    if (query.cert !== undefined) entries = entries.filter((entry) => entry.cert === query.cert);
    if (query.limit !== undefined) entries = entries.slice(0, Math.max(0, query.limit));
    return entries;
  }

  // ---- paths and plumbing ----

  private certDir(name: string): string {
    if (!SAFE_NAME.test(name)) {
      throw new CertkeeperError('CONFIG_INVALID', `certificate name "${name}" cannot be used as a folder name (letters, digits, ".", "_", "-")`);
    }
    return path.join(this.dir, 'certs', name);
  }

  private livePath(name: string): string {
    return path.join(this.certDir(name), 'live');
  }

  private pathsUnder(dir: string): CertificatePaths {
    return { cert: path.join(dir, FILES.cert), chain: path.join(dir, FILES.chain), fullchain: path.join(dir, FILES.fullchain), key: path.join(dir, FILES.key) };
  }

  /** One folder per directory URL and email: the same email at two CAs is two accounts. */
  private accountDir(directoryUrl: string, email: string | null): string {
    const id = createHash('sha256').update(`${directoryUrl}\n${email ?? ''}`).digest('hex').slice(0, 16);
    return path.join(this.dir, 'accounts', id);
  }

  private historyPath(): string {
    return path.join(this.dir, 'history.jsonl');
  }

  private async readOptional(file: string): Promise<string | undefined> {
    try {
      return await fs.readFile(file, 'utf8');
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return undefined;
      throw this.ioError('read', file, error);
    }
  }

  /** Runs a filesystem step, turning a raw I/O failure into STATE_IO naming the path. */
  private async io<T>(action: string, file: string, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      if (error instanceof CertkeeperError) throw error;
      throw this.ioError(action, file, error);
    }
  }

  private ioError(action: string, file: string, error: unknown): CertkeeperError {
    return new CertkeeperError('STATE_IO', `cannot ${action} ${file}: ${toCertkeeperError(error).message}`, { cause: error });
  }
}

function parseMeta(text: string): CertificateMeta | undefined {
  try {
    const value = JSON.parse(text) as Partial<CertificateMeta>;
    if (typeof value.directoryUrl === 'string' && typeof value.issuedAt === 'string' && !Number.isNaN(Date.parse(value.issuedAt))) {
      return { directoryUrl: value.directoryUrl, issuedAt: value.issuedAt, serial: String(value.serial ?? ''), notAfter: String(value.notAfter ?? '') };
    }
  } catch {
    // fall through: invalid
  }
  return undefined;
}

function isHistoryEntry(value: unknown): value is HistoryEntry {
  const entry = value as Partial<HistoryEntry> | null;
  return typeof entry === 'object' && entry !== null && typeof entry.at === 'string' && typeof entry.cert === 'string' && typeof entry.action === 'string' && typeof entry.result === 'string';
}

async function readDirents(dir: string): Promise<Dirent[]> {
  try {
    return await fs.readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return [];
    throw error;
  }
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}
