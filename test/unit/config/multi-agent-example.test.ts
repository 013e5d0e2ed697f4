// examples/multi-agent: two hosts sharing one PostgreSQL store. Both configs are valid with the
// systemd credentials the drop-in loads, point at the same store with the same sealing key, and
// differ only in the agent id; the drop-in loads every credential the configs read, and the
// README's setup names the files it ships.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../../src/config/load.js';
import { sinkScope } from '../../../src/sinks/scope.js';
import { REPO } from '../../helpers/cli.js';

const DIR = path.join(REPO, 'examples/multi-agent');
const credentials = mkdtempSync(path.join(os.tmpdir(), 'certkeeper-credentials-'));
writeFileSync(path.join(credentials, 'database-url'), 'postgres://certkeeper:example-password@db.internal:5432/certkeeper\n');
writeFileSync(path.join(credentials, 'state-key'), `${Buffer.alloc(32, 7).toString('base64')}\n`);
writeFileSync(path.join(credentials, 'tsig'), 'c2VjcmV0LXNlY3JldC1zZWNyZXQ=\n');
afterAll(() => rmSync(credentials, { recursive: true, force: true }));

const load = (host: string) => loadConfigFile(path.join(DIR, host, 'certkeeper.yaml'), { env: { CREDENTIALS_DIRECTORY: credentials } });

describe('examples/multi-agent', () => {
  const a = load('host-a');
  const b = load('host-b');

  it('both hosts share one PostgreSQL store and sealing key, each with its own agent id', () => {
    for (const config of [a, b]) {
      expect(config.state).toMatchObject({
        type: 'postgres',
        url: 'postgres://certkeeper:example-password@db.internal:5432/certkeeper',
        schema: 'certkeeper',
        encryptionKeyFile: path.join(credentials, 'state-key'),
        localDir: '/var/lib/certkeeper',
      });
      expect(config.secrets).toContain('postgres://certkeeper:example-password@db.internal:5432/certkeeper');
    }
    expect([a.agentId, b.agentId]).toEqual(['host-a', 'host-b']);
    // Apart from comments, host B's file is host A's with another agent.id.
    const settings = (host: string) =>
      readFileSync(path.join(DIR, host, 'certkeeper.yaml'), 'utf8')
        .split('\n')
        .filter((line) => !line.startsWith('#'));
    expect(settings('host-b').map((line) => line.replace('id: host-b', 'id: host-a'))).toEqual(settings('host-a'));
  });

  it('deploys to each host its own nginx and once to ACM', () => {
    expect(a.certificates.map((c) => [c.name, c.sinks])).toEqual([['www', ['web', 'reload-nginx', 'alb']]]);
    expect(Object.fromEntries(Object.entries(a.sinks).map(([name, sink]) => [name, sinkScope(sink)]))).toEqual({
      web: 'local',
      'reload-nginx': 'local',
      alb: 'shared',
    });
  });

  it('the drop-in loads every credential the configs read', () => {
    const dropIn = readFileSync(path.join(DIR, 'certkeeper.service.d/database.conf'), 'utf8');
    const loaded = [...dropIn.matchAll(/^LoadCredential=([^:]+):(\S+)$/gm)].map((m) => [m[1], m[2]]);
    expect(loaded).toEqual([
      ['database-url', '/etc/certkeeper/credentials/database-url'],
      ['state-key', '/etc/certkeeper/credentials/state-key'],
    ]);
    const config = readFileSync(path.join(DIR, 'host-a/certkeeper.yaml'), 'utf8');
    const read = [...config.matchAll(/\$\{CREDENTIALS_DIRECTORY\}\/([a-z-]+)/g)].map((m) => m[1]).sort();
    // `tsig` comes from examples/systemd/certkeeper.service itself.
    expect(read).toEqual(['database-url', 'state-key', 'tsig']);
    expect(readFileSync(path.join(REPO, 'examples/systemd/certkeeper.service'), 'utf8')).toMatch(/^LoadCredential=tsig:/m);
  });

  it('the README sets up what the configs and the drop-in expect', () => {
    const readme = readFileSync(path.join(DIR, 'README.md'), 'utf8');
    expect(readme).toContain('CREATE DATABASE certkeeper OWNER certkeeper;');
    expect(readme).toContain('sudo install -m 0600 database-url state-key /etc/certkeeper/credentials/');
    expect(readme).toContain('openssl rand -base64 32 > state-key');
    for (const file of ['host-a/certkeeper.yaml', 'host-b/certkeeper.yaml', 'certkeeper.service.d/database.conf']) expect(readme).toContain(`(${file})`);
  });
});
