// The systemd units in examples/systemd: the directives operators rely on are there, the three
// services share one user, credentials and sandbox, every path they need is one the install step
// creates (issue 16: /usr/bin/certkeeper that nothing installed, ReadWritePaths folders never
// made: 226/NAMESPACE, a missing credential file: 243/CREDENTIALS), and the polkit rule grants the
// reload and nothing else. The install itself runs in test/integration/packaging/systemd-install.test.ts.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/cli.js';
import { certkeeperPath, polkitAnswer, SERVICES, SYSTEMD_EXAMPLES, unit, unitLines } from '../helpers/systemd-units.js';

const INSTALLED = '/opt/certkeeper/bin/certkeeper';
const RULES = path.join(SYSTEMD_EXAMPLES, 'certkeeper-reload.rules');

/** tmpfiles.d `d` lines: path → [mode, user, group]. */
function tmpfiles(): Map<string, [string, string, string]> {
  const out = new Map<string, [string, string, string]>();
  for (const line of readFileSync(path.join(SYSTEMD_EXAMPLES, 'certkeeper.tmpfiles'), 'utf8').split('\n')) {
    const [type, p, mode, user, group] = line.trim().split(/\s+/);
    if (type === 'd') out.set(p!, [mode!, user!, group!]);
  }
  return out;
}

/** What a unit runs as and in: every [Service] line but what the command and its kind are. */
const OWN_TO_EACH = new Set(['Type', 'ExecStart', 'ExecReload', 'Restart', 'RestartSec', 'TimeoutStopSec', 'KillMode', 'Environment']);
const sandbox = (name: string): string[] =>
  unitLines(path.join(SYSTEMD_EXAMPLES, name))
    .filter((line) => line.section === 'Service' && !OWN_TO_EACH.has(line.key))
    .map((line) => `${line.key}=${line.value}`);

describe('examples/systemd units', () => {
  it('certkeeper.service runs the agent from the installed path with the small young generation, reloads with SIGHUP', () => {
    const service = unit('certkeeper.service');
    expect(service.get('ExecStart')).toEqual([`/usr/bin/env node --max-semi-space-size=4 ${INSTALLED} run --config /etc/certkeeper/certkeeper.yaml`]);
    expect(service.get('ExecReload')?.[0]).toContain('kill -HUP $MAINPID');
    expect(service.get('Type')?.[0]).toBe('simple');
    // Longer than the agent's shutdownTimeout (30 s) so a clean stop is never cut short.
    expect(Number.parseInt(service.get('TimeoutStopSec')![0]!, 10)).toBeGreaterThan(30);
  });

  it('the one-shot service and its timer run `renew` twice a day at a random minute; the doctor unit runs `doctor`', () => {
    expect(unit('certkeeper-renew.service').get('ExecStart')).toEqual([`${INSTALLED} renew --config /etc/certkeeper/certkeeper.yaml`]);
    expect(unit('certkeeper-renew.service').get('Type')?.[0]).toBe('oneshot');
    expect(unit('certkeeper-doctor.service').get('ExecStart')).toEqual([`${INSTALLED} doctor --config /etc/certkeeper/certkeeper.yaml`]);
    expect(unit('certkeeper-doctor.service').get('Type')?.[0]).toBe('oneshot');
    expect(unit('certkeeper-doctor.service').has('Install')).toBe(false);
    const timer = unit('certkeeper-renew.timer');
    expect(timer.get('OnCalendar')?.[0]).toBe('*-*-* 00,12:00:00');
    expect(timer.get('RandomizedDelaySec')?.[0]).toBeTruthy();
    expect(timer.get('Persistent')?.[0]).toBe('true');
  });

  it('every service runs the path install.sh creates', () => {
    for (const name of SERVICES) expect(certkeeperPath(unit(name).get('ExecStart')![0]!), name).toBe(INSTALLED);
    expect(readFileSync(path.join(SYSTEMD_EXAMPLES, 'install.sh'), 'utf8')).toContain('ln -sfn ../lib/certkeeper/dist/cli/main.js "$prefix/bin/certkeeper"');
  });

  it('the three services share one user, credentials and sandbox, hardened as the issue asks', () => {
    const agent = sandbox('certkeeper.service');
    expect(sandbox('certkeeper-renew.service')).toEqual(agent);
    expect(sandbox('certkeeper-doctor.service')).toEqual(agent);
    for (const directive of [
      'User=certkeeper',
      'StateDirectory=certkeeper',
      'ConfigurationDirectory=certkeeper',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'PrivateTmp=yes',
      'CapabilityBoundingSet=',
      'ProtectClock=yes',
      'ProtectKernelLogs=yes',
      'ProtectHostname=yes',
      'RestrictRealtime=yes',
      'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
      'SystemCallArchitectures=native',
      'SystemCallFilter=@system-service',
      'SystemCallErrorNumber=EPERM',
    ]) {
      expect(agent, directive).toContain(directive);
    }
  });

  it('a missing credential file does not stop a unit (243/CREDENTIALS): each LoadCredential= has a SetCredential= default', () => {
    for (const name of SERVICES) {
      const service = unit(name);
      const loaded = (service.get('LoadCredential') ?? []).map((value) => value.split(':')[0]);
      expect(loaded, name).toEqual(['tsig']);
      // An empty value is invalid syntax to systemd 252; "\n" is an empty line, which certkeeper reads as empty.
      expect(service.get('SetCredential'), name).toEqual(loaded.map((id) => `${id}:\\n`));
      for (const value of service.get('LoadCredential')!) expect(value).toMatch(/^[\w-]+:\/etc\/certkeeper\/credentials\/[\w-]+$/);
    }
  });

  it('every folder a unit needs is created by the install step (tmpfiles) or optional', () => {
    const made = tmpfiles();
    expect(made.get('/etc/certkeeper')).toEqual(['0750', 'root', 'certkeeper']);
    expect(made.get('/etc/certkeeper/credentials')).toEqual(['0700', 'root', 'root']);
    expect(made.get('/var/lib/certkeeper')).toEqual(['0700', 'certkeeper', 'certkeeper']);
    for (const name of SERVICES) {
      for (const value of unit(name).get('ReadWritePaths') ?? []) {
        for (const entry of value.split(/\s+/)) {
          // "-" makes a missing path harmless; and install.sh creates it anyway.
          expect(entry, `${name}: ${entry}`).toMatch(/^-/);
          expect(made.get(entry.replace(/^-/, '')), entry).toEqual(['0755', 'certkeeper', 'certkeeper']);
        }
      }
    }
    expect(readFileSync(path.join(SYSTEMD_EXAMPLES, 'certkeeper.sysusers'), 'utf8')).toMatch(/^u certkeeper - ".*" \/var\/lib\/certkeeper$/m);
  });
});

describe('the examples read their secrets as the units hand them over', () => {
  const examples = readdirSync(path.join(REPO, 'examples')).filter((name) => name.endsWith('.yaml'));
  const loadedByUnit = new Set(
    unit('certkeeper.service')
      .get('LoadCredential')!
      .map((value) => value.split(':')[0]),
  );

  it.each(examples)(
    '%s: every ${CREDENTIALS_DIRECTORY}/NAME is loaded by the unit or by a local.conf line it shows, and no secret comes from ${ENV}',
    (name) => {
      const text = readFileSync(path.join(REPO, 'examples', name), 'utf8');
      const settings = text
        .split('\n')
        .filter((line) => !line.trimStart().startsWith('#'))
        .join('\n');
      expect([...settings.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]).filter((v) => v !== 'CREDENTIALS_DIRECTORY')).toEqual([]);
      const shown = new Set([...text.matchAll(/^#\s+LoadCredential=([\w-]+):\/etc\/certkeeper\/credentials\/\1$/gm)].map((m) => m[1]));
      for (const [, credential] of settings.matchAll(/\$\{CREDENTIALS_DIRECTORY\}\/([\w-]+)/g)) {
        expect(loadedByUnit.has(credential!) || shown.has(credential!), `${name}: ${credential}`).toBe(true);
      }
    },
  );
});

describe('examples/systemd/certkeeper-reload.rules (polkit)', () => {
  const request = (user: string, verb: string, unitName: string) => ({
    actionId: 'org.freedesktop.systemd1.manage-units',
    user,
    details: { unit: unitName, verb },
  });

  it('lets certkeeper reload nginx.service', () => {
    expect(polkitAnswer(RULES, request('certkeeper', 'reload', 'nginx.service'))).toBe('yes');
  });

  it('answers nothing for other verbs, units, users or actions (polkit defaults: admin authentication)', () => {
    for (const verb of ['start', 'stop', 'restart', 'reload-or-restart', 'try-restart'])
      expect(polkitAnswer(RULES, request('certkeeper', verb, 'nginx.service')), verb).toBeNull();
    expect(polkitAnswer(RULES, request('certkeeper', 'reload', 'sshd.service'))).toBeNull();
    expect(polkitAnswer(RULES, request('www-data', 'reload', 'nginx.service'))).toBeNull();
    // StartTransientUnit asks manage-units without details: never granted.
    expect(polkitAnswer(RULES, { actionId: 'org.freedesktop.systemd1.manage-units', user: 'certkeeper', details: {} })).toBeNull();
    expect(
      polkitAnswer(RULES, { actionId: 'org.freedesktop.systemd1.manage-unit-files', user: 'certkeeper', details: { unit: 'nginx.service', verb: 'reload' } }),
    ).toBeNull();
  });

  it('is plain ES5, as polkit (duktape) runs it', () => {
    const code = readFileSync(RULES, 'utf8')
      .split('\n')
      .filter((line) => !line.trimStart().startsWith('//'))
      .join('\n');
    expect(code).not.toMatch(/\b(let|const|class)\b|=>|`/);
  });
});
