// The StateStore contract against the repositories on a folder (FileStorage); the same suite runs
// on the other backends in test/integration/state/ (postgres-, kubernetes-state-store.test.ts).

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { systemClock, type Clock } from '../../../src/core/clock.js';
import { RepositoryStore } from '../../../src/state/repository-store.js';
import { FileStorage } from '../../../src/state/storage/file/index.js';
import { stateStoreContract } from './state-store-contract.js';

/** A clock that moves one second per reading, so versions sort in write order. */
function steppingClock(start = Date.parse('2026-06-01T00:00:00Z')): Clock {
  let t = start;
  return { now: () => new Date((t += 1000)), sleep: systemClock.sleep };
}

stateStoreContract('repositories on FileStorage', async () => {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-contract-'));
  const clock = steppingClock();
  const open = async (): Promise<RepositoryStore> =>
    new RepositoryStore({ storage: await FileStorage.open({ dir: path.join(tmp, 'state'), clock }), clock, localDir: path.join(tmp, 'local') });
  return { store: await open(), other: open, close: () => fs.rm(tmp, { recursive: true, force: true }) };
});
