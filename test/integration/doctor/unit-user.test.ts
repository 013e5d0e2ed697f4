// Issue 16: `certkeeper doctor` said PASS while the installed unit could not work. Run as the
// units run (an unprivileged user: nobody here) it must name, before any renewal, a files sink
// owner/group the kernel will refuse (EPERM: chown), a reload hook the user cannot run, and a
// ${VAR} that is unset; as root the same ownership passes. The CA and DNS are closed loopback
// ports on purpose: only the lines under test are looked at, and nothing is written.

import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/devstack/ports.js';
import { CLI } from '../../helpers/cli.js';
import { NOBODY, nodeForEveryone, ROOT, sharedTempDir, type User } from '../../helpers/unprivileged.js';

interface Line {
  name: string;
  status: 'pass' | 'warn' | 'fail';
  message: string;
  cert?: string;
}

/** `certkeeper --config FILE doctor --json` as `user`, with only PATH (and `env`) in its environment. */
async function doctorAs(user: User, config: string, env: Record<string, string> = {}): Promise<{ code: number | null; lines: Line[]; stdout: string }> {
  const node = await nodeForEveryone();
  return new Promise((resolve, reject) => {
    const child = spawn(node, [CLI, '--config', config, 'doctor', '--json'], {
      cwd: path.dirname(config),
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(user.uid === process.getuid?.() ? {} : { uid: user.uid, gid: user.gid }),
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve({ code, lines: (JSON.parse(stdout) as { checks: Line[] }).checks, stdout });
      } catch {
        reject(new Error(`doctor as ${user.name} exited ${code}: ${stdout}`));
      }
    });
  });
}

let tmp: string;
let config: string;
beforeAll(async () => {
  const shared = await sharedTempDir('ck-doctor-user-', NOBODY);
  tmp = shared.tmp;
  const port = await freePort();
  config = path.join(shared.work, 'certkeeper.yaml');
  await fs.writeFile(
    config,
    `stateDir: ./state
acme:
  directory: https://127.0.0.1:${port}/directory
  email: ops@example.test
resolvers: ["127.0.0.1:${port}"]
dns:
  hook:
    type: exec
    command: [/bin/true]
sinks:
  own-group:
    type: files
    dir: ./own-group/{cert}
    group: nogroup
    keyMode: "0640"
  root-group:
    type: files
    dir: ./root-group/{cert}
    group: root
    keyMode: "0640"
  root-owner:
    type: files
    dir: ./root-owner/{cert}
    owner: root
  sudo-reload:
    type: exec
    command: [./bin/sudo, -n, /usr/sbin/nginx, -s, reload]
certificates:
  - { name: a, domains: [a.example.test], dns: hook, sinks: [own-group] }
  - { name: b, domains: [b.example.test], dns: hook, sinks: [root-group] }
  - { name: c, domains: [c.example.test], dns: hook, sinks: [root-owner] }
`,
  );
  await fs.chmod(config, 0o644);
  // A stand-in sudo (the host may have none): the check is about what NoNewPrivileges does to it.
  await fs.mkdir(path.join(shared.work, 'bin'), { mode: 0o755 });
  await fs.writeFile(path.join(shared.work, 'bin', 'sudo'), '#!/bin/sh\nexec "$@"\n', { mode: 0o755 });
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const sinkLine = (lines: Line[], cert: string): Line => lines.find((l) => l.name === 'sink' && l.cert === cert)!;

describe('certkeeper doctor as the unprivileged unit user (nobody)', () => {
  it('fails a group it is not in and another owner (the deploy would get EPERM), and passes its own group', async () => {
    const { code, lines } = await doctorAs(NOBODY, config);
    expect(code).toBe(1);
    expect(sinkLine(lines, 'a')).toMatchObject({ status: 'pass', message: expect.stringContaining('group nogroup can be applied') });
    expect(sinkLine(lines, 'b')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('root-group: group root (gid 0): nobody (uid 65534) is not a member'),
    });
    expect(sinkLine(lines, 'b').message).toContain('usermod -aG root nobody');
    expect(sinkLine(lines, 'c')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('root-owner: owner root (uid 0): only root or a process with CAP_CHOWN'),
    });
    // Nothing was created for the check.
    await expect(fs.stat(path.join(path.dirname(config), 'root-group'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(fs.stat(path.join(path.dirname(config), 'state'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('certkeeper doctor as root', () => {
  it('passes the same owner and groups: root may give files to anyone', async () => {
    const { lines } = await doctorAs(ROOT, config);
    for (const cert of ['a', 'b', 'c']) expect(sinkLine(lines, cert), cert).toMatchObject({ status: 'pass' });
    expect(sinkLine(lines, 'c').message).toContain('owner root can be applied');
  });
});

describe('certkeeper doctor and hooks that need privileges', () => {
  it('fails a sudo hook under NoNewPrivileges (as the units set it)', async () => {
    const withSudo = config.replace(/\.yaml$/, '-sudo.yaml');
    const text = await fs.readFile(config, 'utf8');
    await fs.writeFile(withSudo, `${text}  - { name: d, domains: [d.example.test], dns: hook, sinks: [sudo-reload] }\n`, { mode: 0o644 });
    // setpriv sets no_new_privs as systemd's NoNewPrivileges=yes does, then runs the doctor.
    const node = await nodeForEveryone();
    const run = await new Promise<string>((resolve, reject) => {
      const child = spawn('setpriv', ['--no-new-privs', node, CLI, '--config', withSudo, 'doctor', '--json', '--cert', 'd'], {
        cwd: path.dirname(config),
        env: { PATH: '/usr/local/bin:/usr/bin:/bin' },
        uid: NOBODY.uid,
        gid: NOBODY.gid,
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.on('error', reject);
      child.on('close', () => resolve(out));
    });
    const lines = (JSON.parse(run) as { checks: Line[] }).checks;
    expect(sinkLine(lines, 'd')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining(
        'sudo-reload: hook "./bin/sudo -n /usr/sbin/nginx -s reload": sudo cannot gain privileges in a process with NoNewPrivileges',
      ),
    });
    // Without no_new_privs (a shell), sudo may work: nothing to say.
    const free = await doctorAs(NOBODY, withSudo);
    expect(sinkLine(free.lines, 'd')).toMatchObject({ status: 'pass' });
  });

  it('fails an unset ${VAR} before anything else, naming it, as root and as nobody', async () => {
    const withEnv = config.replace(/\.yaml$/, '-env.yaml');
    const text = await fs.readFile(config, 'utf8');
    await fs.writeFile(
      withEnv,
      text.replace('command: [/bin/true]', 'command: [/bin/true]\n    env: { DNS_TOKEN: "${DNS_TOKEN}", TOKEN_FILE: "${CREDENTIALS_DIRECTORY}/token" }'),
      { mode: 0o644 },
    );
    for (const user of [ROOT, NOBODY]) {
      const { code, lines } = await doctorAs(user, withEnv);
      expect(code, user.name).toBe(1);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ name: 'config', status: 'fail' });
      expect(lines[0]!.message).toContain('dns.hook.env.DNS_TOKEN (line 10): environment variable DNS_TOKEN is not set');
      // The one a shell never has: where it comes from, and how to check as the units run.
      expect(lines[0]!.message).toContain('environment variable CREDENTIALS_DIRECTORY is not set (systemd sets it for a unit with LoadCredential=');
      expect(lines[0]!.message).toContain('systemctl start certkeeper-doctor');
    }
    const set = await doctorAs(NOBODY, withEnv, { DNS_TOKEN: 'x', CREDENTIALS_DIRECTORY: '/run/credentials/certkeeper.service' });
    expect(set.lines.find((l) => l.name === 'config')).toMatchObject({ status: 'pass' });
  });
});
