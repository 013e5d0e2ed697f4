// pebble-challtestsrv as a throw-away DNS server for tests: free ports, TXT records set and
// cleared through its management API, and a DnsProvider backed by it.

import { spawn } from 'node:child_process';
import type { DnsProvider, TxtRecord } from '../../src/dns/contract.js';
import { killProcess } from '../../src/devstack/pebble.js';
import { freePort } from '../../src/devstack/ports.js';

export interface ChallTestSrv {
  /** `127.0.0.1:port` answering DNS (UDP and TCP). */
  dnsServer: string;
  managementUrl: string;
  /** Appends a TXT value (challtestsrv keeps every value set for a host). */
  setTxt(host: string, value: string): Promise<void>;
  /** Removes every TXT value of a host. */
  clearTxt(host: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startChallTestSrv(): Promise<ChallTestSrv> {
  const dnsPort = await freePort({ udp: true });
  const managementPort = await freePort();
  const child = spawn(
    '/usr/bin/pebble-challtestsrv',
    ['-dns01', `127.0.0.1:${dnsPort}`, '-management', `127.0.0.1:${managementPort}`, '-http01', '', '-https01', '', '-tlsalpn01', ''],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const managementUrl = `http://127.0.0.1:${managementPort}`;

  const post = async (endpoint: string, body: unknown): Promise<void> => {
    const response = await fetch(`${managementUrl}${endpoint}`, { method: 'POST', body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`challtestsrv ${endpoint} answered ${response.status}`);
  };

  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pebble-challtestsrv exited: ${stderr}`);
    try {
      await post('/clear-txt', { host: 'ready.probe.' });
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        await killProcess(child);
        throw new Error(`pebble-challtestsrv did not start: ${stderr}`, { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  return {
    dnsServer: `127.0.0.1:${dnsPort}`,
    managementUrl,
    setTxt: (host, value) => post('/set-txt', { host: fqdnWithDot(host), value }),
    clearTxt: (host) => post('/clear-txt', { host: fqdnWithDot(host) }),
    stop: () => killProcess(child),
  };
}

function fqdnWithDot(name: string): string {
  return name.endsWith('.') ? name : `${name}.`;
}

export interface ChallTestSrvProvider extends DnsProvider {
  /** Every value currently presented through this provider, per name. */
  readonly current: Map<string, string[]>;
  /** Every call, in order, for assertions. */
  readonly calls: { action: 'present' | 'cleanup'; record: TxtRecord }[];
}

/**
 * A DnsProvider writing to challtestsrv. challtestsrv can only clear a whole name, so cleanup
 * clears it and puts back the values other presentations still need: an exact-value removal as
 * the contract asks. `mutateValue` lets a test present a wrong value to make validation fail.
 */
export function challTestSrvProvider(
  server: ChallTestSrv,
  options: { name?: string; mutateValue?: (value: string) => string; propagationNameservers?: string[]; propagationTimeoutMs?: number } = {},
): ChallTestSrvProvider {
  const current = new Map<string, string[]>();
  const calls: ChallTestSrvProvider['calls'] = [];
  const mutate = options.mutateValue ?? ((value: string) => value);
  return {
    name: options.name ?? 'challtestsrv',
    propagationNameservers: options.propagationNameservers ?? [server.dnsServer],
    propagationTimeoutMs: options.propagationTimeoutMs ?? 10_000,
    propagationIntervalMs: 100,
    current,
    calls,
    async presentTxt(record) {
      calls.push({ action: 'present', record });
      const value = mutate(record.value);
      await server.setTxt(record.fqdn, value);
      current.set(record.fqdn, [...(current.get(record.fqdn) ?? []), value]);
    },
    async cleanupTxt(record) {
      calls.push({ action: 'cleanup', record });
      const value = mutate(record.value);
      const values = current.get(record.fqdn) ?? [];
      const index = values.indexOf(value);
      if (index === -1) return;
      values.splice(index, 1);
      await server.clearTxt(record.fqdn);
      for (const rest of values) await server.setTxt(record.fqdn, rest);
      if (values.length === 0) current.delete(record.fqdn);
    },
  };
}
