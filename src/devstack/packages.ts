// System packages the local stack needs (Debian): installed with apt-get when running as
// root, otherwise a clear error with the exact command to run. Never a silent skip.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface RequiredBinary {
  binary: string; // absolute path checked for existence
  debianPackage: string;
}

export const STACK_BINARIES: RequiredBinary[] = [
  { binary: '/usr/bin/pebble', debianPackage: 'pebble' },
  { binary: '/usr/sbin/named', debianPackage: 'bind9' },
  { binary: '/usr/bin/openssl', debianPackage: 'openssl' },
];

export function missingPackages(required: RequiredBinary[] = STACK_BINARIES): string[] {
  return [...new Set(required.filter((r) => !existsSync(r.binary)).map((r) => r.debianPackage))];
}

/** The command that installs `packages`; for a non-root user, each apt-get runs under sudo. */
export function installCommand(packages: string[], asRoot: boolean): string {
  const sudo = asRoot ? '' : 'sudo ';
  return `${sudo}apt-get update && ${sudo}apt-get install -y ${packages.join(' ')}`;
}

/** Installs what is missing (as root) or throws with the command an operator must run. */
export function ensurePackages(required: RequiredBinary[] = STACK_BINARIES, log: (line: string) => void = () => {}): void {
  const missing = missingPackages(required);
  if (missing.length === 0) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const command = installCommand(missing, isRoot);
  if (!isRoot) {
    throw new Error(`missing system packages: ${missing.join(', ')}. Install them with:\n  ${command}`);
  }
  log(`installing missing system packages: ${missing.join(', ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  if (update.status !== 0) throw new Error(`apt-get update failed; run by hand: ${command}`);
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  const still = missingPackages(required);
  if (still.length > 0) throw new Error(`packages still missing after apt-get install: ${still.join(', ')}`);
}
