// FileStorage runs the shared storage contract suite. A "dead" holder is a lock file left by an
// agent on another host that never refreshes it (a dead pid on this host would be taken over at
// once, which the suite's TTL test does not expect).

import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { systemClock } from '../../../src/core/clock.js';
import { FileStorage } from '../../../src/state/storage/file/index.js';
import { describeStorageContract } from './storage-contract.js';

describeStorageContract('FileStorage', async () => {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-fcontract-'));
  const dir = path.join(tmp, 'state');
  return {
    open: () => FileStorage.open({ dir, clock: systemClock }),
    openPollingOnly: (pollIntervalMs) => FileStorage.open({ dir, clock: systemClock, pollIntervalMs, fileEvents: false }),
    async takeLockAndDie(name) {
      const file = path.join(dir, 'locks', ...name.split('/'));
      await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      const holder = { pid: 4242, hostname: 'another-host.invalid', startedAt: new Date().toISOString(), token: randomBytes(8).toString('hex') };
      await fs.writeFile(file, `${JSON.stringify(holder)}\n`, { mode: 0o600, flag: 'wx' });
    },
    dispose: () => fs.rm(tmp, { recursive: true, force: true }),
  };
});
