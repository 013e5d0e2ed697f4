// The daemon's loops table stays true: every loop lives where it says, under the name it gives.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { DAEMON_LOOPS } from '../../../src/engine/loops.js';

const SRC = path.resolve(import.meta.dirname, '../../../src');

it('names each loop once', () => {
  const names = DAEMON_LOOPS.map((loop) => loop.name);
  expect(new Set(names).size).toBe(names.length);
  expect(names).toEqual(expect.arrayContaining(['cron', 'wake-ups', 'rehearsals', 'watch', 'lease heartbeat', 'lock heartbeats']));
});

it.each(DAEMON_LOOPS.map((loop) => [loop.name, loop] as const))('%s runs in its home file', (_name, loop) => {
  const source = readFileSync(path.join(SRC, loop.home), 'utf8');
  expect(source).toContain(loop.owner);
});

it('the run command starts the loops it is said to start', () => {
  const run = readFileSync(path.join(SRC, 'cli/commands/run.ts'), 'utf8');
  for (const loop of DAEMON_LOOPS.filter((l) => l.startedBy.startsWith('cli/commands/run.ts'))) expect(run).toContain(loop.owner);
});
