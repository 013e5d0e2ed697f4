// The storage contract's test suite (src/state/storage/contract.ts): every backend runs it, each
// from its own test file, with a harness that opens instances over one fresh shared state per
// test. Two instances stand for two agents; a lock holder that "dies" is the backend's to stage,
// since only it knows how a killed agent leaves its lock behind.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isCertkeeperError } from '../../../src/core/errors.js';
import type { LogEntry, Storage, StorageKey, StorageLock } from '../../../src/state/storage/contract.js';

export interface StorageHarness {
  /** Another instance over this test's shared state (as a second agent would open it). */
  open(): Promise<Storage>;
  /**
   * Takes `name` for `ttlMs` in an instance that then stops as a killed or frozen agent does: it
   * never renews the lock nor releases it.
   */
  takeLockAndDie(name: string, ttlMs: number): Promise<void>;
  /**
   * Another instance whose change notices never arrive (PostgreSQL: no LISTEN, as behind a pooler
   * in transaction mode; files: no file events, as on a network file system where another host's
   * writes raise none), polling every `pollIntervalMs`: only its poll can tell it of changes.
   */
  openPollingOnly(pollIntervalMs: number): Promise<Storage>;
  /** Ends whatever the harness started for this test (instances from open() are closed by the suite). */
  dispose(): Promise<void>;
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined): string | undefined => (value === undefined ? undefined : new TextDecoder().decode(value));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return isCertkeeperError(error) ? error.code : `not a CertkeeperError: ${String(error)}`;
  }
  return 'fulfilled';
}

/** Writes `key` by `writer` until `seen` holds it: a watch may start listening a moment after watch() returns. */
async function putUntilSeen(writer: Storage, key: StorageKey, seen: StorageKey[]): Promise<void> {
  for (let attempt = 0; attempt < 100 && !seen.includes(key); attempt++) {
    await writer.put(key, bytes(`attempt ${attempt}`));
    for (let wait = 0; wait < 10 && !seen.includes(key); wait++) await sleep(20);
  }
  expect(seen).toContain(key);
}

export function describeStorageContract(backend: string, newHarness: () => Promise<StorageHarness>): void {
  describe(`storage contract: ${backend}`, () => {
    let harness: StorageHarness;
    let opened: Storage[];
    let a: Storage;
    let b: Storage;

    beforeEach(async () => {
      harness = await newHarness();
      opened = [];
      a = await open();
      b = await open();
    });
    afterEach(async () => {
      for (const storage of opened) await storage.close();
      await harness.dispose();
    });

    async function open(): Promise<Storage> {
      const storage = await harness.open();
      opened.push(storage);
      return storage;
    }

    describe('values', () => {
      it('reads back what was put, with a version that changes on every write', async () => {
        expect(await a.get('certs/www/current')).toBeUndefined();
        const first = await a.put('certs/www/current', bytes('one'));
        const read = await b.get('certs/www/current');
        expect(text(read?.value)).toBe('one');
        expect(read?.value).toBeInstanceOf(Uint8Array);
        expect(read?.version).toBe(first);
        expect(read?.modifiedAt).toBeInstanceOf(Date);
        const second = await b.put('certs/www/current', bytes('two'));
        expect(second).not.toBe(first);
        expect(text((await a.get('certs/www/current'))?.value)).toBe('two');
      });

      it('keeps bytes as they are, including zero bytes and an empty value', async () => {
        const binary = new Uint8Array([0, 1, 2, 255, 0, 128]);
        await a.put('blobs/binary', binary);
        await a.put('blobs/empty', new Uint8Array());
        expect(Array.from((await b.get('blobs/binary'))!.value)).toEqual([0, 1, 2, 255, 0, 128]);
        expect((await b.get('blobs/empty'))!.value.byteLength).toBe(0);
      });

      it('reads many keys at once as get reads each: absent when missing, versions good for compare-and-set', async () => {
        const www = await a.put('certs/www/current', bytes('one'));
        await a.put('certs/api/record', bytes('two'));
        await a.put('certs/api/data/acme.ari', new Uint8Array([0, 255]));
        const many = await b.getMany([
          'certs/www/current',
          'certs/api/record',
          'certs/none/current',
          'certs/api/data/acme.ari',
          'certs/www/data/x',
          'certs/www/current',
        ]);
        expect([...many.keys()].sort()).toEqual(['certs/api/data/acme.ari', 'certs/api/record', 'certs/www/current']);
        expect(text(many.get('certs/www/current')?.value)).toBe('one');
        expect(Array.from(many.get('certs/api/data/acme.ari')!.value)).toEqual([0, 255]);
        for (const [key, value] of many) {
          const single = await b.get(key);
          expect(value.version, key).toBe(single?.version);
          expect(value.modifiedAt.getTime(), key).toBe(single?.modifiedAt.getTime());
        }
        expect(many.get('certs/www/current')?.version).toBe(www);
        await b.put('certs/www/current', bytes('two'), { ifVersion: many.get('certs/www/current')!.version });
        expect(await a.getMany([])).toEqual(new Map());
      });

      it('reads more keys at once than one batch of a backend holds', async () => {
        const keys = Array.from({ length: 1_100 }, (_, i) => `certs/c${i}/current`);
        for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((key) => a.put(key, bytes(key))));
        const many = await b.getMany([...keys, 'certs/missing/current']);
        expect(many.size).toBe(keys.length);
        for (const key of keys) expect(text(many.get(key)?.value)).toBe(key);
      });

      it('deletes: true when something was there, false after', async () => {
        await a.put('certs/www/current', bytes('x'));
        expect(await b.delete('certs/www/current')).toBe(true);
        expect(await a.get('certs/www/current')).toBeUndefined();
        expect(await a.delete('certs/www/current')).toBe(false);
      });

      it('lists every key under a prefix at any depth, sorted, and nothing beside it', async () => {
        for (const key of ['certs/b/current', 'certs/a/current', 'certs/a/archive/2026-01', 'certsx/a', 'certs_/a', 'accounts/le', 'cxrts/a']) {
          await a.put(key, bytes(key));
        }
        expect(await b.list('certs/')).toEqual(['certs/a/archive/2026-01', 'certs/a/current', 'certs/b/current']);
        expect(await b.list('certs/a/')).toEqual(['certs/a/archive/2026-01', 'certs/a/current']);
        // `_` must match itself only (it is a wildcard in SQL LIKE).
        expect(await b.list('certs_/')).toEqual(['certs_/a']);
        expect(await b.list('nothing/')).toEqual([]);
        await a.delete('certs/b/current');
        expect(await b.list('certs/')).toEqual(['certs/a/archive/2026-01', 'certs/a/current']);
      });
    });

    describe('compare-and-set', () => {
      it('writes over the version it read, and refuses a stale one with STATE_CONFLICT, writing nothing', async () => {
        const v1 = await a.put('records/www', bytes('v1'));
        const v2 = await b.put('records/www', bytes('v2'), { ifVersion: v1 });
        expect(v2).not.toBe(v1);
        expect(await codeOf(a.put('records/www', bytes('stale'), { ifVersion: v1 }))).toBe('STATE_CONFLICT');
        expect(text((await a.get('records/www'))?.value)).toBe('v2');
        expect(await codeOf(a.put('records/www', bytes('made up'), { ifVersion: 'no-such-version' }))).toBe('STATE_CONFLICT');
        expect(await codeOf(a.put('records/missing', bytes('x'), { ifVersion: v2 }))).toBe('STATE_CONFLICT');
        expect(await a.get('records/missing')).toBeUndefined();
      });

      it('ifVersion null creates only a key that does not exist', async () => {
        const created = await a.put('records/new', bytes('first'), { ifVersion: null });
        expect((await b.get('records/new'))?.version).toBe(created);
        expect(await codeOf(b.put('records/new', bytes('second'), { ifVersion: null }))).toBe('STATE_CONFLICT');
        expect(text((await a.get('records/new'))?.value)).toBe('first');
      });

      it('deletes with ifVersion only that version', async () => {
        const v1 = await a.put('records/www', bytes('v1'));
        await a.put('records/www', bytes('v2'));
        expect(await codeOf(b.delete('records/www', { ifVersion: v1 }))).toBe('STATE_CONFLICT');
        expect(text((await a.get('records/www'))?.value)).toBe('v2');
        const current = (await a.get('records/www'))!.version;
        expect(await b.delete('records/www', { ifVersion: current })).toBe(true);
        expect(await a.get('records/www')).toBeUndefined();
      });

      it('two agents writing over the same version at once: exactly one wins', async () => {
        for (let round = 0; round < 10; round++) {
          const version = await a.put('records/contended', bytes(`base ${round}`));
          const results = await Promise.allSettled([
            a.put('records/contended', bytes(`a ${round}`), { ifVersion: version }),
            b.put('records/contended', bytes(`b ${round}`), { ifVersion: version }),
          ]);
          const won = results.filter((r) => r.status === 'fulfilled');
          const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
          expect(won).toHaveLength(1);
          expect(lost.map((r) => (isCertkeeperError(r.reason) ? r.reason.code : String(r.reason)))).toEqual(['STATE_CONFLICT']);
          const winner = results[0]!.status === 'fulfilled' ? 'a' : 'b';
          expect(text((await a.get('records/contended'))?.value)).toBe(`${winner} ${round}`);
        }
      });

      it('two agents creating the same key at once: exactly one wins', async () => {
        for (let round = 0; round < 10; round++) {
          const results = await Promise.allSettled([
            a.put(`records/new-${round}`, bytes('a'), { ifVersion: null }),
            b.put(`records/new-${round}`, bytes('b'), { ifVersion: null }),
          ]);
          expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        }
      });
    });

    describe('logs', () => {
      const at = (minute: number): Date => new Date(Date.UTC(2026, 5, 1, 0, minute));
      const entry = (minute: number, subject: string, kind: string): LogEntry => ({ at: at(minute), subject, kind, body: JSON.stringify({ minute, subject }) });

      it('reads newest first, filtered by subject and kind, at most limit entries', async () => {
        const written = [
          entry(1, 'www', 'renewal'),
          entry(2, 'api', 'renewal'),
          entry(3, 'www', 'dry-run'),
          entry(4, 'www', 'renewal'),
          entry(5, 'api', 'dry-run'),
        ];
        for (const e of written) await a.appendLog('history', e);
        const minutes = (entries: LogEntry[]): number[] => entries.map((e) => (JSON.parse(e.body) as { minute: number }).minute);

        const all = await b.readLog('history');
        expect(minutes(all)).toEqual([5, 4, 3, 2, 1]);
        expect(all[0]).toEqual({ at: at(5), subject: 'api', kind: 'dry-run', body: JSON.stringify({ minute: 5, subject: 'api' }) });
        expect(minutes(await b.readLog('history', { subject: 'www' }))).toEqual([4, 3, 1]);
        expect(minutes(await b.readLog('history', { subject: 'www', limit: 2 }))).toEqual([4, 3]);
        expect(minutes(await b.readLog('history', { kind: 'dry-run' }))).toEqual([5, 3]);
        expect(minutes(await b.readLog('history', { subject: 'www', kind: 'renewal', limit: 1 }))).toEqual([4]);
        expect(minutes(await b.readLog('history', { limit: 2 }))).toEqual([5, 4]);
        expect(await b.readLog('history', { subject: 'nobody' })).toEqual([]);
        expect(await b.readLog('other')).toEqual([]);
      });

      it('keeps entries of the same instant in the order they were appended (newest first)', async () => {
        for (const n of [1, 2, 3]) await a.appendLog('history', { at: at(0), subject: 'www', kind: '', body: JSON.stringify({ n }) });
        expect((await b.readLog('history')).map((e) => JSON.parse(e.body) as { n: number }).map((e) => e.n)).toEqual([3, 2, 1]);
      });
    });

    describe('locks', () => {
      it('is exclusive between agents: waitMs 0 fails at once with LOCK_TIMEOUT, naming the holder', async () => {
        const held = await a.lock('certs/www', { ttlMs: 10_000, waitMs: 0 });
        expect(held.name).toBe('certs/www');
        expect(held.tookOver).toBe(false);
        const waitedFor: string[] = [];
        expect(await codeOf(b.lock('certs/www', { ttlMs: 10_000, waitMs: 0, onWait: (holder) => waitedFor.push(holder) }))).toBe('LOCK_TIMEOUT');
        expect(waitedFor).toEqual([held.holder]);
        // Another name is another lock.
        const other = await b.lock('certs/api', { ttlMs: 10_000, waitMs: 0 });
        await other.release();
        await held.release();
        const next = await b.lock('certs/www', { ttlMs: 10_000, waitMs: 0 });
        expect(next.tookOver).toBe(false);
        await next.release();
      });

      it('two agents taking the same lock at once: exactly one gets it', async () => {
        for (let round = 0; round < 5; round++) {
          const results = await Promise.allSettled([
            a.lock(`race/${round}`, { ttlMs: 10_000, waitMs: 0 }),
            b.lock(`race/${round}`, { ttlMs: 10_000, waitMs: 0 }),
          ]);
          const won = results.filter((r): r is PromiseFulfilledResult<StorageLock> => r.status === 'fulfilled');
          expect(won).toHaveLength(1);
          await won[0]!.value.release();
        }
      });

      it('a waiter gets the lock once the holder releases it', async () => {
        const held = await a.lock('certs/www', { ttlMs: 10_000, waitMs: 0 });
        let released = false;
        const waiting = b.lock('certs/www', {
          ttlMs: 10_000,
          waitMs: 30_000,
          onWait: () => {
            setTimeout(() => {
              released = true;
              void held.release();
            }, 100);
          },
        });
        const taken = await waiting;
        expect(released).toBe(true);
        expect(taken.tookOver).toBe(false);
        await taken.release();
      });

      it('stops waiting when its signal aborts (CANCELLED)', async () => {
        const held = await a.lock('certs/www', { ttlMs: 10_000, waitMs: 0 });
        const controller = new AbortController();
        const waiting = codeOf(
          b.lock('certs/www', { ttlMs: 10_000, waitMs: 30_000, signal: controller.signal, onWait: () => setTimeout(() => controller.abort(), 50) }),
        );
        expect(await waiting).toBe('CANCELLED');
        await held.release();
      });

      it('a live holder keeps its lock past the TTL by renewing it', async () => {
        const held = await a.lock('certs/www', { ttlMs: 1_500, waitMs: 0 });
        await sleep(4_000);
        expect(await codeOf(b.lock('certs/www', { ttlMs: 1_500, waitMs: 0 }))).toBe('LOCK_TIMEOUT');
        expect(held.lost.aborted).toBe(false);
        await held.release();
        expect(held.lost.aborted).toBe(false);
      });

      it('a holder that died frees the lock after its TTL; the next one is told it took over', async () => {
        await harness.takeLockAndDie('certs/www', 1_000);
        expect(await codeOf(b.lock('certs/www', { ttlMs: 5_000, waitMs: 0 }))).toBe('LOCK_TIMEOUT');
        const taken = await b.lock('certs/www', { ttlMs: 5_000, waitMs: 30_000 });
        expect(taken.tookOver).toBe(true);
        await taken.release();
      });

      it('release twice is safe, and a released lock can be taken again', async () => {
        const held = await a.lock('certs/www', { ttlMs: 10_000, waitMs: 0 });
        await held.release();
        await held.release();
        const again = await a.lock('certs/www', { ttlMs: 10_000, waitMs: 0 });
        await held.release(); // the old handle must not free the new holder's lock
        expect(await codeOf(b.lock('certs/www', { ttlMs: 10_000, waitMs: 0 }))).toBe('LOCK_TIMEOUT');
        await again.release();
      });
    });

    describe('watch', () => {
      it("tells a watcher on one agent about another agent's writes under its prefix", async () => {
        const seen: StorageKey[] = [];
        const unwatch = b.watch('certs/', (key) => seen.push(key));
        try {
          await putUntilSeen(a, 'certs/www/current', seen);
          // Keys outside the prefix are not reported; the later key's arrival shows the earlier had its chance.
          await a.put('accounts/le', bytes('x'));
          await a.delete('certs/www/current');
          await putUntilSeen(a, 'certs/api/current', seen);
          expect(seen.filter((key) => !key.startsWith('certs/'))).toEqual([]);
        } finally {
          unwatch();
        }
      });

      it('a watcher whose notices never arrive is told by its poll of writes and deletes, not of its own or outside its prefix', async () => {
        const quiet = await harness.openPollingOnly(100);
        opened.push(quiet);
        const seen: StorageKey[] = [];
        const unwatch = quiet.watch('certs/', (key) => seen.push(key));
        try {
          await putUntilSeen(a, 'certs/www/current', seen);
          seen.length = 0;
          await a.delete('certs/www/current');
          await vi.waitFor(() => expect(seen).toContain('certs/www/current'), { timeout: 10_000, interval: 20 });
          // Its own writes and deletes, and keys outside the prefix, are not reported: the later
          // key's arrival shows they had their chance.
          await quiet.put('certs/mine', bytes('x'));
          await quiet.delete('certs/mine');
          await a.put('accounts/le', bytes('x'));
          await putUntilSeen(b, 'certs/api/current', seen);
          expect(seen).not.toContain('certs/mine');
          expect(seen.filter((key) => !key.startsWith('certs/'))).toEqual([]);
        } finally {
          unwatch();
        }
      });

      it('stops calling a listener once unsubscribed', async () => {
        const first: StorageKey[] = [];
        const second: StorageKey[] = [];
        const unwatchFirst = b.watch('certs/', (key) => first.push(key));
        const unwatchSecond = b.watch('certs/', (key) => second.push(key));
        try {
          await putUntilSeen(a, 'certs/one', first);
          unwatchFirst();
          await putUntilSeen(a, 'certs/two', second);
          expect(first).not.toContain('certs/two');
        } finally {
          unwatchSecond();
        }
      });
    });

    describe('keys', () => {
      const invalid = [
        '',
        '/certs',
        'certs/',
        'certs//www',
        '../etc/passwd',
        'certs/../x',
        'certs/./x',
        '.hidden',
        'sp ace',
        'semi;colon',
        'a'.repeat(513),
        `${'a'.repeat(129)}/x`,
      ];

      it('rejects keys that could walk out of their place, in every operation', async () => {
        for (const key of invalid) {
          await expect(a.get(key), key).rejects.toThrow(/invalid storage key/);
          await expect(a.getMany(['certs/www/current', key]), key).rejects.toThrow(/invalid storage key/);
          await expect(a.put(key, bytes('x')), key).rejects.toThrow(/invalid storage key/);
          await expect(a.delete(key), key).rejects.toThrow(/invalid storage key/);
          await expect(a.lock(key, { ttlMs: 1_000, waitMs: 0 }), key).rejects.toThrow(/invalid storage key/);
        }
        await expect(a.list('../')).rejects.toThrow();
        await expect(a.list('certs')).rejects.toThrow();
        expect(await a.list('certs/')).toEqual([]);
      });

      it('accepts the characters keys may have', async () => {
        const key = 'certs/Www-1.example_org/archive/2026-06-01T00.00.00Z';
        await a.put(key, bytes('x'));
        expect(await b.list('certs/')).toEqual([key]);
      });
    });

    it('answers a ping', async () => {
      await expect(a.ping()).resolves.toBeUndefined();
    });
  });
}
