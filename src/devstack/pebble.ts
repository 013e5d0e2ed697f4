// A local Pebble (test ACME CA) for tests and the demo: its own HTTPS identity generated with
// openssl, free loopback ports, DNS-01 lookups sent to the DNS server we name, and a stop()
// that ends exactly the process it started and removes its temporary directory.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensurePackages } from './packages.js';
import { freePort } from './ports.js';
import { writeLocalTls } from './tls.js';

export interface PebbleEab {
  kid: string;
  /** base64url HMAC key, as a CA would hand it out. */
  hmacKey: string;
}

export interface PebbleOptions {
  /** `host:port` of the DNS server Pebble asks for `_acme-challenge` TXT records. */
  dnsServer: string;
  /** Lifetime of issued certificates (Pebble's `certificateValidityPeriod`); default 5 years. */
  validityPeriodSeconds?: number;
  /** When given, Pebble requires external account binding and accepts these keys. */
  eab?: PebbleEab | PebbleEab[];
  /**
   * Percentage of authorizations Pebble reuses (`PEBBLE_AUTHZREUSE`); Pebble's default is 50. Even
   * 0 reuses an existing valid one 1% of the time (Pebble 2.4 tests `rand.Intn(100) > percent`).
   */
  authzReusePercent?: number;
  /** Extra environment; wins over the calm defaults (`PEBBLE_VA_NOSLEEP=1`, `PEBBLE_WFE_NONCEREJECT=0`). */
  env?: Record<string, string>;
  /** How long to wait for the directory to answer (ms); default 20 s. */
  startTimeoutMs?: number;
  /** Receives Pebble's output lines (stdout and stderr), e.g. for debugging a test. */
  onOutput?: (line: string) => void;
}

export interface PebbleInstance {
  directoryUrl: string;
  /** PEM of the CA that signed Pebble's HTTPS certificate: what a client must trust to talk to it. */
  caBundlePem: string;
  /** Base URL of the management interface (HTTPS, same identity). */
  managementUrl: string;
  /** The root that issued certificates chain up to (Pebble makes a new one at every start). */
  rootsPem(): Promise<string>;
  /** The process id, for diagnostics. */
  readonly pid: number;
  stop(): Promise<void>;
}

const PEBBLE_BINARY = '/usr/bin/pebble';

export async function startPebble(options: PebbleOptions): Promise<PebbleInstance> {
  ensurePackages([
    { binary: PEBBLE_BINARY, debianPackage: 'pebble' },
    { binary: '/usr/bin/openssl', debianPackage: 'openssl' },
  ]);
  const dir = await mkdtemp(path.join(tmpdir(), 'certkeeper-pebble-'));
  try {
    const tls = await writeLocalTls(dir, { caName: 'certkeeper devstack Pebble HTTPS CA', days: 30 });
    const [listenPort, managementPort, httpPort, tlsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const eabKeys = options.eab === undefined ? [] : Array.isArray(options.eab) ? options.eab : [options.eab];

    const config: Record<string, unknown> = {
      listenAddress: `127.0.0.1:${listenPort}`,
      managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: tls.certPath,
      privateKey: tls.keyPath,
      // Pebble's HTTP-01 and TLS-ALPN-01 validators dial these; unused by DNS-01 but must not
      // collide with anything else on a shared machine.
      httpPort,
      tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: eabKeys.length > 0,
    };
    if (eabKeys.length > 0) config.externalAccountMACKeys = Object.fromEntries(eabKeys.map((k) => [k.kid, k.hmacKey]));
    if (options.validityPeriodSeconds !== undefined) config.certificateValidityPeriod = options.validityPeriodSeconds;
    const configPath = path.join(dir, 'pebble-config.json');
    await writeFile(configPath, JSON.stringify({ pebble: config }, null, 2));

    // Only what we set: a developer's own PEBBLE_* variables must not change test behaviour.
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      PEBBLE_VA_NOSLEEP: '1',
      PEBBLE_WFE_NONCEREJECT: '0',
      ...(options.authzReusePercent === undefined ? {} : { PEBBLE_AUTHZREUSE: String(options.authzReusePercent) }),
      ...options.env,
    };
    const child = spawn(PEBBLE_BINARY, ['-config', configPath, '-dnsserver', options.dnsServer], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = collectOutput(child, options.onOutput);

    const directoryUrl = `https://127.0.0.1:${listenPort}/dir`;
    const managementUrl = `https://127.0.0.1:${managementPort}`;
    try {
      await waitUntilAnswering(directoryUrl, tls.caPem, child, options.startTimeoutMs ?? 20_000);
    } catch (error) {
      await killProcess(child);
      throw new Error(`pebble did not start: ${(error as Error).message}\n${output.tail()}`, { cause: error });
    }

    // If the owning process dies without stop(), do not leave Pebble running.
    const onExit = (): void => {
      child.kill('SIGKILL');
    };
    process.once('exit', onExit);
    let stopped: Promise<void> | undefined;
    return {
      directoryUrl,
      caBundlePem: tls.caPem,
      managementUrl,
      pid: child.pid ?? -1,
      rootsPem: async () => {
        const { status, body } = await httpsGet(`${managementUrl}/roots/0`, tls.caPem);
        if (status !== 200) throw new Error(`pebble /roots/0 answered ${status}`);
        return body;
      },
      stop: () => {
        stopped ??= (async () => {
          process.removeListener('exit', onExit);
          await killProcess(child);
          await rm(dir, { recursive: true, force: true });
        })();
        return stopped;
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** A random EAB HMAC key in the form CAs hand out (base64url, 256 bits). */
export function randomEabHmacKey(): string {
  return randomBytes(32).toString('base64url');
}

function collectOutput(child: ChildProcess, onOutput?: (line: string) => void): { tail(): string } {
  const lines: string[] = [];
  const take = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      lines.push(line);
      if (lines.length > 50) lines.shift();
      onOutput?.(line);
    }
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  return { tail: () => lines.join('\n') };
}

async function waitUntilAnswering(url: string, caPem: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`process exited (code ${child.exitCode ?? child.signalCode})`);
    }
    try {
      const { status } = await httpsGet(url, caPem);
      if (status === 200) return;
      lastError = new Error(`directory answered ${status}`);
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no answer from ${url} within ${timeoutMs} ms: ${(lastError as Error | undefined)?.message ?? ''}`);
}

function httpsGet(url: string, caPem: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = https.get(url, { ca: caPem, timeout: 5_000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`timeout fetching ${url}`)));
    request.on('error', reject);
  });
}

/** SIGTERM this one process, SIGKILL if it lingers; resolves once it has exited. */
export function killProcess(child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
