// `certkeeper doctor` names what the first deploy of a files sink would refuse, before any renewal:
// a real folder or a foreign symlink at the target (SINK_TARGET_EXISTS), a symlinked versions
// folder (UNSAFE_PATH). The CA and DNS are unreachable on purpose (closed loopback ports): only
// the sink lines are looked at, and nothing is written anywhere.

import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { publishFileSet } from '../../../src/core/file-set.js';
import { freePort } from '../../../src/devstack/ports.js';
import { runCli } from '../../helpers/cli.js';

interface Line {
  name: string;
  status: 'pass' | 'warn' | 'fail';
  message: string;
  cert?: string;
}

async function setup(): Promise<{ dir: string; config: string; out: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-doctor-sink-'));
  const out = path.join(dir, 'out');
  mkdirSync(out);
  const port = await freePort();
  const config = path.join(dir, 'certkeeper.yaml');
  writeFileSync(
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
  nginx:
    type: files
    dir: ./out/{cert}
certificates:
  - { name: www, domains: [www.example.test], dns: hook, sinks: [nginx] }
  - { name: api, domains: [api.example.test], dns: hook, sinks: [nginx] }
  - { name: shop, domains: [shop.example.test], dns: hook, sinks: [nginx] }
  - { name: blog, domains: [blog.example.test], dns: hook, sinks: [nginx] }
`,
  );
  return { dir, config, out };
}

async function sinkLines(config: string): Promise<Map<string, Line>> {
  const result = await runCli(['--config', config, 'doctor', '--json']);
  const report = JSON.parse(result.stdout) as { checks: Line[] };
  return new Map(report.checks.filter((c) => c.name === 'sink').map((c) => [c.cert!, c]));
}

describe('certkeeper doctor: files sink targets', () => {
  it('reports SINK_TARGET_EXISTS and UNSAFE_PATH before the first renewal, and passes a target certkeeper manages', async () => {
    const { dir, config, out } = await setup();
    // www: the sink dir points at an existing real folder (say /etc/nginx by mistake).
    mkdirSync(path.join(out, 'www'));
    writeFileSync(path.join(out, 'www', 'nginx.conf'), 'server {}\n');
    // api: a symlink elsewhere sits at the target.
    mkdirSync(path.join(dir, 'elsewhere'));
    symlinkSync('../elsewhere', path.join(out, 'api'));
    // shop: a planted symlink where the versions folder goes.
    symlinkSync(path.join(dir, 'elsewhere'), path.join(out, '.shop.versions'));
    // blog: deployed before, by certkeeper.
    await publishFileSet(path.join(out, 'blog'), [{ name: 'cert.pem', data: 'x', mode: 0o644 }], { label: 'AB' });

    const lines = await sinkLines(config);

    expect(lines.get('www')).toMatchObject({ status: 'fail', message: expect.stringContaining('SINK_TARGET_EXISTS') });
    expect(lines.get('www')!.message).toContain(`${path.join(out, 'www')} already exists (a folder)`);
    expect(lines.get('api')).toMatchObject({ status: 'fail', message: expect.stringContaining('SINK_TARGET_EXISTS') });
    expect(lines.get('api')!.message).toContain('a symlink to ../elsewhere');
    expect(lines.get('shop')).toMatchObject({ status: 'fail', message: expect.stringContaining('UNSAFE_PATH') });
    expect(lines.get('shop')!.message).toContain(path.join(out, '.shop.versions'));
    expect(lines.get('blog')).toMatchObject({ status: 'pass' });
    // The doctor changed nothing.
    expect(readdirSync(path.join(out, 'www'))).toEqual(['nginx.conf']);
    expect(existsSync(path.join(dir, 'state'))).toBe(false);
  });
});
