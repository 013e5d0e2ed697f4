// `certkeeper run` as operators run it: a separate process against real Pebble + BIND, with
// short-lived certificates so it has to renew on its own, its HTTP endpoint, signals and a
// webhook receiver on loopback.

import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBind, type BindServer } from '../../../src/devstack/bind.js';
import { freePort } from '../../../src/devstack/ports.js';
import { startStack, type Stack } from '../../../src/devstack/stack.js';
import { parseCertificate } from '../../../src/core/x509.js';
import { CLI, history, orders, runCli, txtAt, workDir, writeConfig } from '../../helpers/cli.js';
import { killDaemons, startDaemon, startReceiver, until } from '../../helpers/daemon.js';

const VALIDITY_SECONDS = 20;
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ pebble: { validityPeriodSeconds: VALIDITY_SECONDS } });
});
afterEach(killDaemons);
afterAll(async () => {
  await stack?.stop();
});

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return (await response.json()) as T;
}

/** A DNS hook that fails to present while `<dir>/dns-broken` exists (credentials expired, say) and works through BIND otherwise. */
function writeFlakyDnsHook(dir: string): void {
  writeFileSync(
    path.join(dir, 'dns-hook.mjs'),
    `import { existsSync } from 'node:fs';
import { createRfc2136Provider } from ${JSON.stringify(path.resolve(CLI, '../../dns/providers/rfc2136/index.js'))};
import { systemClock } from ${JSON.stringify(path.resolve(CLI, '../../core/clock.js'))};
import { silentLogger } from ${JSON.stringify(path.resolve(CLI, '../../core/logger.js'))};
const e = process.env;
if (existsSync(e.MARKER) && e.CERTKEEPER_ACTION === 'present') { console.error('DNS API said 401'); process.exit(1); }
const provider = createRfc2136Provider({ type: 'rfc2136', server: e.BIND, tsigKeyName: e.TSIG_NAME, tsigAlgorithm: 'hmac-sha256', tsigSecret: e.TSIG_SECRET, ttl: 60, timeout: 5000 }, { name: 'hook', clock: systemClock, logger: silentLogger });
const record = { fqdn: e.CERTKEEPER_FQDN, value: e.CERTKEEPER_VALUE, domain: e.CERTKEEPER_DOMAIN };
if (e.CERTKEEPER_ACTION === 'present') await provider.presentTxt(record); else await provider.cleanupTxt(record);
`,
  );
}

/** The exec DNS provider running writeFlakyDnsHook's script. */
function flakyDnsProvider(dir: string): string {
  return `  hook:
    type: exec
    command: [${JSON.stringify(process.execPath)}, ./dns-hook.mjs]
    env: { MARKER: ${JSON.stringify(path.join(dir, 'dns-broken'))}, BIND: "${stack.bind.address}", TSIG_NAME: "${stack.bind.tsig.keyName}", TSIG_SECRET: "${stack.bind.tsig.secret}" }
    propagation: { nameservers: ["${stack.bind.address}"], timeout: 20s, interval: 200ms }`;
}

describe('certkeeper run', () => {
  it('renews short-lived certificates on its own, more than once, and reports it on /metrics and /status', async () => {
    const dir = workDir(stack);
    const port = await freePort();
    const config = writeConfig(dir, stack, {
      extra: `http: { listen: "127.0.0.1:${port}" }\nbackoff: [1s, 2s]`,
      certificates: `  - { name: auto, domains: [auto.example.test, "*.auto.example.test"], dns: bind, sinks: [files], renewBefore: 50% }
  - { name: other, domains: [other-auto.example.test], dns: bind, sinks: [files], renewBefore: 50% }`,
    });
    const daemon = startDaemon(config);
    const base = `http://127.0.0.1:${port}`;
    await until('/healthz', async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined), 20_000, daemon);

    // Issued at start, then renewed twice more, with no command.
    await until(
      'two renewals of each certificate',
      async () => {
        const lines = orders(await history(config));
        const count = (name: string): number => lines.filter((l) => l.cert === name && l.result === 'success').length;
        return count('auto') >= 3 && count('other') >= 3 ? true : undefined;
      },
      VALIDITY_SECONDS * 2500,
      daemon,
    );

    const metrics = await (await fetch(`${base}/metrics`)).text();
    const renewals = Number(/certkeeper_renewals_total\{name="auto",result="success"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    expect(renewals).toBeGreaterThanOrEqual(3);
    expect(metrics).toMatch(/certkeeper_certificate_expiration_timestamp_seconds\{name="auto",issuer="default"\} \d+/);
    expect(metrics).toMatch(/certkeeper_certificate_ready\{name="other",issuer="default"\} 1/);
    expect(metrics).toContain('process_resident_memory_bytes');

    const status = await getJson<{ name: string; state: string; serial: string }[]>(`${base}/status`);
    expect(status.map((row) => [row.name, row.state])).toEqual([
      ['auto', 'valid'],
      ['other', 'valid'],
    ]);
    const readyz = await fetch(`${base}/readyz`);
    expect(readyz.status).toBe(200);
    expect(Number(/certkeeper_acme_requests_total\{result="success"\} (\d+)/.exec(metrics)?.[1] ?? 0)).toBeGreaterThan(10);
    // The latency and health series behind the dashboard's ACME, DNS and store panels: each order's
    // steps timed under their ACME resource, the BIND zone's batched writes and propagation checks
    // counted, the file store's calls counted and up, and never a URL as a label value.
    const count = (pattern: RegExp): number => Number(pattern.exec(metrics)?.[1] ?? 0);
    expect(count(/certkeeper_acme_request_duration_seconds_count\{endpoint="newOrder",status="2xx"\} (\d+)/)).toBeGreaterThanOrEqual(6);
    expect(count(/certkeeper_acme_request_duration_seconds_count\{endpoint="finalize",status="2xx"\} (\d+)/)).toBeGreaterThanOrEqual(6);
    expect(count(/certkeeper_acme_request_duration_seconds_count\{endpoint="certificate",status="2xx"\} (\d+)/)).toBeGreaterThanOrEqual(6);
    expect(count(/certkeeper_dns_requests_total\{provider_type="rfc2136",operation="batch_present",result="success"\} (\d+)/)).toBeGreaterThan(0);
    expect(count(/certkeeper_dns_requests_total\{provider_type="rfc2136",operation="propagation",result="success"\} (\d+)/)).toBeGreaterThan(0);
    expect(count(/certkeeper_dns_request_duration_seconds_count\{provider_type="rfc2136",operation="batch_cleanup"\} (\d+)/)).toBeGreaterThan(0);
    expect(count(/certkeeper_store_operations_total\{backend="file",operation="put",result="success"\} (\d+)/)).toBeGreaterThan(0);
    expect(metrics).toContain('certkeeper_store_up{backend="file"} 1');
    expect(metrics.split('\n').filter((line) => line.startsWith('certkeeper_') && line.includes('://'))).toEqual([]);

    // `certkeeper reload`: a broken config is rejected and the running one stays ...
    const parts = {
      extra: `http: { listen: "127.0.0.1:${port}" }\nbackoff: [1s, 2s]`,
      certificates: `  - { name: auto, domains: [auto.example.test, "*.auto.example.test"], dns: bind, sinks: [files], renewBefore: 50% }
  - { name: other, domains: [other-auto.example.test], dns: bind, sinks: [files], renewBefore: 50% }`,
    };
    writeConfig(dir, stack, { ...parts, certificates: `${parts.certificates}\n  - { name: broken, domains: [x.example.test], dns: nowhere }` });
    const rejected = await runCli(['--config', config, 'reload']);
    expect(rejected.code).toBe(2); // the CLI validates the file before it asks the agent
    expect(rejected.stderr).toContain('no DNS provider named "nowhere"');
    expect((await fetch(`${base}/healthz`)).ok).toBe(true);
    // ... and a good one is applied: the new certificate is issued without a restart.
    writeConfig(dir, stack, { ...parts, certificates: `${parts.certificates}\n  - { name: added, domains: [added.example.test], dns: bind, sinks: [files] }` });
    const reloaded = await runCli(['--config', config, 'reload']);
    expect(reloaded.stdout).toBe('reloaded\n');
    await until(
      'the added certificate',
      async () => ((await getJson<{ name: string; state: string }[]>(`${base}/status`)).find((r) => r.name === 'added')?.state === 'valid' ? true : undefined),
      20_000,
      daemon,
    );

    // SIGHUP re-reads the config too (systemctl reload).
    writeConfig(dir, stack, {
      ...parts,
      certificates: `${parts.certificates}\n  - { name: added, domains: [added.example.test], dns: bind, sinks: [files] }\n  - { name: hupped, domains: [hupped.example.test], dns: bind, sinks: [files] }`,
    });
    daemon.child.kill('SIGHUP');
    await until(
      'the certificate added before SIGHUP',
      async () => ((await getJson<{ name: string; state: string }[]>(`${base}/status`)).find((r) => r.name === 'hupped')?.state === 'valid' ? true : undefined),
      20_000,
      daemon,
    );

    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);
  });

  it('on SIGTERM mid-order abandons it cleanly: no TXT record, no partial files, exit within the timeout', async () => {
    // certkeeper writes to the stack's BIND but waits for propagation on a second BIND that
    // never sees the record: the order hangs in the DNS step until the signal.
    const elsewhere: BindServer = await startBind({ zones: [{ name: 'example.test' }] });
    try {
      const dir = workDir(stack);
      const config = writeConfig(dir, stack, {
        extra: 'shutdownTimeout: 3s',
        dns: `  stuck:
    type: rfc2136
    server: ${stack.bind.address}
    tsigKeyName: ${stack.bind.tsig.keyName}
    tsigSecretFile: ./tsig.secret
    propagation: { nameservers: ["${elsewhere.address}"], timeout: 120s, interval: 200ms }`,
        certificates: `  - { name: stuck, domains: [stuck.example.test, "*.stuck.example.test"], dns: stuck, sinks: [files] }`,
      });
      const daemon = startDaemon(config);
      // Wait until both values are in the zone (the order is mid-flight).
      await until(
        'the challenge records',
        async () => ((await txtAt(stack.bind.address, '_acme-challenge.stuck.example.test')).length === 2 ? true : undefined),
        20_000,
        daemon,
      );
      const signalled = Date.now();
      daemon.child.kill('SIGTERM');
      expect(await daemon.exited).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(8_000);
      expect(await txtAt(stack.bind.address, '_acme-challenge.stuck.example.test')).toEqual([]);
      expect(existsSync(path.join(dir, 'out'))).toBe(false);
      expect(existsSync(path.join(dir, 'state/store/certs/stuck/current'))).toBe(false);
      // Abandoned at shutdown is not the certificate's failure: no backoff was recorded.
      const [last] = await history(config, 'stuck');
      expect(last).toMatchObject({ action: 'issue', result: 'failure', code: 'CANCELLED' });
      expect(existsSync(path.join(dir, 'state/store/certs/stuck/record'))).toBe(false);
      expect(existsSync(path.join(dir, 'state/store/locks/cert/stuck'))).toBe(false);
      expect(daemon.output()).toContain('aborting');
    } finally {
      await elsewhere.stop();
    }
  });

  it('alerts a webhook on failure and sends a recovery message when it succeeds again', async () => {
    const { received, receiver, hookPort } = await startReceiver();
    try {
      const dir = workDir(stack);
      const marker = path.join(dir, 'dns-broken');
      writeFileSync(marker, '');
      // A DNS hook that fails while the marker exists (credentials expired, say), then works.
      writeFlakyDnsHook(dir);
      const config = writeConfig(dir, stack, {
        extra: `backoff: [1s]\nnotify:\n  ops:\n    type: webhook\n    url: "http://127.0.0.1:${hookPort}/alerts"\n    events: [failed, recovered]`,
        dns: flakyDnsProvider(dir),
        certificates: `  - { name: flaky, domains: [flaky-daemon.example.test], dns: hook, sinks: [files] }`,
      });
      const daemon = startDaemon(config);
      await until('a failure alert', async () => (received.some((e) => e.type === 'failed') ? true : undefined), 20_000, daemon);
      expect(received[0]).toMatchObject({ type: 'failed', cert: 'flaky', severity: 'warning' });
      expect(received[0]!.message).toContain('DNS API said 401');
      rmSync(marker);
      await until('a recovery message', async () => (received.some((e) => e.type === 'recovered') ? true : undefined), 20_000, daemon);
      expect(received.at(-1)).toMatchObject({ type: 'recovered', cert: 'flaky' });
      // Repeats of the same failure while backing off were not all sent (rate limit).
      const failures = received.filter((e) => e.type === 'failed').length;
      expect(failures).toBeGreaterThanOrEqual(1);
      expect(failures).toBeLessThanOrEqual(2);
      daemon.child.kill('SIGTERM');
      expect(await daemon.exited).toBe(0);
      // The outbox and what was delivered are saved for the next start (and for doctor), as this agent's data in the store.
      const saved = JSON.parse(readFileSync(path.join(dir, 'state', 'store', 'agents', hostname(), 'notify'), 'utf8')) as {
        version: number;
        targets: Record<string, { lastDeliveredAt?: string; queue: unknown[]; open: Record<string, unknown> }>;
      };
      expect(saved.version).toBe(2);
      expect(saved.targets.ops).toMatchObject({ queue: [], open: {} });
      expect(saved.targets.ops!.lastDeliveredAt).toBeDefined();
    } finally {
      receiver.close();
    }
  });

  it('ends an expiry it could not prevent with a delivered expired alert', async () => {
    const { received, receiver, hookPort } = await startReceiver();
    try {
      const dir = workDir(stack);
      const config = writeConfig(dir, stack, {
        extra: `backoff: [1s]\nnotify:\n  ops:\n    type: webhook\n    url: "http://127.0.0.1:${hookPort}/alerts"\n    events: [failed, expiring, expired]\n    minSeverity: info`,
        certificates: `  - { name: doomed, domains: [doomed-daemon.example.test], dns: bind, sinks: [files] }`,
      });
      const daemon = startDaemon(config);
      // Issued while the CA answers; then the CA is gone for good (the config reloaded onto a port
      // nothing listens on: a reused authorization cannot save a renewal then), and every renewal
      // of the 20-second certificate fails.
      await until('the first certificate', async () => (existsSync(path.join(dir, 'out/doomed/cert.pem')) ? true : undefined), 20_000, daemon);
      writeFileSync(config, readFileSync(config, 'utf8').replace(stack.pebble.directoryUrl, `https://127.0.0.1:${await freePort()}/dir`));
      daemon.child.kill('SIGHUP');
      const notAfter = parseCertificate(readFileSync(path.join(dir, 'out/doomed/cert.pem'), 'utf8')).notAfter;
      await until('an expired alert', async () => (received.some((e) => e.type === 'expired') ? true : undefined), VALIDITY_SECONDS * 1000 + 20_000, daemon);
      const expired = received.find((e) => e.type === 'expired')!;
      expect(expired).toMatchObject({ cert: 'doomed', severity: 'critical' });
      expect(Date.now()).toBeGreaterThanOrEqual(notAfter.getTime());
      // The last word is that it expired, not "expires in 0 h".
      expect(received.filter((e) => e.type === 'expired')).toHaveLength(1);
      expect(received.indexOf(expired)).toBe(received.length - 1);
      daemon.child.kill('SIGTERM');
      expect(await daemon.exited).toBe(0);
    } finally {
      receiver.close();
    }
  });
});
