// Runs once before all tests: installs the system packages the local stack needs (or fails
// with the command to run), and builds dist/ so CLI tests run the real compiled program.

import { execFileSync } from 'node:child_process';
import { ensurePackages } from '../src/devstack/packages.js';

export default function setup(): void {
  ensurePackages(undefined, (line) => console.log(line));
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
}
