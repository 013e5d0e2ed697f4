// FileStore: the StateStore on a local directory. It owns this layout (dirs 0700, files 0600):
//
//   <stateDir>/lock                              the state lock (see file-lock.ts)
//   <stateDir>/history.jsonl                     one line per outcome, appended and fsynced
//   <stateDir>/dry-runs.json                     the newest dry run per certificate up to an offset of history.jsonl
//   <stateDir>/certs/<name>/live                 symlink to the current version folder
//   <stateDir>/certs/<name>/.live.versions/<v>/  cert.pem chain.pem fullchain.pem privkey.pem meta.json
//   <stateDir>/certs/<name>/record.json          deploy bookkeeping (CertRecord)
//   <stateDir>/accounts/<id>/account.json        ACME account with its key; id = hash(directory, email)
//   <stateDir>/issuers/<id>.json                 per CA and account: rate-limit backoff; id = hash(key)
//
// A certificate and its key are published together by one symlink switch (core/fs-atomic), so a
// reader of `live` never sees a new certificate next to an old key; older versions stay as the
// archive. Every other file is replaced by temp file + fsync + rename. meta.json records the
// certificate's details, so planning and `status` read one small file per certificate
// (peekCertificate) instead of parsing PEM and checking the key.
//
// Nothing is written or deleted through a symlink certkeeper did not create: every subfolder
// (certs/, certs/<name>/, accounts/<id>/, issuers/, revoked/, the version folders) is opened
// without following links, must be owned by certkeeper's user and is then used through its
// descriptor (core/owned-dirs); a planted symlink or foreign folder is refused with UNSAFE_PATH.
// The state directory itself is the configured path and may be reached through a symlink.

import { createHash } from 'node:crypto';
import { close as closeCallback, open as openCallback, read as readCallback, promises as fs, type Dirent } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../core/clock.js';
import { mapLimit } from '../core/concurrency.js';
import { CertkeeperError, isCertkeeperError, toCertkeeperError } from '../core/errors.js';
import { managedVersionOf, publishFileSet } from '../core/file-set.js';
import { atomicWriteFile, ensureDir, removeStaleTempFiles } from '../core/fs-atomic.js';
import { withOwnedPath, type DirCreate } from '../core/owned-dirs.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { CertificateInfo, CertificateMaterial, CertificatePaths, HistoryEntry, StoredCertificate } from '../core/types.js';
import { keyMatchesCertificate, parseCertificate } from '../core/x509.js';
import {
  emptyRecord,
  type AccountRecord,
  type CertificateLock,
  type CertificateLockOptions,
  type CertificateSummary,
  type CertRecord,
  type DryRunSummary,
  type HistoryQuery,
  type StateLock,
  type StateStore,
} from './contract.js';
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
  /** The rest of CertificateInfo; meta.json written before these existed lacks them (peek then parses cert.pem). */
  notBefore?: string;
  domains?: string[];
  keyType?: string;
  issuer?: string;
}

/** Contents of dry-runs.json: history.jsonl's newest dry run per certificate, up to byte `historyBytes`. */
interface DryRunIndex {
  historyBytes: number;
  last: Record<string, DryRunSummary>;
}

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
const DIRS: DirCreate = { mode: DIR_MODE };
const FILES = { cert: 'cert.pem', chain: 'chain.pem', fullchain: 'fullchain.pem', key: 'privkey.pem', meta: 'meta.json' } as const;
const KEY_TYPES: ReadonlySet<string> = new Set(['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'unknown']);
/** dry-runs.json is rewritten after every dry run, and once the history grew this much past it, so readers scan little. */
const DRY_RUN_INDEX_LAG_BYTES = 256 * 1024;
/** One read of a small JSON file (meta.json, record.json, ...): most fit in one; under 4 KiB, Node hands out pooled buffers. */
const SMALL_READ_BYTES = 4095;
/** History is scanned in chunks of this size, so memory stays flat however long it grows. */
const HISTORY_CHUNK_BYTES = 1024 * 1024;
// Names become folder names: no separators, no dot-files, nothing that walks out of certs/.
/** Certificates whose folders the leftover sweep reads at once. */
const LEFTOVER_SWEEP_CONCURRENCY = 16;
/** Certificates a batch read (peekCertificates, ...) reads at once. */
const BATCH_READ_CONCURRENCY = 16;
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class FileStore implements StateStore {
  readonly dir: string;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly archiveVersions: number;
  private readonly lockTiming: LockTiming;
  /** Whether temp files of killed processes were looked for since this store was opened. */
  private leftoversChecked = false;
  /** history.jsonl bytes covered by dry-runs.json as this process last saw it; undefined: not read yet. */
  private dryRunIndexedBytes: number | undefined;

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
      await withOwnedPath(store.dir, [], DIRS, async (root) => {
        for (const folder of ['certs', 'accounts']) await root.withChild(folder, DIRS, async () => undefined);
      });
    });
    return store;
  }

  // ---- lock ----

  async lock(options: { timeoutMs?: number; signal?: AbortSignal; onWait?: (holder: string) => void } = {}): Promise<StateLock> {
    const held = await acquireFileLock(path.join(this.dir, 'lock'), { ...this.lockTiming, ...options, clock: this.clock, logger: this.logger });
    // Only a process killed mid-write leaves temp files, and its lock is then taken over; so look
    // at the first lock (an earlier run may have died) and after a takeover, not at every lock:
    // the walk opens every certificate's folders, which the daemon's batches would pay each time.
    if (this.leftoversChecked && !held.tookOver) return { release: () => held.release() };
    this.leftoversChecked = true;
    try {
      await this.removeLeftovers();
    } catch (error) {
      // Leftover temp files are harmless clutter; never fail a run over them.
      this.logger.warn({ err: toCertkeeperError(error).message }, 'cannot clean temp files in the state directory');
    }
    return { release: () => held.release() };
  }

  /**
   * Temp files of a process killed mid-write; only safe to delete while holding the lock. Every
   * certificate's folders are looked at, a few certificates at a time: a fleet of 10,000 means
   * some 30,000 folder reads, which one after the other took a second and a half.
   */
  private async removeLeftovers(): Promise<void> {
    const removed = await withOwnedPath(this.dir, [], DIRS, async (root) => {
      let count = await removeStaleTempFiles(root.through);
      for (const top of ['certs', 'accounts']) {
        count +=
          (await root.withExistingChild(top, async (folder) => {
            // Dirent types come from lstat: a symlink among them is not a folder and is skipped.
            const owners = (await folder.list()).filter((entry) => entry.isDirectory());
            const counts = await mapLimit(owners, LEFTOVER_SWEEP_CONCURRENCY, (entry) => sweepOwnerFolder(folder.at(entry.name)));
            return counts.reduce((a, b) => a + b, 0);
          })) ?? 0;
      }
      return count;
    });
    if (removed > 0) this.logger.info({ removed }, 'removed temp files left by an interrupted run');
  }

  /**
   * The 0.1 layout has one lock for everything, so a certificate's lock is that lock: correct,
   * but one certificate at a time. The storage layout (state/open.ts) has a lock per certificate.
   */
  async lockCertificate(_name: string, options: CertificateLockOptions): Promise<CertificateLock> {
    const held = await this.lock({ timeoutMs: options.waitMs, ...(options.signal ? { signal: options.signal } : {}), ...(options.onWait ? { onWait: options.onWait } : {}) });
    return { tookOver: false, lost: new AbortController().signal, release: () => held.release() };
  }

  // ---- certificates ----

  async getCertificate(name: string): Promise<StoredCertificate | undefined> {
    const read = await this.readCurrent(name, true);
    if (!read) return undefined;
    const { versionDir, files, meta, info } = read;
    const certPem = files.cert!;
    const keyPem = files.key!;
    if (!keyMatchesCertificate(certPem, keyPem)) {
      throw new CertkeeperError('STATE_CORRUPT', `stored certificate "${name}": the private key in ${versionDir} does not belong to its certificate`);
    }
    return {
      name,
      info,
      material: { certPem, chainPem: files.chain!, fullchainPem: files.fullchain!, keyPem },
      paths: this.pathsUnder(this.livePath(name)),
      issuedAt: new Date(meta.issuedAt),
      directoryUrl: meta.directoryUrl,
    };
  }

  async peekCertificate(name: string): Promise<CertificateSummary | undefined> {
    // One small read through `live` (a single open, so never half of a switch); the details
    // were checked against cert.pem and the key when putCertificate wrote them.
    const text = await this.readOptional(path.join(this.livePath(name), FILES.meta));
    const meta = text === undefined ? undefined : parseMeta(text);
    const info = meta && infoFromMeta(meta);
    if (meta && info) return { name, info, issuedAt: new Date(meta.issuedAt), directoryUrl: meta.directoryUrl };
    // meta.json from before the details were recorded, or something missing: parse cert.pem.
    const read = await this.readCurrent(name, false);
    return read && { name, info: read.info, issuedAt: new Date(read.meta.issuedAt), directoryUrl: read.meta.directoryUrl };
  }

  /**
   * Reads the current version folder: cert.pem and meta.json, and with `withKey` the chain and
   * key too, all through the resolved folder so a concurrent switch cannot mix two versions.
   * Throws STATE_CORRUPT when a file is missing, meta.json is invalid, cert.pem does not parse
   * or disagrees with meta.json.
   */
  private async readCurrent(
    name: string,
    withKey: boolean,
  ): Promise<{ versionDir: string; files: Partial<Record<keyof typeof FILES, string>>; meta: CertificateMeta; info: CertificateInfo } | undefined> {
    const live = this.livePath(name);
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
    const wanted: (keyof typeof FILES)[] = withKey ? ['cert', 'chain', 'fullchain', 'key', 'meta'] : ['cert', 'meta'];
    const texts = await Promise.all(wanted.map((file) => read(FILES[file])));
    const files = Object.fromEntries(wanted.map((file, i) => [file, texts[i]!])) as Partial<Record<keyof typeof FILES, string>>;

    const meta = parseMeta(files.meta!);
    if (!meta) throw new CertkeeperError('STATE_CORRUPT', `stored certificate "${name}": ${path.join(versionDir, FILES.meta)} is not valid`);
    let info: CertificateInfo;
    try {
      info = parseCertificate(files.cert!);
    } catch (error) {
      throw new CertkeeperError('STATE_CORRUPT', `stored certificate "${name}": ${path.join(versionDir, FILES.cert)} does not parse`, { cause: error });
    }
    // Planning trusts meta.json (peekCertificate): a hand-edited one that disagrees with the
    // certificate is refused here, before anything is ordered or deployed from it.
    const disagrees = metaDisagreement(meta, info);
    if (disagrees) {
      throw new CertkeeperError('STATE_CORRUPT', `stored certificate "${name}": ${path.join(versionDir, FILES.meta)} says ${disagrees.field} ${disagrees.meta}, cert.pem says ${disagrees.cert}`);
    }
    return { versionDir, files, meta, info };
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
    const metaJson: CertificateMeta = {
      directoryUrl: meta.directoryUrl,
      issuedAt: meta.issuedAt.toISOString(),
      serial: info.serial,
      notAfter: info.notAfter.toISOString(),
      notBefore: info.notBefore.toISOString(),
      domains: info.domains,
      keyType: info.keyType,
      issuer: info.issuer,
    };
    await this.io('store the certificate in', live, async () => {
      await publishFileSet(
        live,
        [
          { name: FILES.cert, data: material.certPem, mode: FILE_MODE },
          { name: FILES.chain, data: material.chainPem, mode: FILE_MODE },
          { name: FILES.fullchain, data: material.fullchainPem, mode: FILE_MODE },
          { name: FILES.key, data: material.keyPem, mode: FILE_MODE },
          { name: FILES.meta, data: `${JSON.stringify(metaJson, null, 2)}\n`, mode: FILE_MODE },
        ],
        // Anything but the managed link at `live` is not ours: refused like a planted symlink.
        { keep: this.archiveVersions, dirMode: DIR_MODE, label: info.serial, now: this.clock.now(), root: this.dir, targetExistsCode: 'UNSAFE_PATH' },
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
    const moved = await this.io('quarantine the certificate in', path.dirname(live), () =>
      withOwnedPath(this.dir, ['certs'], DIRS, (certs) =>
        certs.withExistingChild(name, async (certDir) => {
          const stat = await certDir.lstat('live');
          if (!stat) return undefined;
          const link = stat.isSymbolicLink() ? await fs.readlink(certDir.at('live')) : undefined;
          const version = link === undefined ? undefined : managedVersionOf('live', link);
          if (version === undefined) {
            throw new CertkeeperError('UNSAFE_PATH', `${live} is ${link === undefined ? 'not a symlink' : `a symlink to ${link}`}, not the link certkeeper manages; it moved nothing. Remove it (after checking who put it there)`, {
              retryable: false,
            });
          }
          const found = await certDir.withExistingChild('.live.versions', async (versions) => {
            // A link to a version folder that is gone: nothing to move (as before).
            if (!(await versions.lstat(version))?.isDirectory()) return undefined;
            const meta = parseMeta((await this.readOptional(path.join(versions.at(version), FILES.meta))) ?? '');
            const serial = (meta?.serial ?? '').replace(/[^A-Za-z0-9]/g, '') || version;
            return certDir.withChild('revoked', DIRS, async (revoked) => {
              // A second quarantine of the same serial (a retried command) keeps both.
              const free = (await revoked.lstat(serial)) ? `${serial}-${this.clock.now().getTime()}` : serial;
              await fs.rename(versions.at(version), revoked.at(free));
              await fs.unlink(certDir.at('live'));
              return { serial, path: revoked.shown(free) };
            });
          });
          return found;
        }),
      ),
    );
    if (!moved) return undefined;
    this.logger.info({ cert: name, serial: moved.serial }, 'certificate moved out of the live path');
    return moved.path;
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

  // The batch reads: this 0.1 layout is read for `doctor` and the one-time copy only, so they
  // are the single reads a few at a time.

  async peekCertificates(names: readonly string[]): Promise<Map<string, CertificateSummary | CertkeeperError>> {
    const result = new Map<string, CertificateSummary | CertkeeperError>();
    await mapLimit(names, BATCH_READ_CONCURRENCY, async (name) => {
      const found = await this.peekCertificate(name).catch(corruptOnly);
      if (found) result.set(name, found);
    });
    return result;
  }

  async getRecords(names: readonly string[]): Promise<Map<string, CertRecord>> {
    const records = await mapLimit(names, BATCH_READ_CONCURRENCY, (name) => this.getRecord(name));
    return new Map(names.map((name, i) => [name, records[i]!]));
  }

  async getSinkStates(certNames: readonly string[], sinkName: string): Promise<Map<string, Record<string, unknown> | CertkeeperError>> {
    const result = new Map<string, Record<string, unknown> | CertkeeperError>();
    await mapLimit(certNames, BATCH_READ_CONCURRENCY, async (name) => {
      const found = await this.getSinkState(name, sinkName).catch(corruptOnly);
      if (found) result.set(name, found);
    });
    return result;
  }

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
    await this.writeStateFile(['certs', name], file, `${JSON.stringify(record, null, 2)}\n`);
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
    await this.writeStateFile(['certs', certName, 'sinks'], file, `${JSON.stringify(data, null, 2)}\n`);
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
    await this.writeStateFile(['issuers'], file, `${JSON.stringify({ key, ...data }, null, 2)}\n`);
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
    await this.writeStateFile(['accounts', path.basename(dir)], file, `${JSON.stringify(data, null, 2)}\n`);
  }

  // ---- history ----

  async appendHistory(entry: HistoryEntry): Promise<void> {
    const file = this.historyPath();
    await this.io('append to', file, async () => {
      await ensureDir(this.dir, DIR_MODE);
      await appendJsonLine(file, entry, FILE_MODE);
    });
    try {
      await this.updateDryRunIndex(entry.action === 'dry-run');
    } catch (error) {
      // The index only saves readers a scan; history.jsonl stays the record, so never fail over it.
      this.logger.warn({ err: toCertkeeperError(error).message }, 'cannot update dry-runs.json; readers scan the history instead');
    }
  }

  async lastDryRuns(): Promise<Map<string, DryRunSummary>> {
    return new Map(Object.entries((await this.currentDryRuns()).last));
  }

  /**
   * Rewrites dry-runs.json after a dry run, or once history grew DRY_RUN_INDEX_LAG_BYTES past it
   * (an older state dir without one: at the first append, scanning the history once). Two writers
   * at once are harmless: each writes a complete index up to its own offset.
   */
  private async updateDryRunIndex(dryRun: boolean): Promise<void> {
    if (!dryRun) {
      if (this.dryRunIndexedBytes === undefined) {
        const stored = await this.readDryRunIndex();
        // No index yet (a new or older state dir): build it now, so no reader scans it all again.
        this.dryRunIndexedBytes = stored.found ? stored.historyBytes : -DRY_RUN_INDEX_LAG_BYTES;
      }
      const size = (await fs.stat(this.historyPath())).size;
      if (size - this.dryRunIndexedBytes < DRY_RUN_INDEX_LAG_BYTES) return;
    }
    const index = await this.currentDryRuns();
    await atomicWriteFile(this.dryRunIndexPath(), `${JSON.stringify(index)}\n`, { mode: FILE_MODE });
    this.dryRunIndexedBytes = index.historyBytes;
  }

  /** dry-runs.json brought up to the end of history.jsonl: the stored index, then what was appended since (newer wins). */
  private async currentDryRuns(): Promise<DryRunIndex> {
    const stored = await this.readDryRunIndex();
    const file = this.historyPath();
    const last = { ...stored.last };
    const historyBytes = await this.io('read', file, () =>
      scanHistory(file, stored.historyBytes, (entry) => {
        if (entry.action === 'dry-run') last[entry.cert] = { at: entry.at, result: entry.result, error: entry.error ?? null };
      }),
    );
    return { historyBytes, last };
  }

  /** The stored index; `found` false when there is none (or an unreadable one): everything is to be scanned. */
  private async readDryRunIndex(): Promise<DryRunIndex & { found: boolean }> {
    const text = await this.readOptional(this.dryRunIndexPath());
    if (text !== undefined) {
      try {
        const value = JSON.parse(text) as Partial<DryRunIndex>;
        if (typeof value.historyBytes === 'number' && value.historyBytes >= 0 && typeof value.last === 'object' && value.last !== null) {
          return { historyBytes: value.historyBytes, last: value.last, found: true };
        }
      } catch {
        // fall through: rebuilt from the history
      }
      this.logger.warn({ file: this.dryRunIndexPath() }, 'dry-runs.json is not valid; reading the whole history instead');
    }
    return { historyBytes: 0, last: {}, found: false };
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

  private dryRunIndexPath(): string {
    return path.join(this.dir, 'dry-runs.json');
  }

  /** Writes `file` (named for messages) into the state folder `parts`, whose folders are certkeeper's own (created 0700 when missing). */
  private async writeStateFile(parts: string[], file: string, text: string): Promise<void> {
    await this.io('write', file, () => withOwnedPath(this.dir, parts, DIRS, (dir) => atomicWriteFile(dir.at(path.basename(file)), text, { mode: FILE_MODE })));
  }

  private async readOptional(file: string): Promise<string | undefined> {
    try {
      return await readSmallFile(file);
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
      return {
        directoryUrl: value.directoryUrl,
        issuedAt: value.issuedAt,
        serial: String(value.serial ?? ''),
        notAfter: String(value.notAfter ?? ''),
        // The details added later: kept only when well-formed, else peek parses cert.pem.
        ...(typeof value.notBefore === 'string' ? { notBefore: value.notBefore } : {}),
        ...(Array.isArray(value.domains) && value.domains.every((d) => typeof d === 'string') ? { domains: value.domains } : {}),
        ...(typeof value.keyType === 'string' && KEY_TYPES.has(value.keyType) ? { keyType: value.keyType } : {}),
        ...(typeof value.issuer === 'string' ? { issuer: value.issuer } : {}),
      };
    }
  } catch {
    // fall through: invalid
  }
  return undefined;
}

/** The CertificateInfo that meta.json records, or undefined when it lacks some of it (written by an older version). */
function infoFromMeta(meta: CertificateMeta): CertificateInfo | undefined {
  const { serial, notBefore, notAfter, domains, keyType, issuer } = meta;
  if (!serial || notBefore === undefined || domains === undefined || keyType === undefined || issuer === undefined) return undefined;
  const from = new Date(notBefore);
  const to = new Date(notAfter);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) return undefined;
  return { serial, notBefore: from, notAfter: to, domains, keyType: keyType as CertificateInfo['keyType'], issuer };
}

/** The first detail meta.json records differently from the certificate itself, if any. */
function metaDisagreement(meta: CertificateMeta, info: CertificateInfo): { field: string; meta: string; cert: string } | undefined {
  const recorded = infoFromMeta(meta);
  const pairs: [string, string | undefined, string][] = [
    ['serial', meta.serial || undefined, info.serial],
    ['notAfter', meta.notAfter ? new Date(meta.notAfter).toISOString() : undefined, info.notAfter.toISOString()],
    ['notBefore', recorded?.notBefore.toISOString(), info.notBefore.toISOString()],
    ['domains', recorded?.domains.join(','), info.domains.join(',')],
    ['keyType', recorded?.keyType, info.keyType],
    ['issuer', recorded?.issuer, info.issuer],
  ];
  for (const [field, fromMeta, fromCert] of pairs) if (fromMeta !== undefined && fromMeta !== fromCert) return { field, meta: fromMeta, cert: fromCert };
  return undefined;
}

/**
 * Calls `onEntry` for each history entry from byte `start` to the end of the file, in chunks;
 * returns the offset just past the last complete line (a line being appended is left for later).
 * A file shorter than `start` was replaced: it is read from the beginning.
 */
async function scanHistory(file: string, start: number, onEntry: (entry: HistoryEntry) => void): Promise<number> {
  let handle;
  try {
    handle = await fs.open(file, 'r');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return 0;
    throw error;
  }
  try {
    const { size } = await handle.stat();
    let position = size < start ? 0 : start;
    let consumed = position;
    let carry = Buffer.alloc(0);
    const chunk = Buffer.alloc(HISTORY_CHUNK_BYTES);
    while (position < size) {
      const { bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, size - position), position);
      if (bytesRead === 0) break;
      const dataStart = position - carry.length; // file offset of data[0]
      position += bytesRead;
      const data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      let lineStart = 0;
      for (let newline = data.indexOf(0x0a); newline !== -1; newline = data.indexOf(0x0a, lineStart)) {
        const line = data.toString('utf8', lineStart, newline);
        lineStart = newline + 1;
        if (line.trim() === '') continue;
        try {
          const value: unknown = JSON.parse(line);
          if (isHistoryEntry(value)) onEntry(value);
        } catch {
          // a torn line from a crash: skipped, as readHistory does
        }
      }
      consumed = dataStart + lineStart;
      carry = Buffer.from(data.subarray(lineStart));
    }
    return consumed;
  } finally {
    await handle.close();
  }
}

function isHistoryEntry(value: unknown): value is HistoryEntry {
  const entry = value as Partial<HistoryEntry> | null;
  return typeof entry === 'object' && entry !== null && typeof entry.at === 'string' && typeof entry.cert === 'string' && typeof entry.action === 'string' && typeof entry.result === 'string';
}

/**
 * Reads a whole file with open, read and close through the callback API: for the small JSON
 * files read per certificate it costs a fraction of fs.promises.readFile (which goes through a
 * FileHandle in several more steps), and `status` of a large fleet reads three per certificate.
 */
function readSmallFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    openCallback(file, 'r', (openError, fd) => {
      if (openError) return reject(openError);
      const chunks: Buffer[] = [];
      const next = (): void => {
        const buffer = Buffer.allocUnsafe(SMALL_READ_BYTES);
        readCallback(fd, buffer, 0, buffer.length, null, (readError, bytesRead) => {
          if (!readError && bytesRead > 0) chunks.push(buffer.subarray(0, bytesRead));
          // A short read of a regular file is its end: saves the read that would return 0.
          if (readError || bytesRead < buffer.length) {
            closeCallback(fd, (closeError) => {
              const error = readError ?? closeError;
              if (error) reject(error);
              else resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
            });
            return;
          }
          next();
        });
      };
      next();
    });
  });
}

/**
 * Temp files in one certificate's (or account's) folder and in each of its version folders, under
 * the pinned, checked certs/ or accounts/ (whose content only certkeeper's user can change): entry
 * types come from lstat, so a symlink is never walked into, and nothing is opened one by one,
 * which doubled the sweep's time over 5,000 certificates.
 */
async function sweepOwnerFolder(dir: string): Promise<number> {
  let count = await removeStaleTempFiles(dir);
  const versions = path.join(dir, '.live.versions');
  if (!(await fs.lstat(versions).catch(() => undefined))?.isDirectory()) return count;
  for (const version of await readDirents(versions)) {
    if (version.isDirectory()) count += await removeStaleTempFiles(path.join(versions, version.name));
  }
  return count;
}

async function readDirents(dir: string): Promise<Dirent[]> {
  try {
    return await fs.readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return [];
    throw error;
  }
}

/** A damaged entry is that entry's answer in a batch read; any other failure fails the batch. */
function corruptOnly(error: unknown): CertkeeperError {
  if (isCertkeeperError(error, 'STATE_CORRUPT')) return error;
  throw error;
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}
