// promtool (Debian package `prometheus`) for tests that lint an exposition with `promtool check
// metrics`: installed with apt-get when running as root, else the test fails with the command to
// run (src/devstack/packages.ts). Never a silent skip.

import { spawnSync } from 'node:child_process';
import { ensurePackages } from '../../src/devstack/packages.js';

const PROMTOOL = '/usr/bin/promtool';

/** Installs promtool if missing (as root) or throws with `sudo apt-get … install -y prometheus`. */
export function ensurePromtool(): string {
  ensurePackages([{ binary: PROMTOOL, debianPackage: 'prometheus' }], (line) => console.log(line));
  return PROMTOOL;
}

/** `promtool check metrics` on `exposition`: its exit status and every line it printed (one per problem). */
export function checkMetrics(exposition: string): { status: number | null; problems: string[] } {
  const run = spawnSync(ensurePromtool(), ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (run.error) throw run.error;
  const problems = `${run.stdout}${run.stderr}`.split('\n').filter((line) => line.trim() !== '');
  return { status: run.status, problems };
}
