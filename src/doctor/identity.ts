// Who the doctor runs as, for the checks whose answer depends on it: the user and groups, whether
// the process may change a file's owner (CAP_CHOWN), whether it may gain privileges at all
// (NoNewPrivileges), and what this host offers a `systemctl` hook. Read once per doctor run; the
// checks take it as a value, so tests pass any identity they like.

import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';

export interface ProcessIdentity {
  uid: number;
  gid: number;
  /** Supplementary groups (the effective group may or may not be among them). */
  groups: number[];
  /** The user's name, when the passwd database has one. */
  user: string | undefined;
  /** CAP_CHOWN in the effective set: may give files to any user and group. */
  capChown: boolean;
  /** NoNewPrivileges (systemd's NoNewPrivileges=yes): sudo and other setuid programs cannot gain anything. */
  noNewPrivs: boolean;
}

/** What a `systemctl` hook needs from the host besides permission. */
export interface SystemdHost {
  /** systemd is the init system (/run/systemd/system exists). */
  booted: boolean;
  /** polkit's daemon is installed: without it systemd lets only root manage units. */
  polkit: boolean;
}

const CAP_CHOWN = 0n;
const POLKITD = ['/usr/lib/polkit-1/polkitd', '/usr/libexec/polkitd', '/usr/libexec/polkit-1/polkitd'];

/** `CapEff` and `NoNewPrivs` from /proc/self/status text; absent lines read as root's answer for root. */
export function parseProcStatus(text: string, uid: number): Pick<ProcessIdentity, 'capChown' | 'noNewPrivs'> {
  const field = (name: string): string | undefined => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(text)?.[1];
  const capEff = field('CapEff');
  const capChown = capEff !== undefined && /^[0-9a-f]+$/i.test(capEff) ? ((BigInt(`0x${capEff}`) >> CAP_CHOWN) & 1n) === 1n : uid === 0;
  return { capChown, noNewPrivs: field('NoNewPrivs') === '1' };
}

export function currentIdentity(): ProcessIdentity {
  const uid = process.geteuid?.() ?? 0;
  const gid = process.getegid?.() ?? 0;
  let user: string | undefined;
  try {
    user = os.userInfo().username;
  } catch {
    user = undefined; // a uid without a passwd entry
  }
  let status = '';
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch {
    // not Linux: decide by the uid alone
  }
  return { uid, gid, groups: process.getgroups?.() ?? [], user, ...parseProcStatus(status, uid) };
}

export function currentSystemdHost(): SystemdHost {
  return { booted: existsSync('/run/systemd/system'), polkit: POLKITD.some((file) => existsSync(file)) };
}

/** `certkeeper (uid 998)`, or `uid 998` without a name. */
export function describeUser(identity: Pick<ProcessIdentity, 'uid' | 'user'>): string {
  return identity.user ? `${identity.user} (uid ${identity.uid})` : `uid ${identity.uid}`;
}
