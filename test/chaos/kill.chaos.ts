// 50 SIGKILLs at random points of `certkeeper renew --force` (order, DNS, store, deploy) against
// the real Pebble and BIND: after each, every stored and deployed key matches its certificate;
// after the next run, no temp file is left, the lock is gone, and everything is deployed.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../src/devstack/stack.js';
import { runCli, workDir, writeConfig } from '../helpers/cli.js';
import { killTrial, type KillTrial } from './kill.js';

const TRIALS = Number(process.env.CK_KILL_TRIALS ?? 50);
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ pebble: { authzReusePercent: 0 } });
});
afterAll(async () => {
  await stack?.stop();
});

describe(`SIGKILL during renew (${TRIALS} trials)`, () => {
  it('never loses a certificate', async () => {
    const dir = workDir(stack, 'ck-kill-');
    const reload = path.join(dir, 'reload.sh');
    writeFileSync(reload, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const config = writeConfig(dir, stack, {
      sinks: `  reload:\n    type: exec\n    command: [${JSON.stringify(reload)}]`,
      certificates: [0, 1, 2]
        .map((i) => `  - { name: k${i}, domains: [k${i}.example.test, "*.k${i}.example.test"], dns: bind, sinks: [files, reload] }`)
        .join('\n'),
    });
    const first = await runCli(['--config', config, 'renew']);
    expect(first.code, first.stderr).toBe(0);
    // How long a forced run takes here, so the kills spread over all of it.
    const started = Date.now();
    expect((await runCli(['--config', config, 'renew', '--force', '--yes'])).code).toBe(0);
    const span = Math.max(500, Date.now() - started);

    const trials: KillTrial[] = [];
    for (let i = 0; i < TRIALS; i++) {
      const trial = await killTrial(dir, config, Math.floor(Math.random() * span * 1.1));
      trials.push(trial);
      const where = `trial ${i} killed after ${trial.killedAfterMs} ms`;
      expect(trial.afterKill.mismatches, where).toEqual([]);
      expect(trial.recovery.code, `${where}: ${trial.recovery.stderr}`).toBe(0);
      expect(trial.recovery.mismatches, where).toEqual([]);
      expect(trial.recovery.tempFiles, where).toEqual([]);
      expect(trial.recovery.deployed, where).toEqual(['k0', 'k1', 'k2']);
      expect(trial.recovery.lockLeft, where).toBe(false);
    }
    // Most kills landed mid-run, not after it ended.
    expect(trials.filter((t) => t.killed).length).toBeGreaterThan(TRIALS / 2);
    writeFileSync(path.join(dir, 'trials.json'), JSON.stringify(trials.map((t) => ({ ms: t.killedAfterMs, killed: t.killed }))));
  }, 1_200_000);
});
