// RepositoryStore: today's StateStore contract served by the typed repositories on any Storage
// backend (a folder, PostgreSQL). The engine keeps calling the StateStore it knows while the
// repositories take over; the run lock becomes a storage lease named `state`.
//
// Hooks get the certificate as files (CERTKEEPER_CERT_PATH ...) when no files sink ran first.
// A backend without files cannot name one, so the current version is materialized, 0600 in a
// 0700 folder, under `localDir` (the agent's own disk), once per version.

import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../core/clock.js';
import { publishFileSet, versionsDirOf } from '../core/file-set.js';
import { CertkeeperError, isCertkeeperError } from '../core/errors.js';
import type { CertificateMaterial, CertificatePaths, HistoryEntry, StoredCertificate } from '../core/types.js';
import type {
  AccountRecord,
  CertificateLock,
  CertificateLockOptions,
  CertificateSummary,
  CertRecord,
  DryRunSummary,
  HistoryQuery,
  StateLock,
  StateStore,
} from './contract.js';
import { AccountRepository, accountLockName } from './repos/accounts.js';
import { agentOfDeployment, goneAgents, SEEN_REFRESH_MS, withoutAgents, type AgentSeen } from './agent-seen.js';
import { AgentDataRepository, readAgentsSeen } from './repos/agent-data.js';
import { CertificateRepository, type CertificateWithMaterial } from './repos/certificates.js';
import { HistoryRepository } from './repos/history.js';
import { IssuerStateRepository } from './repos/issuers.js';
import { RecordRepository } from './repos/records.js';
import { plainSealer, type Sealer } from './seal.js';
import type { Storage } from './storage/contract.js';

export interface RepositoryStoreOptions {
  storage: Storage;
  clock: Clock;
  /** This agent's own folder, for the files hooks read. */
  localDir: string;
  sealer?: Sealer;
  /** This agent, for the data it keeps for itself (default "default"). */
  agentId?: string;
  /** How long a dead holder's lock lasts (default 2 minutes). */
  lockTtlMs?: number;
  archiveVersions?: number;
}

const DEFAULT_LOCK_TTL_MS = 2 * 60_000;
const SEAL_CHECK = 'seal-check';
const SEAL_PROBE = Buffer.from('certkeeper seal check\n');
const RUN_LOCK = 'state';

export class RepositoryStore implements StateStore {
  readonly dir: string;
  readonly storage: Storage;
  readonly certificates: CertificateRepository;
  readonly records: RecordRepository;
  readonly accounts: AccountRepository;
  readonly history: HistoryRepository;
  readonly issuers: IssuerStateRepository;
  readonly agentData: AgentDataRepository;
  private readonly localDir: string;
  private readonly lockTtlMs: number;
  private readonly sealer: Sealer;
  private readonly clock: Clock;
  private readonly agentId: string;
  private sealingChecked = false;
  /** When this process last recorded that the agent runs (ms). */
  private seenMarkedAt: number | undefined;
  /** When the agents last ran, as read at `at` (ms), for dropping the deploy records of gone ones. */
  private seenCache: { at: number; agents: Map<string, AgentSeen> } | undefined;

  constructor(options: RepositoryStoreOptions) {
    const sealer = options.sealer ?? plainSealer;
    this.sealer = sealer;
    this.storage = options.storage;
    this.dir = options.storage.description;
    this.localDir = path.resolve(options.localDir);
    this.lockTtlMs = options.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;
    this.clock = options.clock;
    this.agentId = options.agentId ?? 'default';
    this.certificates = new CertificateRepository({
      storage: options.storage,
      sealer,
      clock: options.clock,
      ...(options.archiveVersions !== undefined ? { archiveVersions: options.archiveVersions } : {}),
    });
    this.records = new RecordRepository(options.storage);
    this.accounts = new AccountRepository(options.storage, sealer);
    this.history = new HistoryRepository(options.storage);
    this.issuers = new IssuerStateRepository(options.storage);
    this.agentData = new AgentDataRepository(options.storage, this.agentId);
  }

  async lock(options: { timeoutMs?: number; signal?: AbortSignal; onWait?: (holder: string) => void } = {}): Promise<StateLock> {
    const held = await this.storage.lock(RUN_LOCK, {
      ttlMs: this.lockTtlMs,
      waitMs: options.timeoutMs ?? 10 * 60_000,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onWait ? { onWait: options.onWait } : {}),
    });
    return { release: () => held.release() };
  }

  async lockCertificate(name: string, options: CertificateLockOptions): Promise<CertificateLock> {
    const held = await this.storage.lock(`${options.purpose === 'rehearsal' ? 'rehearsal' : 'cert'}/${name}`, {
      ttlMs: this.lockTtlMs,
      waitMs: options.waitMs,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onWait ? { onWait: options.onWait } : {}),
    });
    return { tookOver: held.tookOver, lost: held.lost, release: () => held.release() };
  }

  async lockAccount(directoryUrl: string, email: string | null, options: { waitMs: number; signal?: AbortSignal }): Promise<StateLock> {
    const held = await this.storage.lock(accountLockName(directoryUrl, email), {
      ttlMs: this.lockTtlMs,
      waitMs: options.waitMs,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return { release: () => held.release() };
  }

  /**
   * The store answers, and (once per process) this agent's encryption key is the one the store's
   * keys are sealed with: an agent with another key, or none, must not write keys the others
   * cannot open, nor take theirs for damaged. CONFIG_INVALID when the key does not match.
   */
  async ping(signal?: AbortSignal): Promise<void> {
    await this.storage.ping(signal);
    if (!this.sealingChecked) {
      await this.checkSealing();
      this.sealingChecked = true;
    }
  }

  /** A known value sealed with the first agent's key (`seal-check`): every agent must open it. */
  private async checkSealing(): Promise<void> {
    const stored = await this.storage.get(SEAL_CHECK);
    if (!stored) {
      await this.storage.put(SEAL_CHECK, this.sealer.seal(SEAL_CHECK, SEAL_PROBE), { ifVersion: null }).catch((error: unknown) => {
        if (!isCertkeeperError(error, 'STATE_CONFLICT')) throw error; // another agent wrote it first: checked next time
      });
      return;
    }
    const opened = this.sealer.open(SEAL_CHECK, stored.value); // CONFIG_INVALID: sealed with another key, or no key here
    if (Buffer.compare(Buffer.from(opened), SEAL_PROBE) !== 0) {
      throw new CertkeeperError('CONFIG_INVALID', `the state store's ${SEAL_CHECK} holds something unexpected; it was not written by certkeeper`, {
        retryable: false,
      });
    }
    // Written before sealing was turned on: sealed now, so an agent still without the key is told.
    if (Buffer.compare(Buffer.from(stored.value), SEAL_PROBE) === 0)
      await this.storage.put(SEAL_CHECK, this.sealer.seal(SEAL_CHECK, SEAL_PROBE), { ifVersion: stored.version }).catch(() => undefined);
  }

  watchCertificates(listener: (name: string | undefined) => void): () => void {
    return this.storage.watch('certs/', (key) => {
      if (key === 'certs/') return listener(undefined); // the backend may have missed changes
      const name = /^certs\/([^/]+)\/current$/.exec(key)?.[1];
      if (name !== undefined) listener(name);
    });
  }

  async getCertificate(name: string): Promise<StoredCertificate | undefined> {
    const found = await this.certificates.get(name);
    return found && this.withPaths(found);
  }

  peekCertificate(name: string): Promise<CertificateSummary | undefined> {
    return this.certificates.peek(name);
  }

  peekCertificates(names: readonly string[]): Promise<Map<string, CertificateSummary | CertkeeperError>> {
    return this.certificates.peekMany(names);
  }

  async putCertificate(name: string, material: CertificateMaterial, meta: { directoryUrl: string; issuedAt: Date }): Promise<StoredCertificate> {
    return this.withPaths(await this.certificates.put(name, material, meta));
  }

  listCertificateNames(): Promise<string[]> {
    return this.certificates.names();
  }

  async forgetCertificate(name: string): Promise<number> {
    const keys = await this.storage.list(`certs/${name}/`);
    for (const key of keys) await this.storage.delete(key);
    await this.removeHookCopy(name);
    return keys.length;
  }

  async quarantineCertificate(name: string): Promise<string | undefined> {
    const key = await this.certificates.quarantine(name);
    if (key === undefined) return undefined;
    // The hooks' copy of the key goes too: nothing of it stays in the live path.
    await this.removeHookCopy(name);
    return this.storage.where(key);
  }

  /** Removes the hooks' copy of a certificate (the link certkeeper made and its versions folder). */
  private async removeHookCopy(name: string): Promise<void> {
    const dir = this.liveDir(name);
    if ((await fs.lstat(dir).catch(() => undefined))?.isSymbolicLink()) {
      await fs.unlink(dir);
      await fs.rm(versionsDirOf(dir), { recursive: true, force: true });
    }
  }

  getRecord(name: string): Promise<CertRecord> {
    return this.records.get(name);
  }

  getRecords(names: readonly string[]): Promise<Map<string, CertRecord>> {
    return this.records.getMany(names);
  }

  async putRecord(name: string, record: CertRecord): Promise<void> {
    await this.records.put(name, await this.withoutGoneAgents(record));
  }

  async markAgentSeen(): Promise<void> {
    const now = this.clock.now();
    if (this.seenMarkedAt !== undefined && now.getTime() - this.seenMarkedAt < SEEN_REFRESH_MS) return;
    await this.agentData.markSeen(now);
    this.seenMarkedAt = now.getTime();
  }

  /**
   * The record without the deploy entries of agents gone for good (agent-seen.ts). What the others
   * last did is read at most hourly; before anything is dropped, the agents to drop are read again.
   * Housekeeping: when it cannot be read, the record is written as it is.
   */
  private async withoutGoneAgents(record: CertRecord): Promise<CertRecord> {
    const agents = new Set<string>();
    for (const key of Object.keys(record.deployed)) {
      const agent = agentOfDeployment(key);
      if (agent !== undefined && agent !== this.agentId) agents.add(agent);
    }
    if (agents.size === 0) return record;
    const now = this.clock.now();
    try {
      if (!this.seenCache || now.getTime() - this.seenCache.at >= SEEN_REFRESH_MS)
        this.seenCache = { at: now.getTime(), agents: await readAgentsSeen(this.storage, now) };
      let gone = goneAgents(agents, this.seenCache.agents, now, this.agentId);
      if (gone.size === 0) return record;
      for (const [agent, seen] of await readAgentsSeen(this.storage, now, [...gone])) this.seenCache.agents.set(agent, seen);
      gone = goneAgents(gone, this.seenCache.agents, now, this.agentId);
      const deployed = withoutAgents(record.deployed, gone);
      return deployed === record.deployed ? record : { ...record, deployed };
    } catch (error) {
      if (!isCertkeeperError(error)) throw error;
      return record;
    }
  }

  getAccount(directoryUrl: string, email: string | null): Promise<AccountRecord | undefined> {
    return this.accounts.get(directoryUrl, email);
  }

  putAccount(account: AccountRecord): Promise<void> {
    return this.accounts.put(account);
  }

  getSinkState(certName: string, sinkName: string): Promise<Record<string, unknown> | undefined> {
    return this.records.getData(certName, sinkName);
  }

  getSinkStates(certNames: readonly string[], sinkName: string): Promise<Map<string, Record<string, unknown> | CertkeeperError>> {
    return this.records.getDataMany(certNames, sinkName);
  }

  putSinkState(certName: string, sinkName: string, data: Record<string, unknown>): Promise<void> {
    return this.records.putData(certName, sinkName, data);
  }

  getIssuerState(key: string): Promise<Record<string, unknown> | undefined> {
    return this.issuers.get(key);
  }

  putIssuerState(key: string, data: Record<string, unknown>): Promise<void> {
    return this.issuers.put(key, data);
  }

  appendHistory(entry: HistoryEntry): Promise<void> {
    return this.history.append(entry);
  }

  readHistory(query?: HistoryQuery): Promise<HistoryEntry[]> {
    return this.history.read(query);
  }

  lastDryRuns(): Promise<Map<string, DryRunSummary>> {
    return this.history.lastDryRuns();
  }

  private liveDir(name: string): string {
    return path.join(this.localDir, 'live', name);
  }

  /** The certificate with file paths for hooks: its version written once under localDir/live/<name>. */
  private async withPaths(found: CertificateWithMaterial): Promise<StoredCertificate> {
    const dir = this.liveDir(found.name);
    // publishFileSet puts the label, so sanitised, into the version folder's name.
    const label = path
      .basename(found.version)
      .replace(/[^A-Za-z0-9_-]/g, '')
      .slice(0, 64);
    const published = async (): Promise<boolean> => path.basename((await fs.readlink(dir).catch(() => undefined)) ?? '').includes(label);
    if (!(await published())) {
      // localDir is the top the copy hangs from (the operator's): made when missing, 0700.
      await fs.mkdir(this.localDir, { recursive: true, mode: 0o700 });
      await oneWriterAt(dir, async () => {
        if (await published()) return;
        const { material } = found;
        await publishFileSet(
          dir,
          [
            { name: 'cert.pem', data: material.certPem, mode: 0o600 },
            { name: 'chain.pem', data: material.chainPem, mode: 0o600 },
            { name: 'fullchain.pem', data: material.fullchainPem, mode: 0o600 },
            { name: 'privkey.pem', data: material.keyPem, mode: 0o600 },
          ],
          // localDir is the operator's; `live` and all below it are certkeeper's: a planted symlink is refused.
          { keep: 1, dirMode: 0o700, label, root: this.localDir },
        ).catch(async (error: unknown) => {
          // Another process of this agent (the daemon and a `renew`) published this very version
          // meanwhile: its copy serves as well as ours.
          if (!(await published())) throw error;
        });
      });
    }
    const paths: CertificatePaths = {
      cert: path.join(dir, 'cert.pem'),
      chain: path.join(dir, 'chain.pem'),
      fullchain: path.join(dir, 'fullchain.pem'),
      key: path.join(dir, 'privkey.pem'),
    };
    return { name: found.name, info: found.info, material: found.material, paths, issuedAt: found.issuedAt, directoryUrl: found.directoryUrl };
  }
}

/** The hooks' copies being written in this process, by folder. */
const writing = new Map<string, Promise<unknown>>();

/**
 * Runs `write` once no other write to `dir` in this process is under way: two readers of a new
 * version at once (status and a deploy, two store instances) would otherwise both publish it,
 * and publishFileSet is not made for two writers of one folder.
 */
async function oneWriterAt(dir: string, write: () => Promise<void>): Promise<void> {
  const mine = (writing.get(dir) ?? Promise.resolve()).then(write, write);
  const settled = mine.catch(() => undefined);
  writing.set(dir, settled);
  try {
    await mine;
  } finally {
    if (writing.get(dir) === settled) writing.delete(dir);
  }
}
