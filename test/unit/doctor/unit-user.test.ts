// Issue 16: the doctor judges what the user it runs as may do (the certkeeper units run as an
// unprivileged user with no capabilities and NoNewPrivileges): a files sink's owner/group, a
// `systemctl reload` or `sudo` hook. Pure checks over a given identity and host.

import { describe, expect, it } from 'vitest';
import { hookPermissionProblem, parseSystemctl } from '../../../src/doctor/hook-permission.js';
import { parseProcStatus, type ProcessIdentity, type SystemdHost } from '../../../src/doctor/identity.js';
import { ownershipProblem, type IdLookup } from '../../../src/doctor/ownership.js';

const CERTKEEPER: ProcessIdentity = { uid: 998, gid: 998, groups: [998, 111], user: 'certkeeper', capChown: false, noNewPrivs: true };
const ROOT: ProcessIdentity = { uid: 0, gid: 0, groups: [0], user: 'root', capChown: true, noNewPrivs: false };
const SYSTEMD_POLKIT: SystemdHost = { booted: true, polkit: true };
const SYSTEMD_ONLY: SystemdHost = { booted: true, polkit: false };
const NO_SYSTEMD: SystemdHost = { booted: false, polkit: true };

const ids: Record<string, number> = { 'passwd:certkeeper': 998, 'passwd:www-data': 33, 'group:certkeeper': 998, 'group:ssl-cert': 111, 'group:www-data': 33 };
const lookup: IdLookup = async (database, nameOrId) => {
  if (typeof nameOrId === 'number') return nameOrId;
  const id = ids[`${database}:${nameOrId}`];
  if (id === undefined) throw new Error(`no ${database === 'passwd' ? 'user' : 'group'} named "${nameOrId}"`);
  return id;
};

describe('parseProcStatus', () => {
  it('reads CAP_CHOWN (bit 0 of CapEff) and NoNewPrivs', () => {
    expect(parseProcStatus('Name:\tnode\nCapEff:\t000001ffffffffff\nNoNewPrivs:\t0\n', 0)).toEqual({ capChown: true, noNewPrivs: false });
    expect(parseProcStatus('CapEff:\t0000000000000000\nNoNewPrivs:\t1\n', 998)).toEqual({ capChown: false, noNewPrivs: true });
    // AmbientCapabilities=CAP_CHOWN alone
    expect(parseProcStatus('CapEff:\t0000000000000001\n', 998).capChown).toBe(true);
  });
  it('without /proc, root may chown and others may not', () => {
    expect(parseProcStatus('', 0).capChown).toBe(true);
    expect(parseProcStatus('', 998).capChown).toBe(false);
  });
});

describe('ownershipProblem', () => {
  it('passes a group the user is in, its own owner, and anything for root', async () => {
    expect(await ownershipProblem({ group: 'ssl-cert' }, CERTKEEPER, lookup)).toBeUndefined();
    expect(await ownershipProblem({ owner: 'certkeeper', group: 'certkeeper' }, CERTKEEPER, lookup)).toBeUndefined();
    expect(await ownershipProblem({ owner: 'www-data', group: 'www-data' }, ROOT, lookup)).toBeUndefined();
    expect(await ownershipProblem({}, CERTKEEPER, lookup)).toBeUndefined();
  });
  it('fails another owner without CAP_CHOWN, and passes it with CAP_CHOWN', async () => {
    const problem = await ownershipProblem({ owner: 'www-data' }, CERTKEEPER, lookup);
    expect(problem).toContain('owner www-data (uid 33)');
    expect(problem).toContain('CAP_CHOWN');
    expect(problem).toContain('EPERM');
    expect(await ownershipProblem({ owner: 'www-data' }, { ...CERTKEEPER, capChown: true }, lookup)).toBeUndefined();
  });
  it('fails a group the user is not in, with the usermod that fixes it', async () => {
    const problem = await ownershipProblem({ group: 'www-data' }, CERTKEEPER, lookup);
    expect(problem).toContain('group www-data (gid 33): certkeeper (uid 998) is not a member');
    expect(problem).toContain('usermod -aG www-data certkeeper');
  });
  it('fails a name that does not exist', async () => {
    expect(await ownershipProblem({ group: 'ssl-certs' }, ROOT, lookup)).toBe('group ssl-certs: no group named "ssl-certs"');
  });
});

describe('parseSystemctl', () => {
  it('finds the verb and the units, with .service added', () => {
    expect(parseSystemctl(['reload', 'nginx'])).toEqual({ verb: 'reload', units: ['nginx.service'] });
    expect(parseSystemctl(['--no-block', '-q', 'restart', 'haproxy.service', 'postfix@-.service'])).toEqual({
      verb: 'restart',
      units: ['haproxy.service', 'postfix@-.service'],
    });
    expect(parseSystemctl(['-s', 'HUP', 'kill', 'nginx'])).toEqual({ verb: 'kill', units: ['nginx.service'] });
  });
  it('leaves calls to another manager or host alone', () => {
    expect(parseSystemctl(['--user', 'reload', 'nginx'])).toBeUndefined();
    expect(parseSystemctl(['-H', 'web1', 'reload', 'nginx'])).toBeUndefined();
    expect(parseSystemctl(['--machine=web', 'reload', 'nginx'])).toBeUndefined();
  });
});

describe('hookPermissionProblem', () => {
  const reload = ['systemctl', 'reload', 'nginx'];
  it('root may reload whenever systemd runs', () => {
    expect(hookPermissionProblem(reload, ROOT, SYSTEMD_ONLY)).toBeUndefined();
    expect(hookPermissionProblem(['/usr/bin/systemctl', 'reload', 'nginx'], ROOT, SYSTEMD_POLKIT)).toBeUndefined();
  });
  it('fails anyone where systemd is not the init system', () => {
    expect(hookPermissionProblem(reload, ROOT, NO_SYSTEMD)).toMatchObject({ status: 'fail', message: expect.stringContaining('does not run systemd') });
  });
  it('fails another user when polkit is not installed, naming the package and the rule', () => {
    const verdict = hookPermissionProblem(reload, CERTKEEPER, SYSTEMD_ONLY);
    expect(verdict?.status).toBe('fail');
    expect(verdict?.message).toContain('runs as certkeeper (uid 998)');
    expect(verdict?.message).toContain('apt-get install polkitd');
    expect(verdict?.message).toContain('examples/systemd/certkeeper-reload.rules');
    expect(verdict?.message).toContain('--reload-unit nginx.service');
  });
  it('warns another user when polkit decides, as its rules are root-only', () => {
    const verdict = hookPermissionProblem(reload, CERTKEEPER, SYSTEMD_POLKIT);
    expect(verdict?.status).toBe('warn');
    expect(verdict?.message).toContain('only root can read');
    expect(hookPermissionProblem(['systemctl', 'restart', 'nginx'], CERTKEEPER, SYSTEMD_POLKIT)?.message).toContain('grants only reload');
  });
  it('says nothing of read-only verbs and other programs', () => {
    expect(hookPermissionProblem(['systemctl', 'is-active', 'nginx'], CERTKEEPER, SYSTEMD_ONLY)).toBeUndefined();
    expect(hookPermissionProblem(['systemctl', '--user', 'reload', 'app'], CERTKEEPER, SYSTEMD_ONLY)).toBeUndefined();
    expect(hookPermissionProblem(['/usr/local/bin/reload-nginx'], CERTKEEPER, SYSTEMD_ONLY)).toBeUndefined();
  });
  it('fails sudo under NoNewPrivileges, and leaves it alone otherwise', () => {
    expect(hookPermissionProblem(['sudo', 'systemctl', 'reload', 'nginx'], CERTKEEPER, SYSTEMD_POLKIT)).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('NoNewPrivileges'),
    });
    expect(hookPermissionProblem(['sudo', '-n', 'nginx', '-s', 'reload'], { ...CERTKEEPER, noNewPrivs: false }, SYSTEMD_POLKIT)).toBeUndefined();
  });
});
