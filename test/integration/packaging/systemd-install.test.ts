// Issue 16: the README's systemd install, run as far as this machine allows (systemd is not PID 1
// here): examples/systemd/install.sh into a temp root standing in for a Debian host, then
//  - the program at the units' ExecStart path runs (`--version`, as nobody, with the agent's Node flag),
//  - the user and folders exist with the modes and owners the units need,
//  - `systemd-analyze verify` accepts the installed units (it checks that ExecStart exists),
//  - `systemd-analyze security --offline` scores each service at 2.5 or below (printed),
//  - the polkit rule grants the reload of exactly the units given,
//  - every system call certkeeper makes on a real renewal (the demo: Pebble, BIND, a deploy and a
//    hook, under strace) is one SystemCallFilter=@system-service allows.

import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  chmodSync,
  mkdirSync,
  symlinkSync,
  writeFileSync,
  readlinkSync,
  appendFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePackages } from '../../../src/devstack/packages.js';
import { REPO } from '../../helpers/cli.js';
import { certkeeperPath, polkitAnswer, SERVICES, SYSTEMD_EXAMPLES, unit } from '../../helpers/systemd-units.js';
import { NOBODY, nodeForEveryone } from '../../helpers/unprivileged.js';

const TOOLS = [
  { binary: '/usr/bin/systemd-analyze', debianPackage: 'systemd' },
  { binary: '/usr/bin/systemd-sysusers', debianPackage: 'systemd' },
  { binary: '/usr/bin/systemd-tmpfiles', debianPackage: 'systemd' },
  { binary: '/usr/bin/strace', debianPackage: 'strace' },
];
const UNITS = [...SERVICES, 'certkeeper-renew.timer'];
const VERSION = (JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

let root: string;
let installOutput: string;

/** examples/systemd/install.sh into `root`; npm answers from the cache the suite's own install filled. */
function install(...args: string[]): string {
  return execFileSync('sh', [path.join(SYSTEMD_EXAMPLES, 'install.sh'), '--root', root, ...args], {
    encoding: 'utf8',
    env: { ...process.env, npm_config_prefer_offline: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** uid/gid of a name in the temp root's own user database (sysusers wrote it there). */
function idIn(database: 'passwd' | 'group', name: string): number {
  const line = readFileSync(path.join(root, 'etc', database), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no ${name} in ${root}/etc/${database}`);
  return Number(line.split(':')[2]);
}

function analyze(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync('systemd-analyze', args, { encoding: 'utf8', cwd: root });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

beforeAll(() => {
  // Installs systemd's tools with apt-get as root; otherwise fails with the exact command to run.
  ensurePackages(TOOLS, (line) => console.log(line));
  root = mkdtempSync(path.join(tmpdir(), 'ck-systemd-root-'));
  chmodSync(root, 0o755); // nobody runs the installed program below
  // The Debian base the install runs on: merged /usr, systemd's own units, env and kill.
  mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  mkdirSync(path.join(root, 'usr/lib/systemd'), { recursive: true });
  symlinkSync('usr/bin', path.join(root, 'bin'));
  cpSync('/lib/systemd/system', path.join(root, 'usr/lib/systemd/system'), { recursive: true });
  for (const tool of ['env', 'kill']) cpSync(`/usr/bin/${tool}`, path.join(root, 'usr/bin', tool));
  installOutput = install('--reload-unit', 'nginx.service', '--reload-unit', 'haproxy.service');
}, 300_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('examples/systemd/install.sh into a temp root', () => {
  it('puts a working certkeeper at the path every unit runs', async () => {
    expect(installOutput).toContain(`certkeeper ${VERSION} installed under ${root}`);
    const node = await nodeForEveryone();
    for (const name of SERVICES) {
      const program = path.join(root, certkeeperPath(unit(name).get('ExecStart')![0]!));
      expect(existsSync(program), program).toBe(true);
      // As the agent unit runs it (node with the semi-space flag), as the certkeeper user would.
      const agentStyle = spawnSync(node, ['--max-semi-space-size=4', program, '--version'], { encoding: 'utf8', uid: NOBODY.uid, gid: NOBODY.gid, cwd: '/' });
      expect(agentStyle.stdout.trim(), agentStyle.stderr).toBe(VERSION);
      // As the renew and doctor units run it: the path itself, a Node script.
      const direct = spawnSync(program, ['--version'], {
        encoding: 'utf8',
        uid: NOBODY.uid,
        gid: NOBODY.gid,
        cwd: '/',
        env: { PATH: `${path.dirname(node)}:/usr/bin:/bin` },
      });
      expect(direct.stdout.trim(), direct.stderr).toBe(VERSION);
    }
    expect(readlinkSync(path.join(root, 'usr/local/bin/certkeeper'))).toBe('/opt/certkeeper/bin/certkeeper');
    // Production dependencies only, pruned as in the image.
    const modules = path.join(root, 'opt/certkeeper/lib/certkeeper/node_modules');
    expect(existsSync(path.join(modules, 'acme-client'))).toBe(true);
    expect(existsSync(path.join(modules, 'typescript'))).toBe(false);
    expect(existsSync(path.join(modules, 'vitest'))).toBe(false);
  });

  it('creates the certkeeper user and every folder the units use, with their modes and owners', () => {
    const passwd = readFileSync(path.join(root, 'etc/passwd'), 'utf8');
    expect(passwd).toMatch(/^certkeeper:x:\d+:\d+:[^:]*:\/var\/lib\/certkeeper:\/usr\/sbin\/nologin$/m);
    const uid = idIn('passwd', 'certkeeper');
    const gid = idIn('group', 'certkeeper');
    const expected: [string, number, number, number][] = [
      ['etc/certkeeper', 0o750, 0, gid],
      ['etc/certkeeper/credentials', 0o700, 0, 0],
      ['etc/ssl/certkeeper', 0o755, uid, gid],
      ['var/lib/certkeeper', 0o700, uid, gid],
    ];
    for (const [folder, mode, owner, group] of expected) {
      const stat = statSync(path.join(root, folder));
      expect([folder, stat.isDirectory(), stat.mode & 0o7777, stat.uid, stat.gid]).toEqual([folder, true, mode, owner, group]);
    }
    // What the units write to or read from exists.
    for (const name of SERVICES) {
      for (const entry of (unit(name).get('ReadWritePaths') ?? []).flatMap((v) => v.split(/\s+/)))
        expect(existsSync(path.join(root, entry.replace(/^-/, ''))), entry).toBe(true);
      for (const value of unit(name).get('LoadCredential') ?? []) expect(existsSync(path.join(root, path.dirname(value.split(':')[1]!))), value).toBe(true);
    }
  });

  it('installs units that systemd-analyze verify accepts, and one local.conf drop-in that all three services read', () => {
    for (const name of UNITS)
      expect(readFileSync(path.join(root, 'etc/systemd/system', name), 'utf8')).toBe(readFileSync(path.join(SYSTEMD_EXAMPLES, name), 'utf8'));
    const verify = analyze(['verify', `--root=${root}`, ...UNITS]);
    expect(verify.stderr).toBe('');
    expect(verify.status).toBe(0);

    const local = path.join(root, 'etc/systemd/system/certkeeper.service.d/local.conf');
    const before = readFileSync(local, 'utf8');
    appendFileSync(local, 'NotADirective=1\n');
    try {
      const read = analyze(['verify', `--root=${root}`, ...SERVICES]);
      for (const name of SERVICES) expect(read.stderr).toContain(`${name}.d/local.conf:`);
    } finally {
      writeFileSync(local, before);
    }
  });

  it('scores every service at 2.5 or below on systemd-analyze security --offline', () => {
    for (const name of SERVICES) {
      const run = analyze(['security', '--offline=true', `--root=${root}`, name]);
      const score = /Overall exposure level for \S+: (\d+\.\d+)/.exec(run.stdout)?.[1];
      console.log(`systemd-analyze security --offline=true ${name}: ${score}`);
      expect(score, run.stdout + run.stderr).toBeDefined();
      expect(Number(score)).toBeLessThanOrEqual(2.5);
    }
  });

  it('writes the polkit rule for exactly the units given: certkeeper may reload them, nothing more', () => {
    const rules = path.join(root, 'etc/polkit-1/rules.d/50-certkeeper-reload.rules');
    expect(statSync(rules).mode & 0o777).toBe(0o644);
    const ask = (verb: string, unitName: string, user = 'certkeeper') =>
      polkitAnswer(rules, { actionId: 'org.freedesktop.systemd1.manage-units', user, details: { unit: unitName, verb } });
    expect(ask('reload', 'nginx.service')).toBe('yes');
    expect(ask('reload', 'haproxy.service')).toBe('yes');
    expect(ask('restart', 'nginx.service')).toBeNull();
    expect(ask('reload', 'postgresql.service')).toBeNull();
    expect(ask('reload', 'nginx.service', 'www-data')).toBeNull();
  });

  it('runs again over an installation, keeping local.conf edits and refusing a bad unit name', () => {
    const local = path.join(root, 'etc/systemd/system/certkeeper.service.d/local.conf');
    appendFileSync(local, 'ReadWritePaths=-/srv/tls\n');
    install();
    expect(readFileSync(local, 'utf8')).toContain('ReadWritePaths=-/srv/tls\n');
    const bad = spawnSync('sh', [path.join(SYSTEMD_EXAMPLES, 'install.sh'), '--root', root, '--reload-unit', 'nginx; rm -rf /'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('not a unit name');
  }, 300_000);
});

/** Every system call name in an allow list such as `@system-service`, groups expanded. */
function syscallsOf(filter: string, seen = new Set<string>()): Set<string> {
  const out = execFileSync('systemd-analyze', ['syscall-filter', filter], { encoding: 'utf8' });
  const names = new Set<string>();
  for (const line of out.split('\n').slice(1)) {
    const word = line.trim();
    if (word === '' || word.startsWith('#')) continue;
    if (word.startsWith('@')) {
      if (!seen.has(word)) {
        seen.add(word);
        for (const name of syscallsOf(word, seen)) names.add(name);
      }
    } else names.add(word);
  }
  return names;
}

/**
 * System calls made by certkeeper's processes in an `strace -f` log: every task but the ones that
 * exec'd `excluded` programs (the test's CA and DNS server) and the tasks they started.
 */
function certkeeperSyscalls(trace: string, excluded: RegExp): { used: Set<string>; excludedTasks: number } {
  const outside = new Set<string>();
  const children = new Map<string, string[]>();
  const calls: [string, string][] = [];
  for (const line of trace.split('\n')) {
    const call = /^(\d+)\s+(?:<\.\.\. )?([a-z_0-9]+)(?:\(| resumed>)/.exec(line);
    if (!call) continue;
    const [, pid, name] = call as unknown as [string, string, string];
    calls.push([pid, name]);
    if (name === 'execve' && excluded.test(line)) outside.add(pid);
    const spawned = /^(\d+)\s+(?:<\.\.\. )?(?:clone3?|fork|vfork)\b.*= (\d+)$/.exec(line);
    if (spawned) children.set(spawned[1]!, [...(children.get(spawned[1]!) ?? []), spawned[2]!]);
  }
  const pending = [...outside];
  while (pending.length > 0) for (const child of children.get(pending.pop()!) ?? []) if (!outside.has(child)) (outside.add(child), pending.push(child));
  return { used: new Set(calls.filter(([pid]) => !outside.has(pid)).map(([, name]) => name)), excludedTasks: outside.size };
}

describe('SystemCallFilter=@system-service and certkeeper', () => {
  it('allows every system call of a real renewal (the demo through the installed tree, under strace)', async () => {
    const filter = unit('certkeeper.service').get('SystemCallFilter')!;
    expect(filter).toEqual(['@system-service']);
    const allowed = syscallsOf('@system-service');
    const work = mkdtempSync(path.join(tmpdir(), 'ck-systemd-strace-'));
    try {
      const trace = path.join(work, 'trace.log');
      const demo = spawnSync(
        'strace',
        ['-f', '-qq', '-o', trace, process.execPath, '--max-semi-space-size=4', path.join(root, 'opt/certkeeper/lib/certkeeper/dist/demo/main.js')],
        {
          cwd: work,
          encoding: 'utf8',
          timeout: 240_000,
        },
      );
      expect(demo.status, `${demo.stdout}\n${demo.stderr}`).toBe(0);
      expect(demo.stdout).toMatch(/^www\s+valid\s/m);
      const { used, excludedTasks } = certkeeperSyscalls(readFileSync(trace, 'utf8'), /execve\("(\/usr\/bin\/pebble|\/usr\/sbin\/named|\/usr\/bin\/openssl)"/);
      expect(excludedTasks).toBeGreaterThanOrEqual(2); // Pebble and BIND (and their threads) are not certkeeper
      expect(used.size).toBeGreaterThan(40);
      expect(
        ['socket', 'connect', 'sendmsg', 'execve', 'rename'].filter((name) => !used.has(name)),
        [...used].join(' '),
      ).toEqual([]);
      expect([...used].filter((name) => !allowed.has(name)).sort()).toEqual([]);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 300_000);
});
