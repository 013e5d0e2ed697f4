// A certificate lock taken over from a holder whose lease expired (killed, frozen or cut off
// mid-order): the taker removes what the dead holder left in DNS and writes the history line it
// never could, so history accounts for every order the CA saw.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { parseConfig } from '../../../src/config/load.js';
import type { DnsProvider, TxtRecord } from '../../../src/dns/contract.js';
import { challengeLedgerKey } from '../../../src/engine/challenge-ledger.js';
import type { EngineDeps } from '../../../src/engine/contracts.js';
import type { Issuer } from '../../../src/issuers/contract.js';
import { renew } from '../../../src/engine/renew.js';
import type { Sink } from '../../../src/sinks/contract.js';
import { makeCertificate } from '../../helpers/certs.js';
import { ManualClock } from '../../helpers/clock.js';
import { openConfigStore } from '../../helpers/state.js';

const DAY = 86_400_000;

async function harness(options: { tookOver: boolean }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-takeover-'));
  const config = parseConfig(
    `
stateDir: ./state
agent: { id: taker }
acme: { directory: "https://ca.test/directory", email: ops@example.com }
dns: { corp: { type: exec, command: ["/bin/true"] } }
sinks: { reload: { type: exec, command: ["/bin/true"] } }
certificates:
  - { name: www, domains: [www.example.com], dns: corp, sinks: [reload] }
`,
    path.join(dir, 'certkeeper.yaml'),
    { env: {} },
  );
  const clock = new ManualClock('2026-12-04T00:00:00Z');
  const store = await openConfigStore(config, clock);
  const lockCertificate = store.lockCertificate.bind(store);
  store.lockCertificate = async (name, lockOptions) => ({ ...(await lockCertificate(name, lockOptions)), tookOver: options.tookOver });
  const inDns: string[] = [];
  const dns: DnsProvider = {
    name: 'corp',
    presentTxt: async (record: TxtRecord) => void inDns.push(record.value),
    cleanupTxt: async (record: TxtRecord) => void inDns.splice(inDns.indexOf(record.value), 1),
  };
  const issuer: Issuer = {
    directoryUrl: 'https://ca.test/directory',
    issue: async (request) => ({
      material: makeCertificate({ domains: request.domains, notBefore: clock.now(), notAfter: new Date(clock.now().getTime() + 90 * DAY) }),
    }),
  };
  const sink: Sink = { type: 'fake', name: 'reload', deploy: async () => ({}) };
  const deps: EngineDeps = { config, store, clock, logger: silentLogger, issuer: async () => issuer, dnsProvider: () => dns, sink: () => sink };
  return { deps, store, inDns };
}

describe('a certificate lock taken over from a dead holder', () => {
  it('removes the records the dead holder left and writes its abandoned order into history before its own', async () => {
    const h = await harness({ tookOver: true });
    // The dead holder noted its record in the ledger and presented it, then was killed.
    const left = { fqdn: '_acme-challenge.www.example.com', value: 'dead-holder', domain: 'www.example.com' };
    await h.store.putSinkState('www', challengeLedgerKey('order'), { records: [{ provider: 'corp', ...left }] });
    h.inDns.push(left.value);

    const report = await renew({}, h.deps);
    expect(report).toMatchObject({ succeeded: 1, failed: 0 });
    expect(h.inDns).toEqual([]);
    const issues = (await h.store.readHistory({ cert: 'www' })).filter((entry) => entry.action === 'issue').reverse();
    expect(issues.map((entry) => [entry.result, entry.code ?? null, entry.reason])).toEqual([
      ['failure', 'CANCELLED', 'lock-taken-over'],
      ['success', null, 'missing'],
    ]);
    expect(issues[0]!.error).toBe(
      'abandoned: the agent holding the lock stopped before finishing (its lease expired; taker took over and removed 1 challenge record it left in DNS)',
    );
  });

  it('writes no such line when the lock was free', async () => {
    const h = await harness({ tookOver: false });
    await renew({}, h.deps);
    const history = await h.store.readHistory({ cert: 'www' });
    expect(history.map((entry) => `${entry.action}:${entry.result}`)).toEqual(['deploy:success', 'issue:success']);
  });
});
