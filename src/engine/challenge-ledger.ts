// The challenge ledger: every TXT record an order presents is written to the state store before
// it is written to DNS, and struck off once it is removed. An agent killed mid-order (SIGKILL, a
// second SIGTERM, a lost host) thus leaves a note of what it left in DNS, and whoever takes the
// certificate's lock next removes exactly those records before doing anything else. certmagic's
// DNS manager remembers what it created in memory; a note in the shared store survives the agent.

import { z } from 'zod';
import { describeError, isCertkeeperError } from '../core/errors.js';
import type { DnsProvider, TxtRecord } from '../dns/contract.js';
import { certificateDataKey, readCertificateData } from '../state/codec.js';
import type { EngineDeps } from './contracts.js';

/**
 * Where the note is kept: per certificate data, beside `acme.ari` and `verify.last`. A rehearsal
 * holds a lock of its own, so it keeps a note of its own too.
 */
export function challengeLedgerKey(purpose: 'order' | 'rehearsal'): string {
  return purpose === 'order' ? 'acme.challenges' : 'acme.rehearsal-challenges';
}

/** How long removing one leftover record may take before it is left for the next attempt. */
const LEFTOVER_CLEANUP_MS = 60_000;

/** One noted record: what was written to DNS, and through which provider. */
const presentedRecordCodec = z.object({ provider: z.string(), fqdn: z.string(), value: z.string(), domain: z.string() });

type PresentedRecord = z.infer<typeof presentedRecordCodec>;

/** The note as stored; its entries are read one by one, so a damaged one spoils no other. */
const ledgerCodec = z.object({ records: z.array(z.unknown()) });

type Deps = Pick<EngineDeps, 'store' | 'logger' | 'dnsProvider'>;

/**
 * The records noted for `certName`. A note that cannot be read must not stop every order of the
 * certificate: it counts as empty (or without its damaged entries), with a warning naming its
 * key. What it named, if anything, stays in DNS: a stale TXT value there is clutter, not harm.
 */
async function readLedger(certName: string, key: string, deps: Deps): Promise<PresentedRecord[]> {
  const where = certificateDataKey(certName, key);
  let entries: unknown[];
  try {
    entries = (await readCertificateData(deps.store, certName, key, ledgerCodec))?.records ?? [];
  } catch (error) {
    if (!isCertkeeperError(error, 'STATE_CORRUPT')) throw error;
    deps.logger.warn(
      { cert: certName, key: where, err: error.message },
      'the challenge ledger cannot be read; starting it afresh (TXT records it named, if any, stay in DNS)',
    );
    return [];
  }
  const records: PresentedRecord[] = [];
  for (const entry of entries) {
    const parsed = presentedRecordCodec.safeParse(entry);
    if (parsed.success) records.push(parsed.data);
  }
  const damaged = entries.length - records.length;
  if (damaged > 0)
    deps.logger.warn(
      { cert: certName, key: where, damaged },
      `${damaged} entr${damaged === 1 ? 'y' : 'ies'} of the challenge ledger cannot be read; left out (the TXT records they named, if any, stay in DNS)`,
    );
  return records;
}

const same = (a: TxtRecord & { provider: string }, b: TxtRecord & { provider: string }): boolean =>
  a.provider === b.provider && a.fqdn === b.fqdn && a.value === b.value;

/**
 * `provider` as one order of `certName` uses it: each record noted in the store before it is
 * presented and struck off after it is removed. Notes of one order are written one at a time.
 */
export function ledgeredProvider(provider: DnsProvider, certName: string, purpose: 'order' | 'rehearsal', deps: Deps): DnsProvider {
  const key = challengeLedgerKey(purpose);
  let chain: Promise<unknown> = Promise.resolve();
  const update = (change: (records: PresentedRecord[]) => PresentedRecord[]): Promise<void> => {
    const next = chain.then(async () => {
      const records = change(await readLedger(certName, key, deps));
      await deps.store.putSinkState(certName, key, { records });
    });
    chain = next.catch(() => undefined);
    return next;
  };
  return {
    name: provider.name,
    propagationNameservers: provider.propagationNameservers,
    propagationTimeoutMs: provider.propagationTimeoutMs,
    propagationIntervalMs: provider.propagationIntervalMs,
    get presentWaitsForPropagation() {
      return provider.presentWaitsForPropagation;
    },
    onPropagationChecked: (result, seconds) => provider.onPropagationChecked?.(result, seconds),
    async presentTxt(record, signal) {
      const noted: PresentedRecord = { provider: provider.name, fqdn: record.fqdn, value: record.value, domain: record.domain };
      // Noted first: if the store cannot take the note, nothing is written to DNS either.
      await update((records) => [...records.filter((r) => !same(r, noted)), noted]);
      await provider.presentTxt(record, signal);
    },
    async cleanupTxt(record, signal) {
      await provider.cleanupTxt(record, signal);
      const removed: PresentedRecord = { provider: provider.name, fqdn: record.fqdn, value: record.value, domain: record.domain };
      await update((records) => records.filter((r) => !same(r, removed))).catch((error: unknown) => {
        // The record is gone from DNS; a stale note only costs the next holder an idempotent removal.
        deps.logger.warn({ cert: certName, fqdn: record.fqdn, err: describeError(error) }, 'could not strike a removed challenge record from the ledger');
      });
    },
  };
}

/**
 * Removes the records a previous holder of `certName`'s lock presented and never removed. Called
 * with the lock held. Returns how many were removed; a record that cannot be removed now stays
 * noted for the next holder.
 */
export async function removeLeftoverChallenges(certName: string, purpose: 'order' | 'rehearsal', deps: Deps, signal?: AbortSignal): Promise<number> {
  const key = challengeLedgerKey(purpose);
  const records = await readLedger(certName, key, deps);
  if (records.length === 0) return 0;
  const kept: PresentedRecord[] = [];
  let removed = 0;
  for (const record of records) {
    let provider: DnsProvider;
    try {
      provider = deps.dnsProvider(record.provider);
    } catch {
      deps.logger.warn(
        { cert: certName, fqdn: record.fqdn, provider: record.provider },
        'a leftover challenge record names a DNS provider no longer configured; remove it by hand',
      );
      continue;
    }
    const deadline = AbortSignal.timeout(LEFTOVER_CLEANUP_MS);
    try {
      await provider.cleanupTxt({ fqdn: record.fqdn, value: record.value, domain: record.domain }, signal ? AbortSignal.any([signal, deadline]) : deadline);
      removed++;
      deps.logger.info({ cert: certName, fqdn: record.fqdn, provider: record.provider }, 'removed a challenge record an interrupted order left behind');
    } catch (error) {
      kept.push(record);
      deps.logger.warn({ cert: certName, fqdn: record.fqdn, err: describeError(error) }, 'could not remove a leftover challenge record yet; will try again');
    }
  }
  await deps.store.putSinkState(certName, key, { records: kept });
  return removed;
}
