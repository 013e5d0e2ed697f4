// The store's health as the metrics see it (state/storage/observed.ts, wrapped in by open.ts):
// each call reported with its operation and result (conflict and busy told apart from errors),
// cancelled calls not reported, store_up going to 0 on an error or a lost lock and back to 1,
// and no key in any label. The wrapped FileStorage also passes the shared storage contract.

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { AgentMetrics } from '../../../src/observe/metrics.js';
import { openStateStore } from '../../../src/state/open.js';
import type { Storage, StorageLock } from '../../../src/state/storage/contract.js';
import { FileStorage } from '../../../src/state/storage/file/index.js';
import { STORAGE_OPERATIONS, STORAGE_RESULTS, type StorageObservation } from '../../../src/state/storage/contract.js';
import { ObservedStorage } from '../../../src/state/storage/observed.js';
import { describeStorageContract } from './storage-contract.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});
async function tmpDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-observed-'));
  dirs.push(dir);
  return dir;
}

function recorder(): { seen: StorageObservation[]; lost: string[]; observer: ConstructorParameters<typeof ObservedStorage>[2] } {
  const seen: StorageObservation[] = [];
  const lost: string[] = [];
  return { seen, lost, observer: { onOperation: (o) => seen.push(o), onLockLost: (backend) => lost.push(backend) } };
}

const summary = (seen: StorageObservation[]): string[] => seen.map((o) => `${o.backend} ${o.operation} ${o.result}`);

/** A Storage whose calls do what the test says; anything else is not used. */
function scripted(overrides: Partial<Storage>): Storage {
  const unused = (): never => {
    throw new Error('not used');
  };
  return {
    description: 'scripted',
    where: (key) => key,
    get: unused,
    getMany: unused,
    put: unused,
    delete: unused,
    list: unused,
    appendLog: unused,
    readLog: unused,
    lock: unused,
    watch: unused,
    ping: unused,
    close: async () => {},
    ...overrides,
  };
}

describe('ObservedStorage', () => {
  it('reports each call of a real file store, a lost compare-and-set as conflict and a held lock as busy', async () => {
    const { seen, observer } = recorder();
    const storage = new ObservedStorage(await FileStorage.open({ dir: await tmpDir(), clock: systemClock }), 'file', observer);
    const version = await storage.put('certs/www/current', new TextEncoder().encode('{}'), { ifVersion: null });
    await expect(storage.put('certs/www/current', new TextEncoder().encode('{}'), { ifVersion: null })).rejects.toMatchObject({ code: 'STATE_CONFLICT' });
    expect((await storage.get('certs/www/current'))?.version).toBe(version);
    await storage.getMany(['certs/www/current']);
    await storage.list('certs/');
    await storage.appendLog('history', { at: new Date(), subject: 'www', kind: '', body: '{}' });
    await storage.readLog('history');
    const held = await storage.lock('cert/www', { ttlMs: 60_000, waitMs: 0 });
    await expect(storage.lock('cert/www', { ttlMs: 60_000, waitMs: 0 })).rejects.toMatchObject({ code: 'LOCK_TIMEOUT' });
    await held.release();
    await storage.delete('certs/www/current');
    await storage.ping();
    expect(summary(seen)).toEqual([
      'file put success',
      'file put conflict',
      'file get success',
      'file get_many success',
      'file list success',
      'file append_log success',
      'file read_log success',
      'file lock success',
      'file lock busy',
      'file unlock success',
      'file delete success',
      'file ping success',
    ]);
    for (const o of seen) {
      expect(STORAGE_OPERATIONS).toContain(o.operation);
      expect(STORAGE_RESULTS).toContain(o.result);
      expect(o.seconds).toBeGreaterThanOrEqual(0);
    }
    expect(storage.sweep).toBeTypeOf('function'); // the file backend has one, so the wrapper does
    await storage.close();
  });

  it('counts a failure as an error, but not a call its caller cancelled; a deadline the caller set is the store being slow', async () => {
    const { seen, observer } = recorder();
    const controller = new AbortController();
    const storage = new ObservedStorage(
      scripted({
        get: async () => {
          throw new CertkeeperError('STATE_UNREACHABLE', 'connection refused');
        },
        ping: async (signal) => {
          throw signal?.reason ?? new Error('down');
        },
        lock: async () => {
          controller.abort();
          throw new Error('aborted');
        },
      }),
      'postgres',
      observer,
    );
    await expect(storage.get('a')).rejects.toMatchObject({ code: 'STATE_UNREACHABLE' });
    await expect(storage.lock('cert/a', { ttlMs: 1_000, waitMs: 1_000, signal: controller.signal })).rejects.toThrow('aborted');
    const timedOut = AbortSignal.timeout(1);
    await new Promise((resolve) => timedOut.addEventListener('abort', resolve));
    await expect(storage.ping(timedOut)).rejects.toThrow();
    expect(summary(seen)).toEqual(['postgres get error', 'postgres ping error']);
    expect(storage.sweep).toBeUndefined();
  });

  it("tells the observer when a held lock's lease is lost, and not when it is released", async () => {
    const { seen, lost, observer } = recorder();
    const leases: AbortController[] = [];
    const storage = new ObservedStorage(
      scripted({
        lock: async (name): Promise<StorageLock> => {
          const lease = new AbortController();
          leases.push(lease);
          return {
            name,
            holder: 'me',
            tookOver: false,
            lost: lease.signal,
            release: async () => lease.abort(), // a backend may end the signal on release
          };
        },
      }),
      'kubernetes',
      observer,
    );
    const first = await storage.lock('cert/a', { ttlMs: 1_000, waitMs: 0 });
    expect(first.name).toBe('cert/a');
    leases[0]!.abort(new CertkeeperError('LOCK_TIMEOUT', 'lease lost'));
    expect(lost).toEqual(['kubernetes']);
    const second = await storage.lock('cert/b', { ttlMs: 1_000, waitMs: 0 });
    await second.release();
    expect(lost).toEqual(['kubernetes']);
    expect(summary(seen)).toEqual(['kubernetes lock success', 'kubernetes lock success', 'kubernetes unlock success']);
  });
});

describe('the store health metrics', () => {
  it('open.ts wraps the store once; store_up goes to 0 on an error or a lost lock and back to 1, and no key is a label', async () => {
    const metrics = new AgentMetrics({ processMetrics: false });
    const observer = { onOperation: (o: StorageObservation) => metrics.storeOperation(o), onLockLost: (b: string) => metrics.storeLockLost(b) };
    const dir = await tmpDir();
    const store = await openStateStore({ state: { type: 'file', dir, lockTtl: 60_000 }, agentId: 'a1', clock: systemClock, logger: silentLogger, observer });
    await store.storage.put('certs/secret-name/current', new TextEncoder().encode('{}'));
    await expect(store.storage.put('certs/secret-name/current', new TextEncoder().encode('{}'), { ifVersion: null })).rejects.toMatchObject({
      code: 'STATE_CONFLICT',
    });
    let text = await metrics.render();
    expect(text).toContain('certkeeper_store_up{backend="file"} 1');
    expect(text).toContain('certkeeper_store_operations_total{backend="file",operation="put",result="success"}');
    expect(text).toContain('certkeeper_store_operations_total{backend="file",operation="put",result="conflict"} 1');
    expect(text).toMatch(/certkeeper_store_operation_duration_seconds_count\{backend="file",operation="put"\} [1-9]/);
    expect(text).not.toContain('secret-name');

    metrics.storeOperation({ backend: 'file', operation: 'get', result: 'error', seconds: 0.5 });
    expect(await metrics.render()).toContain('certkeeper_store_up{backend="file"} 0');
    await store.storage.get('certs/secret-name/current');
    expect(await metrics.render()).toContain('certkeeper_store_up{backend="file"} 1');
    metrics.storeLockLost('file');
    expect(await metrics.render()).toContain('certkeeper_store_up{backend="file"} 0');
    metrics.storeOperation({ backend: 'file', operation: 'lock', result: 'busy', seconds: 1 });
    text = await metrics.render();
    expect(text).toContain('certkeeper_store_up{backend="file"} 1'); // a busy lock is an answer
    expect(text).toContain('certkeeper_store_operations_total{backend="file",operation="lock",result="busy"} 1');
    await store.storage.close();
  });
});

describeStorageContract('ObservedStorage over FileStorage', async () => {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-ocontract-'));
  const dir = path.join(tmp, 'state');
  const observer = { onOperation: () => {} };
  return {
    open: async () => new ObservedStorage(await FileStorage.open({ dir, clock: systemClock }), 'file', observer),
    openPollingOnly: async (pollIntervalMs) =>
      new ObservedStorage(await FileStorage.open({ dir, clock: systemClock, pollIntervalMs, fileEvents: false }), 'file', observer),
    async takeLockAndDie(name) {
      // As the FileStorage suite: a lock file of an agent on another host that never refreshes it.
      const { randomBytes } = await import('node:crypto');
      const file = path.join(dir, 'locks', ...name.split('/'));
      await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      const holder = { pid: 4242, hostname: 'another-host.invalid', startedAt: new Date().toISOString(), token: randomBytes(8).toString('hex') };
      await fs.writeFile(file, `${JSON.stringify(holder)}\n`, { mode: 0o600, flag: 'wx' });
    },
    dispose: () => fs.rm(tmp, { recursive: true, force: true }),
  };
});
