// The challenge ledger: a record is noted in the store before it is presented, struck off after it
// is removed, and the next lock holder removes what a killed holder left.

import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import type { DnsProvider, TxtRecord } from '../../../src/dns/contract.js';
import { challengeLedgerKey, ledgeredProvider, removeLeftoverChallenges } from '../../../src/engine/challenge-ledger.js';
import { MemoryStore } from '../../helpers/memory-store.js';

class FakeDns implements DnsProvider {
  readonly name = 'corp';
  readonly present: string[] = [];
  failCleanup = false;
  async presentTxt(record: TxtRecord): Promise<void> {
    this.present.push(`${record.fqdn}=${record.value}`);
  }
  async cleanupTxt(record: TxtRecord): Promise<void> {
    if (this.failCleanup) throw new Error('DNS API down');
    const at = this.present.indexOf(`${record.fqdn}=${record.value}`);
    if (at >= 0) this.present.splice(at, 1);
  }
}

const record = (name: string, value: string): TxtRecord => ({ fqdn: `_acme-challenge.${name}`, value, domain: name });

describe('the challenge ledger', () => {
  it('notes each record before presenting it and strikes it off after removing it', async () => {
    const store = new MemoryStore();
    const dns = new FakeDns();
    const deps = { store, logger: silentLogger, dnsProvider: () => dns };
    const provider = ledgeredProvider(dns, 'www', 'order', deps);
    await Promise.all([provider.presentTxt(record('a.example', 'v1')), provider.presentTxt(record('b.example', 'v2'))]);
    expect((await store.getSinkState('www', challengeLedgerKey('order')))!.records).toHaveLength(2);
    await provider.cleanupTxt(record('a.example', 'v1'));
    expect((await store.getSinkState('www', challengeLedgerKey('order')))!.records).toEqual([{ provider: 'corp', ...record('b.example', 'v2') }]);
    // A rehearsal keeps its own note: it holds a lock of its own.
    expect(await store.getSinkState('www', challengeLedgerKey('rehearsal'))).toBeUndefined();
  });

  it('writes nothing to DNS when the note cannot be written', async () => {
    const store = new MemoryStore();
    store.putSinkState = async () => {
      throw new Error('store down');
    };
    const dns = new FakeDns();
    const provider = ledgeredProvider(dns, 'www', 'order', { store, logger: silentLogger, dnsProvider: () => dns });
    await expect(provider.presentTxt(record('a.example', 'v1'))).rejects.toThrow('store down');
    expect(dns.present).toEqual([]);
  });

  it('lets the next holder remove what a killed one left, and keeps what cannot be removed yet', async () => {
    const store = new MemoryStore();
    const dns = new FakeDns();
    const deps = { store, logger: silentLogger, dnsProvider: () => dns };
    const killed = ledgeredProvider(dns, 'www', 'order', deps);
    await killed.presentTxt(record('a.example', 'v1'));
    await killed.presentTxt(record('b.example', 'v2'));
    // ... and the agent dies here: its records stay in DNS, noted in the store.
    dns.failCleanup = true;
    expect(await removeLeftoverChallenges('www', 'order', deps)).toBe(0);
    expect((await store.getSinkState('www', challengeLedgerKey('order')))!.records).toHaveLength(2);
    dns.failCleanup = false;
    expect(await removeLeftoverChallenges('www', 'order', deps)).toBe(2);
    expect(dns.present).toEqual([]);
    expect((await store.getSinkState('www', challengeLedgerKey('order')))!.records).toEqual([]);
    expect(await removeLeftoverChallenges('www', 'order', deps)).toBe(0);
  });
});
