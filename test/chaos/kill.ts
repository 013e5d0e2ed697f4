// SIGKILL trials: `certkeeper renew` killed after a random delay, then checked and run again.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { CLI, REPO, runCli } from '../helpers/cli.js';
import { keyMismatches, tempFiles } from './invariants.js';

export interface KillTrial {
  killedAfterMs: number;
  /** Whether the process was still running when the signal went out. */
  killed: boolean;
  afterKill: { mismatches: string[] };
  recovery: { code: number | null; stderr: string; mismatches: string[]; tempFiles: string[]; deployed: string[]; lockLeft: boolean };
}

/** Lock files left under `dir` (a certificate's lock: locks/cert/<name>), at any depth. */
function lockFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? lockFiles(path.join(dir, entry.name)) : [path.join(dir, entry.name)],
  );
}

/** Runs `renew --force --yes` (past the forced-order budget) for `config` (in `dir`), SIGKILLs it after `delayMs`, checks, and runs it again. */
export async function killTrial(dir: string, config: string, delayMs: number, env: Record<string, string> = {}): Promise<KillTrial> {
  const child = spawn(process.execPath, [CLI, '--config', config, 'renew', '--force', '--yes'], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    stdio: 'ignore',
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  const killed = child.exitCode === null && child.signalCode === null;
  child.kill('SIGKILL');
  await closed;
  const stateDir = path.join(dir, 'state');
  const outDir = path.join(dir, 'out');
  const afterKill = { mismatches: keyMismatches(stateDir, outDir) };
  const again = await runCli(['--config', config, 'renew'], { env });
  return {
    killedAfterMs: delayMs,
    killed,
    afterKill,
    recovery: {
      code: again.code,
      stderr: again.stderr,
      mismatches: keyMismatches(stateDir, outDir),
      tempFiles: tempFiles(stateDir, outDir),
      deployed: existsSync(outDir)
        ? readdirSync(outDir)
            .filter((name) => !name.startsWith('.'))
            .sort()
        : [],
      lockLeft: lockFiles(path.join(stateDir, 'store', 'locks')).length > 0,
    },
  };
}
