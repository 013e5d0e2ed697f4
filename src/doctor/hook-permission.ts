// Whether a hook's command may do what it asks, where that can be known before it runs: a
// `systemctl reload nginx` needs systemd on the host and, for any user but root, polkit's consent;
// `sudo` gains nothing under NoNewPrivileges (which the certkeeper units set). polkit's rules are
// readable by root alone on Debian, so for another user "a rule allows it" cannot be proven: that
// is a warning naming the rule to install, and a missing polkit is a failure.

import path from 'node:path';
import { describeUser, type ProcessIdentity, type SystemdHost } from './identity.js';

export interface HookVerdict {
  status: 'fail' | 'warn';
  message: string;
}

/** systemctl verbs that change units: systemd asks polkit (org.freedesktop.systemd1.manage-units) unless the caller is root. */
const MANAGE_VERBS = new Set([
  'start',
  'stop',
  'reload',
  'restart',
  'try-restart',
  'reload-or-restart',
  'try-reload-or-restart',
  'force-reload',
  'condreload',
  'condrestart',
  'condstop',
  'kill',
  'isolate',
]);
/** systemctl options followed by a separate value. */
const OPTIONS_WITH_VALUE = new Set([
  '-t',
  '--type',
  '-p',
  '--property',
  '-s',
  '--signal',
  '-n',
  '--lines',
  '-o',
  '--output',
  '--job-mode',
  '--kill-whom',
  '--kill-value',
  '--state',
  '--what',
  '--timestamp',
  '--check-inhibitors',
  '--when',
  '--root',
  '--image',
  '--preset-mode',
  '--drop-in',
  '--message',
]);
/** Options that send the request elsewhere (another manager, host or container): nothing to say about them here. */
const ELSEWHERE = new Set(['--user', '-H', '--host', '-M', '--machine']);
const UNIT_SUFFIX = /\.(service|socket|target|timer|path|mount|automount|swap|slice|scope|device)$/;

export const POLKIT_RULE = 'examples/systemd/certkeeper-reload.rules';

interface SystemctlCall {
  verb: string;
  units: string[];
}

/** The verb and units of a `systemctl` argv, or undefined when it goes to another manager or host. */
export function parseSystemctl(args: readonly string[]): SystemctlCall | undefined {
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const option = arg.split('=')[0]!;
    if (ELSEWHERE.has(option) || arg.startsWith('--host=') || arg.startsWith('--machine=')) return undefined;
    if (OPTIONS_WITH_VALUE.has(arg)) i++;
    else if (!arg.startsWith('-')) words.push(arg);
  }
  const [verb, ...units] = words;
  return verb === undefined ? undefined : { verb, units: units.map((unit) => (UNIT_SUFFIX.test(unit) ? unit : `${unit}.service`)) };
}

/** What stops `command` (an exec hook's argv) from working for `identity` on `host`, or undefined. */
export function hookPermissionProblem(command: readonly string[], identity: ProcessIdentity, host: SystemdHost): HookVerdict | undefined {
  const program = path.basename(command[0] ?? '');
  const shown = `"${command.join(' ')}"`;
  if (program === 'sudo' || program === 'doas' || program === 'pkexec') {
    if (identity.noNewPrivs) {
      return {
        status: 'fail',
        message: `hook ${shown}: ${program} cannot gain privileges in a process with NoNewPrivileges (the certkeeper units set NoNewPrivileges=yes); for a reload, use systemctl with the polkit rule ${POLKIT_RULE}`,
      };
    }
    return undefined;
  }
  if (program !== 'systemctl') return undefined;
  const call = parseSystemctl(command.slice(1));
  if (!call || !MANAGE_VERBS.has(call.verb)) return undefined;
  if (!host.booted) {
    return { status: 'fail', message: `hook ${shown}: this host does not run systemd (no /run/systemd/system), so systemctl has no service manager to ask` };
  }
  if (identity.uid === 0) return undefined;
  const who = describeUser(identity);
  const grant =
    call.verb === 'reload'
      ? `the polkit rule ${POLKIT_RULE} grants it for ${call.units.join(', ')} (install.sh ${call.units.map((unit) => `--reload-unit ${unit}`).join(' ')})`
      : `a polkit rule must grant "${call.verb}" (${POLKIT_RULE} grants only reload: prefer "systemctl reload")`;
  if (!host.polkit) {
    return {
      status: 'fail',
      message: `hook ${shown} runs as ${who}: systemd lets only root ${call.verb} units unless polkit allows it, and polkit is not installed (apt-get install polkitd); then ${grant}`,
    };
  }
  return {
    status: 'warn',
    message: `hook ${shown} runs as ${who}: systemd asks polkit, whose rules only root can read, so the doctor cannot tell whether one allows it; ${grant}`,
  };
}
