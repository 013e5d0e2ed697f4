// `certkeeper state copy`: everything one state store holds copied into another (a file store
// into PostgreSQL when one machine is outgrown, and back). Certificates keep their versions
// (archive) and recorded details, records their sink data and per-agent deploys, accounts,
// issuer (rate-limit) state, history in order with the dry-run index, and each agent's own data.
//
// Values holding a private key are opened with the source's encryption key and sealed with the
// target's (either may have none). Everything read is checked first through the repositories
// (a certificate with its key, a record, an account), so damage is reported, never copied. The
// source is only read: no lock, no seal check written. Each certificate is written under its lock
// in the target, `current` last, so an agent already using the target never sees half of one.

import { CertkeeperError, describeError, isCertkeeperError } from '../core/errors.js';
import { z } from 'zod';
import { encodeJson } from './codec.js';
import type { DryRunSummary } from './contract.js';
import type { RepositoryStore } from './repository-store.js';
import type { StateConfig } from './schema.js';
import { aesGcmSealer, plainSealer, readSealKeyFile, type Sealer } from './seal.js';

/** A store to copy from or into, with the sealer its config gives (the store keeps its own private). */
export interface CopySide {
  store: RepositoryStore;
  sealer: Sealer;
}

export interface CopyOptions {
  /** Add to a target that already holds certificates or accounts, keeping whatever is newer there. */
  merge: boolean;
  /** Decide and report, write nothing. */
  dryRun: boolean;
  /** How long to wait for a certificate's lock in the target (an agent ordering it). */
  lockWaitMs?: number;
  /** What to call a target not opened (a dry run onto a store not created yet). */
  targetDescription?: string;
}

export const COPY_KINDS = ['certificates', 'versions', 'revoked', 'records', 'data', 'accounts', 'issuers', 'agent data', 'history', 'dry-run index'] as const;
export type CopyKind = (typeof COPY_KINDS)[number];

export interface CertificateCopy {
  name: string;
  serial: string | null;
  notAfter: string | null;
  action: 'copied' | 'would copy' | 'kept' | 'failed';
  /** Why it was kept or failed. */
  reason?: string;
}

export interface CopyReport {
  from: string;
  to: string;
  dryRun: boolean;
  merge: boolean;
  /** Values copied (or, in a dry run, that would be), per kind. */
  copied: Record<CopyKind, number>;
  certificates: CertificateCopy[];
  /** What the target already had and kept (with --merge), one line each. */
  kept: string[];
  /** What could not be copied (damaged in the source, or not a key this version knows). */
  failed: string[];
}

const SEAL_CHECK = 'seal-check';
const DRY_RUN_INDEX = 'history/dry-runs';
const HISTORY_LOG = 'history';
/** Keys a backend or the store keeps for itself: never copied (the target has its own). */
const INTERNAL = [/^format$/, /^seal-check$/, /^locks\//, /^logs\//];

/** The sealer a `state:` config gives its store (as state/open.ts builds it): a file store has none. */
export function sealerOf(state: StateConfig): Sealer {
  return state.type !== 'file' && state.encryptionKeyFile ? aesGcmSealer(readSealKeyFile(state.encryptionKeyFile)) : plainSealer;
}

/**
 * The store's seal check opened with `sealer`, writing nothing: CONFIG_INVALID when the store's
 * keys are sealed with another key, or sealed while this config has none.
 */
export async function checkSealKey(side: CopySide): Promise<void> {
  const stored = await side.store.storage.get(SEAL_CHECK);
  if (stored) side.sealer.open(SEAL_CHECK, stored.value);
}

interface SourceKeys {
  certs: Map<string, string[]>;
  accounts: string[];
  issuers: string[];
  agents: string[];
  dryRunIndex: boolean;
  unknown: string[];
}

async function sourceKeys(store: RepositoryStore): Promise<SourceKeys> {
  const keys: SourceKeys = { certs: new Map(), accounts: [], issuers: [], agents: [], dryRunIndex: false, unknown: [] };
  for (const key of await store.storage.list('')) {
    if (INTERNAL.some((pattern) => pattern.test(key))) continue;
    const cert = /^certs\/([^/]+)\/(.+)$/.exec(key);
    if (cert) {
      const list = keys.certs.get(cert[1]!) ?? [];
      list.push(key);
      keys.certs.set(cert[1]!, list);
    } else if (/^accounts\/[^/]+$/.test(key)) keys.accounts.push(key);
    else if (/^issuers\/[^/]+$/.test(key)) keys.issuers.push(key);
    else if (/^agents\/[^/]+\/.+$/.test(key)) keys.agents.push(key);
    else if (key === DRY_RUN_INDEX) keys.dryRunIndex = true;
    else keys.unknown.push(key);
  }
  return keys;
}

/** Whether the target holds anything that a plain copy could overwrite. */
export async function targetHolds(store: RepositoryStore): Promise<{ certificates: number; accounts: number }> {
  return { certificates: (await store.certificates.names()).length, accounts: (await store.storage.list('accounts/')).length };
}

/**
 * Copies `from` into `to` (undefined: an empty target not opened yet, for a dry run). USAGE when
 * the target holds a certificate or an account and `merge` is off; CONFIG_INVALID when a store's
 * keys do not open with its config's key. Damaged values in the source are reported in `failed`.
 */
export async function copyState(from: CopySide, to: CopySide | undefined, options: CopyOptions): Promise<CopyReport> {
  const report: CopyReport = {
    from: from.store.storage.description,
    to: to?.store.storage.description ?? `${options.targetDescription ?? 'the target'} (not created yet)`,
    dryRun: options.dryRun,
    merge: options.merge,
    copied: Object.fromEntries(COPY_KINDS.map((kind) => [kind, 0])) as Record<CopyKind, number>,
    certificates: [],
    kept: [],
    failed: [],
  };
  if (!to && !options.dryRun) throw new CertkeeperError('INTERNAL', 'state copy needs an opened target', { retryable: false });
  if (to && to.store.storage.description === from.store.storage.description) {
    throw new CertkeeperError('USAGE', `the source and the target are the same store (${report.from})`, { retryable: false });
  }
  await checkSealKey(from);
  if (to) {
    // A dry run writes nothing; a copy lets the target write its seal check now, with its key.
    if (options.dryRun) await checkSealKey(to);
    else await to.store.ping();
    const held = await targetHolds(to.store);
    if ((held.certificates > 0 || held.accounts > 0) && !options.merge) {
      throw new CertkeeperError(
        'USAGE',
        `the target store ${report.to} already holds ${held.certificates} certificate(s) and ${held.accounts} account(s): copy into an empty store, or pass --merge to add what it lacks (a certificate newer there is kept; a copy cut short is finished this way too)`,
        { retryable: false },
      );
    }
  }
  const keys = await sourceKeys(from.store);
  for (const key of keys.unknown) report.failed.push(`${key}: not a key this version of certkeeper knows; not copied`);

  for (const [name, certKeys] of [...keys.certs].sort(([a], [b]) => a.localeCompare(b))) {
    report.certificates.push(await copyCertificate(name, certKeys, from, to, options, report));
  }
  for (const key of keys.accounts) await copyAccount(key, from, to, options, report);
  for (const key of keys.issuers) await copyIssuerState(key, from, to, options, report);
  for (const key of keys.agents) {
    await guarded(report, key, async () => {
      if (to && (await to.store.storage.get(key))) return void report.kept.push(`${key}: the target has its own`);
      if (!options.dryRun) await copyValue(key, from, to!);
      report.copied['agent data']++;
    });
  }
  await copyHistory(from, to, options, report);
  if (keys.dryRunIndex) await guarded(report, DRY_RUN_INDEX, () => copyDryRunIndex(from, to, options, report));
  return report;
}

/** Runs one item's copy; a damaged source value (or one that will not open) is reported, a store that fails throws. */
async function guarded(report: CopyReport, what: string, copy: () => Promise<void>): Promise<void> {
  try {
    await copy();
  } catch (error) {
    if (isCertkeeperError(error, 'STATE_CORRUPT')) report.failed.push(`${what}: ${describeError(error)}`);
    else throw error;
  }
}

/**
 * One stored value as it is, except that a sealed one is opened with the source's key and sealed
 * with the target's, and a private key's value is sealed when the target has a key.
 */
async function copyValue(key: string, from: CopySide, to: CopySide, options: { secret?: boolean } = {}): Promise<boolean> {
  const stored = await from.store.storage.get(key);
  if (!stored) return false;
  const plain = from.sealer.open(key, stored.value);
  const wasSealed = Buffer.compare(Buffer.from(plain), Buffer.from(stored.value)) !== 0;
  await to.store.storage.put(key, options.secret || wasSealed ? to.sealer.seal(key, plain) : plain);
  return true;
}

const isSecretKey = (key: string): boolean => /^certs\/[^/]+\/(versions|revoked)\//.test(key);

async function copyCertificate(
  name: string,
  keys: string[],
  from: CopySide,
  to: CopySide | undefined,
  options: CopyOptions,
  report: CopyReport,
): Promise<CertificateCopy> {
  const outcome: CertificateCopy = { name, serial: null, notAfter: null, action: options.dryRun ? 'would copy' : 'copied' };
  let source;
  try {
    // The full read: the key opens, belongs to the certificate, and the recorded details agree.
    source = await from.store.certificates.get(name);
  } catch (error) {
    if (!isCertkeeperError(error, 'STATE_CORRUPT') && !isCertkeeperError(error, 'CONFIG_INVALID')) throw error;
    report.failed.push(`certificate ${name}: ${describeError(error)}`);
    return { ...outcome, action: 'failed', reason: describeError(error) };
  }
  if (source) {
    outcome.serial = source.info.serial;
    outcome.notAfter = source.info.notAfter.toISOString();
  }
  const keep = async (): Promise<string | undefined> => {
    if (!to) return undefined;
    const there = await to.store.certificates.peek(name).catch((error: unknown) => {
      if (isCertkeeperError(error, 'STATE_CORRUPT')) return undefined; // damaged there: replaced, as an order would
      throw error;
    });
    if (!there) return source ? undefined : (await to.store.storage.list(`certs/${name}/`)).length > 0 ? 'the target has its own record' : undefined;
    if (!source) return `the target has certificate ${there.info.serial} and the source none`;
    if (there.info.serial === source.info.serial) return `the target has the same certificate (serial ${there.info.serial})`;
    if (there.info.notAfter.getTime() >= source.info.notAfter.getTime()) {
      return `the target's is newer or as new (serial ${there.info.serial}, notAfter ${there.info.notAfter.toISOString()}; the source's ${source.info.notAfter.toISOString()})`;
    }
    return undefined;
  };
  const count = (): void => {
    if (source) report.copied.certificates++;
    for (const key of keys) {
      if (/\/versions\//.test(key)) report.copied.versions++;
      else if (/\/revoked\//.test(key)) report.copied.revoked++;
      else if (/\/record$/.test(key)) report.copied.records++;
      else if (/\/data\//.test(key)) report.copied.data++;
    }
  };
  const failed = (error: CertkeeperError): CertificateCopy => {
    report.failed.push(`certificate ${name}: ${describeError(error)}`);
    return { ...outcome, action: 'failed', reason: describeError(error) };
  };
  const reason = await keep();
  if (reason !== undefined) {
    report.kept.push(`certificate ${name}: ${reason}`);
    return { ...outcome, action: 'kept', reason };
  }
  // The record and data are read through their codecs before anything is written (a dry run
  // too): damage is reported, and nothing of this certificate copied.
  const record = keys.includes(`certs/${name}/record`) ? await from.store.records.get(name).catch(corrupt) : undefined;
  const data = new Map<string, Record<string, unknown>>();
  for (const key of keys) {
    const entry = /^certs\/[^/]+\/data\/([^/]+)$/.exec(key)?.[1];
    const value = entry === undefined ? undefined : await from.store.records.getData(name, entry).catch(corrupt);
    if (value instanceof CertkeeperError) return failed(value);
    if (value) data.set(entry!, value);
  }
  if (record instanceof CertkeeperError) return failed(record);
  if (options.dryRun || !to) {
    count();
    return outcome;
  }
  const lock = await to.store.lockCertificate(name, { purpose: 'order', waitMs: options.lockWaitMs ?? 60_000 });
  try {
    // Checked again under the lock: an agent may have renewed it there meanwhile.
    const again = await keep();
    if (again !== undefined) {
      report.kept.push(`certificate ${name}: ${again}`);
      return { ...outcome, action: 'kept', reason: again };
    }
    // Versions, revoked keys and anything else kept per certificate: as they are, keys re-sealed.
    for (const key of keys.filter((k) => !/\/(current|record|data\/[^/]+)$/.test(k))) await copyValue(key, from, to, { secret: isSecretKey(key) });
    for (const [entry, value] of data) await to.store.records.putData(name, entry, value);
    if (record) await to.store.records.put(name, record);
    // Last: the certificate becomes current in the target only once its versions are there.
    if (source) {
      await copyValue(`certs/${name}/current`, from, to);
      const copied = await to.store.certificates.get(name);
      if (copied?.info.serial !== source.info.serial) {
        throw new CertkeeperError(
          'STATE_IO',
          `certificate ${name} reads back from the target as ${copied?.info.serial ?? 'nothing'}, not ${source.info.serial}`,
          { retryable: false },
        );
      }
    }
    count();
    return outcome;
  } finally {
    await lock.release();
  }
}

async function copyAccount(key: string, from: CopySide, to: CopySide | undefined, options: CopyOptions, report: CopyReport): Promise<void> {
  await guarded(report, key, async () => {
    const stored = await from.store.storage.get(key);
    if (!stored) return;
    const raw = parseAs(accountIdentityCodec, from.sealer.open(key, stored.value), key, 'an account');
    // Through the repository: the codec, and the key it is kept under, checked.
    const account = await from.store.accounts.get(raw.directoryUrl, raw.email);
    if (!account) throw new CertkeeperError('STATE_CORRUPT', `stored ${key} is kept under another account's key`, { retryable: false });
    const label = `account ${account.email ?? '(no email)'} at ${account.directoryUrl}`;
    if (to && (await to.store.accounts.get(account.directoryUrl, account.email))) return void report.kept.push(`${label}: the target has its own (kept)`);
    if (!options.dryRun) await to!.store.accounts.put(account);
    report.copied.accounts++;
  });
}

async function copyIssuerState(key: string, from: CopySide, to: CopySide | undefined, options: CopyOptions, report: CopyReport): Promise<void> {
  await guarded(report, key, async () => {
    const stored = await from.store.storage.get(key);
    if (!stored) return;
    const raw = parseAs(issuerIdentityCodec, stored.value, key, 'issuer state');
    const data = await from.store.issuers.get(raw.key);
    if (!data) return;
    if (to && (await to.store.issuers.get(raw.key))) return void report.kept.push(`issuer state ${raw.key}: the target has its own (kept)`);
    if (!options.dryRun) await to!.store.issuers.put(raw.key, data);
    report.copied.issuers++;
  });
}

/** The history log oldest first, so the target keeps its order; with --merge, entries the target has are not appended twice. */
async function copyHistory(from: CopySide, to: CopySide | undefined, options: CopyOptions, report: CopyReport): Promise<void> {
  const entries = (await from.store.storage.readLog(HISTORY_LOG)).reverse();
  if (entries.length === 0) return;
  const identity = (e: { at: Date; subject: string; kind: string; body: string }): string => JSON.stringify([e.at.toISOString(), e.subject, e.kind, e.body]);
  const there = new Set(to ? (await to.store.storage.readLog(HISTORY_LOG)).map(identity) : []);
  let already = 0;
  for (const entry of entries) {
    if (there.has(identity(entry))) {
      already++;
      continue;
    }
    if (!options.dryRun) await to!.store.storage.appendLog(HISTORY_LOG, entry);
    report.copied.history++;
  }
  if (already > 0) report.kept.push(`history: ${already} entr${already === 1 ? 'y' : 'ies'} the target has already (not appended twice)`);
}

/** The newest dry run of each certificate: the newer of the two stores' when both have one. */
async function copyDryRunIndex(from: CopySide, to: CopySide | undefined, options: CopyOptions, report: CopyReport): Promise<void> {
  const source = await from.store.history.lastDryRuns();
  const before = to ? await to.store.storage.get(DRY_RUN_INDEX) : undefined;
  const merged = new Map<string, DryRunSummary>(to ? await to.store.history.lastDryRuns() : []);
  let changed = 0;
  for (const [cert, summary] of source) {
    const there = merged.get(cert);
    if (there && Date.parse(there.at) >= Date.parse(summary.at)) continue;
    merged.set(cert, summary);
    changed++;
  }
  if (changed === 0) return;
  // Written only over what was read: a dry run recorded there meanwhile is not lost (an error instead).
  if (!options.dryRun) await to!.store.storage.put(DRY_RUN_INDEX, encodeJson(Object.fromEntries(merged)), { ifVersion: before?.version ?? null });
  report.copied['dry-run index'] += changed;
}

/** A damaged value as the error it is (to report); any other failure thrown on. */
function corrupt(error: unknown): CertkeeperError {
  if (isCertkeeperError(error, 'STATE_CORRUPT')) return error;
  throw error;
}

/** Which account a stored account is, and which issuer key issuer state is kept for: their repositories read the rest, through their codecs. */
const accountIdentityCodec = z.object({ directoryUrl: z.string(), email: z.string().nullable() });
const issuerIdentityCodec = z.object({ key: z.string() });

/** The bytes at `key` parsed with `codec`; STATE_CORRUPT saying they are not `what` (never quoting them). */
function parseAs<S extends z.ZodType>(codec: S, bytes: Uint8Array, key: string, what: string): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new CertkeeperError('STATE_CORRUPT', `stored ${key} is not valid JSON`, { retryable: false });
  }
  const parsed = codec.safeParse(value);
  if (!parsed.success) throw new CertkeeperError('STATE_CORRUPT', `stored ${key} is not ${what}`, { retryable: false });
  return parsed.data;
}
