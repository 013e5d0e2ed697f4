// `certkeeper probe` (no config at all) and `certkeeper verify` / `status`, through the compiled CLI
// against loopback TLS servers.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { makeCertificate, testCa } from '../../helpers/certs.js';
import { runCli } from '../../helpers/cli.js';
import { openFileStore } from '../../helpers/state.js';
import { startSilentServer, startTlsServer, type TestServer } from '../../helpers/tls-server.js';

const DAY = 86_400_000;
const servers: TestServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});
async function keep<T extends TestServer>(server: Promise<T>): Promise<T> {
  const started = await server;
  servers.push(started);
  return started;
}

function scratch(): { dir: string; ca: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-probe-cli-'));
  const ca = path.join(dir, 'ca.pem');
  writeFileSync(ca, testCa().certPem);
  return { dir, ca };
}

describe('certkeeper probe', () => {
  it('works with no config file at all: a healthy endpoint exits 0', async () => {
    const { dir, ca } = scratch();
    const server = await keep(startTlsServer(makeCertificate({ domains: ['www.example.test'], serial: '5EED' })));
    const result = await runCli(['probe', server.address, '--sni', 'www.example.test', '--ca-bundle', ca], { cwd: dir });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ENDPOINT\s+STATUS\s+DAYS LEFT/);
    expect(result.stdout).toContain('5EED');
    expect(result.stdout).toContain('certkeeper test CA');
  });

  it('exits 1 when any endpoint fails a check: expired, wrong name, never answers', async () => {
    const { dir, ca } = scratch();
    const expired = await keep(
      startTlsServer(makeCertificate({ domains: ['www.example.test'], notBefore: new Date(Date.now() - 90 * DAY), notAfter: new Date(Date.now() - DAY) })),
    );
    const wrongName = await keep(startTlsServer(makeCertificate({ domains: ['other.example.test'] })));
    const silent = await keep(startSilentServer());
    const result = await runCli(
      ['probe', expired.address, wrongName.address, silent.address, '--sni', 'www.example.test', '--ca-bundle', ca, '--timeout', '3s', '--json'],
      { cwd: dir },
    );
    expect(result.code).toBe(1);
    const rows = JSON.parse(result.stdout) as { address: string; ok: boolean; problems: string[]; failure: string | null }[];
    expect(rows.map((r) => [r.ok, r.problems])).toEqual([
      [false, ['expired']],
      [false, ['name-mismatch']],
      [false, ['unreachable']],
    ]);
    expect(rows[2]!.failure).toBe('timeout');
  });

  it('usage errors exit 2: a bad endpoint, or nothing to probe and no config', async () => {
    const { dir } = scratch();
    expect((await runCli(['probe', 'not an endpoint'], { cwd: dir })).code).toBe(2);
    expect((await runCli(['probe', '--config', path.join(dir, 'missing.yaml')], { cwd: dir })).code).toBe(2);
    expect((await runCli(['probe', 'a.example.test:443', '--protocol', 'gopher'], { cwd: dir })).code).toBe(2);
  });
});

describe('certkeeper verify and status', () => {
  it('checks that verify: endpoints serve the stored certificate, records it, and status shows serving', async () => {
    const { dir } = scratch();
    const current = makeCertificate({ domains: ['www.example.test'], serial: '0C0FFEE0' });
    const server = await keep(startTlsServer(makeCertificate({ domains: ['www.example.test'], serial: '01D0' })));
    const config = path.join(dir, 'certkeeper.yaml');
    writeFileSync(
      config,
      `stateDir: ./state
acme: { directory: "https://ca.test/directory" }
dns: { corp: { type: exec, command: ["/bin/true"] } }
certificates:
  - { name: www, domains: [www.example.test], dns: corp, verify: [{ address: "${server.address}", sni: www.example.test }] }
  - { name: other, domains: [other.example.test], dns: corp }
`,
    );
    const store = await openFileStore(path.join(dir, 'state'), systemClock);
    await store.putCertificate('www', current, { directoryUrl: 'https://ca.test/directory', issuedAt: new Date() });

    const stale = await runCli(['--config', config, 'verify', '--json']);
    expect(stale.code).toBe(1);
    expect(JSON.parse(stale.stdout)).toMatchObject([{ cert: 'www', ok: false, serving: 'old', endpoints: [{ servedSerial: '1D0' }] }]);
    const status = await runCli(['--config', config, 'status', '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject([
      { name: 'www', serving: 'old' },
      { name: 'other', serving: null },
    ]);

    (server as Awaited<ReturnType<typeof startTlsServer>>).serve(current);
    const fresh = await runCli(['--config', config, 'verify', '--cert', 'www']);
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).toMatch(/www\s+127\.0\.0\.1:\d+\s+new\s+C0FFEE0/);
    const history = await runCli(['--config', config, 'history', 'www', '--json']);
    expect((JSON.parse(history.stdout) as { action: string; result: string }[]).map((e) => `${e.action}:${e.result}`)).toEqual([
      'verify:success',
      'verify:failure',
    ]);

    expect((await runCli(['--config', config, 'verify', '--cert', 'other'])).code).toBe(2);
  });
});
