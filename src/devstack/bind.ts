// A throw-away BIND for tests and the demo: authoritative-only on a free loopback port, zones
// that accept TSIG-signed updates, everything in a temp dir removed by stop().

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { systemClock } from '../core/clock.js';
import { query } from '../dns/wire/client.js';
import { RCODE, normalizeName } from '../dns/wire/message.js';
import type { TsigAlgorithm } from '../dns/wire/tsig.js';
import { ensurePackages } from './packages.js';
import { freePort } from './ports.js';

export const NAMED_BINARY = '/usr/sbin/named';

export interface BindZoneSpec {
  /** Zone apex, e.g. `example.test`. */
  name: string;
  /** Extra lines in zone-file syntax, relative to the apex, e.g. `_acme-challenge.app CNAME x.other.test.`. */
  records?: string[];
}

export interface BindTsig {
  keyName: string;
  algorithm: TsigAlgorithm;
  /** Base64. */
  secret: string;
}

export interface StartBindOptions {
  zones: BindZoneSpec[];
  tsig?: Partial<BindTsig>;
  /** How long named may take to answer its first SOA query (default 15 s). */
  startTimeoutMs?: number;
}

export interface BindServer {
  host: string;
  port: number;
  /** `127.0.0.1:P`, for rfc2136 `server`, propagation nameservers and Pebble's `-dnsserver`. */
  address: string;
  tsig: BindTsig;
  zones: string[];
  /** The temp dir holding named.conf, zone files and journals. */
  dir: string;
  stop(): Promise<void>;
}

const STOP_GRACE_MS = 3000;

function zoneFile(zone: string, records: string[]): string {
  return [`$ORIGIN ${zone}.`, '$TTL 60', '@ IN SOA ns1 hostmaster 1 3600 600 86400 60', '@ IN NS ns1', 'ns1 IN A 127.0.0.1', ...records, ''].join('\n');
}

/** A local root: named answers NXDOMAIN for anything outside the test zones instead of asking the Internet. */
const ROOT_ZONE = ['$TTL 60', '. IN SOA ns. hostmaster. 1 3600 600 86400 60', '. IN NS ns.', 'ns. IN A 127.0.0.1', ''].join('\n');

function namedConf(dir: string, port: number, tsig: BindTsig, zones: string[]): string {
  const quoted = (text: string): string => JSON.stringify(text);
  return [
    'options {',
    `  directory ${quoted(dir)};`,
    `  pid-file ${quoted(path.join(dir, 'named.pid'))};`,
    `  session-keyfile ${quoted(path.join(dir, 'session.key'))};`,
    `  managed-keys-directory ${quoted(dir)};`,
    `  listen-on port ${port} { 127.0.0.1; };`,
    '  listen-on-v6 { none; };',
    // Recursion for loopback only, so a resolver query that meets a CNAME into another of
    // these zones is chased (as a CA's resolver does for delegated validation zones). The
    // root zone is served locally, so named never primes root hints or leaves the machine.
    '  recursion yes;',
    '  allow-recursion { 127.0.0.1; };',
    '  minimal-responses no;',
    '  dnssec-validation no;',
    '  notify no;',
    '  allow-transfer { none; };',
    '};',
    'controls { };',
    `zone "." { type primary; file ${quoted(path.join(dir, 'root.zone'))}; };`,
    `key ${quoted(tsig.keyName)} { algorithm ${tsig.algorithm}; secret ${quoted(tsig.secret)}; };`,
    ...zones.map(
      (zone) => `zone ${quoted(zone)} { type primary; file ${quoted(path.join(dir, `${zone}.zone`))}; allow-update { key ${quoted(tsig.keyName)}; }; };`,
    ),
    '',
  ].join('\n');
}

/** Starts named in the foreground and resolves once it answers an SOA query for the first zone. */
export async function startBind(options: StartBindOptions): Promise<BindServer> {
  ensurePackages([{ binary: NAMED_BINARY, debianPackage: 'bind9' }]);
  if (options.zones.length === 0) throw new Error('startBind needs at least one zone');
  const zones = options.zones.map((zone) => normalizeName(zone.name));
  const tsig: BindTsig = {
    keyName: options.tsig?.keyName ?? 'certkeeper-test',
    algorithm: options.tsig?.algorithm ?? 'hmac-sha256',
    secret: options.tsig?.secret ?? randomBytes(32).toString('base64'),
  };
  const dir = await mkdtemp(path.join(tmpdir(), 'certkeeper-bind-'));
  try {
    for (const [i, spec] of options.zones.entries()) await writeFile(path.join(dir, `${zones[i]}.zone`), zoneFile(zones[i]!, spec.records ?? []));
    await writeFile(path.join(dir, 'root.zone'), ROOT_ZONE);
    // Another process may grab the free port before named binds it: try a few.
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort({ udp: true });
      const confPath = path.join(dir, 'named.conf');
      await writeFile(confPath, namedConf(dir, port, tsig, zones));
      try {
        const child = await launch(confPath, port, zones[0]!, options.startTimeoutMs ?? 15_000);
        return server(child, dir, port, tsig, zones);
      } catch (error) {
        lastError = error;
        if (!/address in use/i.test(String((error as Error).message))) break;
      }
    }
    throw lastError;
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function launch(confPath: string, port: number, firstZone: string, timeoutMs: number): Promise<ChildProcess> {
  // -g: foreground, log to stderr; -4: no IPv6 sockets; -n 1: one worker is plenty for tests.
  const child = spawn(NAMED_BINARY, ['-g', '-4', '-n', '1', '-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-20_000);
  });
  let exited: string | undefined;
  child.on('exit', (code, signal) => {
    exited = code === null ? `was killed by ${signal}` : `exited with status ${code}`;
  });
  child.on('error', (error) => {
    exited = `could not start: ${error.message}`;
  });
  const deadline = systemClock.now().getTime() + timeoutMs;
  while (exited === undefined && systemClock.now().getTime() < deadline) {
    try {
      const response = await query(`127.0.0.1:${port}`, firstZone, 'SOA', { timeoutMs: 500 });
      if (response.rcode === RCODE.NOERROR && response.answers.some((record) => record.type === 'SOA')) return child;
    } catch {
      // not listening yet
    }
    await systemClock.sleep(100);
  }
  if (exited === undefined) await killAndWait(child);
  const why = exited ?? `did not answer an SOA query for ${firstZone} within ${timeoutMs} ms`;
  throw new Error(`named ${why}; its output:\n${stderr.trim().split('\n').slice(-30).join('\n')}`);
}

function server(child: ChildProcess, dir: string, port: number, tsig: BindTsig, zones: string[]): BindServer {
  // If the test process dies without stop(), do not leave named running.
  const onExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', onExit);
  let stopped: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    tsig,
    zones,
    dir,
    stop() {
      stopped ??= (async () => {
        process.removeListener('exit', onExit);
        await killAndWait(child);
        await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

/** SIGTERM, then SIGKILL after a grace period; resolves when the process has exited. */
function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
