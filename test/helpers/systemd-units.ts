// Reading the systemd units and the polkit rule in examples/systemd the way systemd and polkit
// would, for the tests of what they promise (test/unit/examples-systemd.test.ts and the install
// test in test/integration/packaging/systemd-install.test.ts).

import { readFileSync } from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { REPO } from './cli.js';

export const SYSTEMD_EXAMPLES = path.join(REPO, 'examples/systemd');
export const SERVICES = ['certkeeper.service', 'certkeeper-renew.service', 'certkeeper-doctor.service'] as const;

export interface UnitLine {
  section: string;
  key: string;
  value: string;
}

/** Every `Key=value` of a unit file in order, with its section (comments and blank lines dropped). */
export function unitLines(file: string): UnitLine[] {
  const lines: UnitLine[] = [];
  let section = '';
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) section = header[1]!;
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (match) lines.push({ section, key: match[1]!, value: match[2]! });
  }
  return lines;
}

/** One unit's directives: key → values in order. */
export function unit(name: string, dir = SYSTEMD_EXAMPLES): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  for (const { key, value } of unitLines(path.join(dir, name))) directives.set(key, [...(directives.get(key) ?? []), value]);
  return directives;
}

/** The program path certkeeper runs as in a unit's ExecStart (after `/usr/bin/env node <flags>` when present). */
export function certkeeperPath(execStart: string): string {
  const words = execStart.split(/\s+/);
  const found = words.find((word) => word.endsWith('/bin/certkeeper'));
  if (!found) throw new Error(`no certkeeper program in ExecStart=${execStart}`);
  return found;
}

export interface PolkitRequest {
  actionId: string;
  user: string;
  groups?: string[];
  details: Record<string, string>;
}

/**
 * The answer of a polkit rules file for one request, evaluated as polkitd does (init.js: the first
 * rule returning something truthy decides): 'yes', another Result, or null when no rule answers.
 */
export function polkitAnswer(rulesFile: string, request: PolkitRequest): string | null {
  const rules: ((action: unknown, subject: unknown) => unknown)[] = [];
  const polkit = {
    Result: {
      NO: 'no',
      YES: 'yes',
      AUTH_SELF: 'auth_self',
      AUTH_SELF_KEEP: 'auth_self_keep',
      AUTH_ADMIN: 'auth_admin',
      AUTH_ADMIN_KEEP: 'auth_admin_keep',
      NOT_HANDLED: null,
    },
    addRule: (rule: (action: unknown, subject: unknown) => unknown) => rules.push(rule),
    addAdminRule: () => {},
    log: () => {},
    spawn: () => {
      throw new Error('polkit.spawn is not expected in this rule');
    },
  };
  vm.runInNewContext(readFileSync(rulesFile, 'utf8'), { polkit }, { filename: rulesFile });
  const action = { id: request.actionId, lookup: (key: string) => request.details[key] };
  const subject = {
    user: request.user,
    groups: request.groups ?? [request.user],
    local: false,
    active: false,
    isInGroup: (g: string) => (request.groups ?? []).includes(g),
  };
  for (const rule of rules) {
    const answer = rule(action, subject);
    if (answer) return answer as string;
  }
  return null;
}
