// What an agent keeps for itself in the store: per agent, and read from the 0.1 file until the
// first save (notify-state.json).

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { notifyStateFile, notifyStateInStore } from '../../../src/observe/notify/snapshot.js';
import { openStateStore } from '../../../src/state/open.js';

it('keeps each agent its own data, and moves the notification state from its file into the store at the first save', async () => {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ck-agentdata-'));
  const dir = path.join(tmp, 'state');
  const open = (agentId: string) => openStateStore({ state: { type: 'file', dir, lockTtl: 120_000 }, agentId, clock: systemClock, logger: silentLogger });
  const [a, b] = await Promise.all([open('a'), open('b')]);
  await a.agentData.put('watch', [{ endpoint: 'x:443' }]);
  expect(await a.agentData.get('watch')).toEqual([{ endpoint: 'x:443' }]);
  expect(await b.agentData.get('watch')).toBeUndefined();

  const legacy = path.join(dir, 'notify-state.json');
  const snapshot = { version: 2 as const, targets: {} };
  await notifyStateFile(legacy).save(snapshot);
  const state = notifyStateInStore(a.agentData, legacy);
  expect(await state.load()).toEqual(snapshot); // from the file: nothing in the store yet
  await state.save(snapshot);
  await fs.rm(legacy);
  expect(await state.load()).toEqual(snapshot); // from the store now
  expect(await a.agentData.get('notify')).toEqual(snapshot);
});
