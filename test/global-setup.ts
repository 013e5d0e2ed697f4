// Runs once before all tests: installs the system packages the local stack needs (or fails
// with the command to run), and compiles dist/ so CLI tests run the real program. Type errors
// are printed but do not stop the run (tsc still emits; `npm run typecheck` is the type gate).

import { spawnSync } from 'node:child_process';
import { ensurePackages } from '../src/devstack/packages.js';

export default function setup(): void {
  ensurePackages(undefined, (line) => console.log(line));
  const build = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { encoding: 'utf8' });
  if (build.status !== 0) console.warn(`tsc reported problems (dist/ emitted anyway):\n${build.stdout}${build.stderr}`);
}
