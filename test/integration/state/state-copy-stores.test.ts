// state/copy.ts between backends the CLI test does not reach: a file store into the Kubernetes
// API (stand-in) with keys sealed there, and back into a fresh file store. What a store holds
// besides renewals is planted through the repositories: an archived version, a quarantined
// (revoked) key, sink data, issuer state, an agent's own data, history with a dry run.

import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { copyState, sealerOf, type CopySide } from '../../../src/state/copy.js';
import { openStateStore } from '../../../src/state/open.js';
import { stateSchema, type StateConfig } from '../../../src/state/schema.js';
import { makeCertificate } from '../../helpers/certs.js';
import { ManualClock } from '../../helpers/clock.js';
import { startK8sStandin, type K8sStandin } from '../../helpers/k8s-standin.js';

let k8s: K8sStandin;
let dir: string;
let kubeconfig: string;
const clock = new ManualClock('2026-11-22T00:00:00Z');
const DIRECTORY = 'https://acme.test/dir';

beforeAll(async () => {
  k8s = await startK8sStandin();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-copy-stores-'));
  kubeconfig = k8s.kubeconfig(dir, 'default');
});
afterAll(async () => {
  await k8s?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

const opened: CopySide[] = [];
async function side(state: StateConfig): Promise<CopySide> {
  const store = await openStateStore({ state, agentId: 'agent-a', clock, logger: silentLogger });
  const opening = { store, sealer: sealerOf(state) };
  opened.push(opening);
  return opening;
}
afterAll(async () => {
  for (const { store } of opened) await store.storage.close().catch(() => undefined);
});

describe('state copy between backends', () => {
  it('file → kubernetes (sealed) → file: every kind of value arrives, keys sealed in the API and plain on disk, --merge decides by expiry', async () => {
    const keyFile = path.join(dir, 'state.key');
    await fs.writeFile(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
    const source = await side(stateSchema.parse({ type: 'file', dir: path.join(dir, 'files') }));
    const s = source.store;

    const old = makeCertificate({ domains: ['www.example'] });
    await s.putCertificate('www', old, { directoryUrl: DIRECTORY, issuedAt: clock.now() });
    clock.advance(1000);
    const current = makeCertificate({ domains: ['www.example'] });
    const stored = await s.putCertificate('www', current, { directoryUrl: DIRECTORY, issuedAt: clock.now() });
    await s.putRecord('www', {
      deployed: { acm: stored.info.serial, 'files@agent-a': stored.info.serial },
      consecutiveFailures: 0,
      lastAttemptAt: null,
      lastSuccessAt: clock.now().toISOString(),
      lastResult: null,
      nextAttemptAt: null,
      configFingerprint: null,
    });
    await s.putSinkState('www', 'acm', { arn: 'arn:aws:acm:eu-west-1:1:certificate/x' });
    const revoked = makeCertificate({ domains: ['gone.example'] });
    await s.putCertificate('gone', revoked, { directoryUrl: DIRECTORY, issuedAt: clock.now() });
    await s.quarantineCertificate('gone');
    await s.putAccount({ directoryUrl: DIRECTORY, email: 'ops@example.test', accountUrl: `${DIRECTORY}/acct/1`, keyPem: current.keyPem });
    await s.putIssuerState(`${DIRECTORY}|ops@example.test`, { rateLimitedUntil: '2026-11-23T00:00:00.000Z' });
    await s.agentData.put('notify', { outbox: [] });
    const entry = {
      at: clock.now().toISOString(),
      cert: 'www',
      action: 'renew',
      result: 'success',
      serial: stored.info.serial,
      notAfter: stored.info.notAfter.toISOString(),
      durationMs: 5,
      error: null,
    } as const;
    await s.appendHistory(entry);
    await s.appendHistory({ ...entry, at: new Date(clock.now().getTime() + 1).toISOString(), action: 'dry-run', serial: null, notAfter: null });

    // A certificate whose record is damaged: reported, and nothing of it copied (a dry run says so too).
    await s.putCertificate('bad', makeCertificate({ domains: ['bad.example'] }), { directoryUrl: DIRECTORY, issuedAt: clock.now() });
    await s.storage.put('certs/bad/record', new TextEncoder().encode('{"deployed": 7}\n'));
    const dry = await copyState(source, undefined, { merge: false, dryRun: true });
    expect(dry.certificates.map((c) => [c.name, c.action])).toEqual([
      ['bad', 'failed'],
      ['gone', 'would copy'],
      ['www', 'would copy'],
    ]);
    expect(dry.failed).toEqual([expect.stringMatching(/^certificate bad: .*certs\/bad\/record/)]);

    const target = await side(
      stateSchema.parse({ type: 'kubernetes', kubeconfig, namespace: 'copy-a', encryptionKeyFile: keyFile, localDir: path.join(dir, 'k8s-local') }),
    );
    const report = await copyState(source, target, { merge: false, dryRun: false });
    expect(report.failed).toEqual([expect.stringMatching(/^certificate bad: /)]);
    expect(report.copied).toMatchObject({
      certificates: 1,
      versions: 2,
      revoked: 1,
      records: 1,
      data: 1,
      accounts: 1,
      issuers: 1,
      'agent data': 1,
      history: 2,
      'dry-run index': 1,
    });
    const t = target.store;
    expect(await t.storage.list('certs/bad/')).toEqual([]);
    expect((await t.getCertificate('www'))?.info.serial).toBe(stored.info.serial);
    expect(await t.getRecord('www')).toEqual(await s.getRecord('www'));
    expect(await t.getSinkState('www', 'acm')).toEqual({ arn: 'arn:aws:acm:eu-west-1:1:certificate/x' });
    expect(await t.getAccount(DIRECTORY, 'ops@example.test')).toEqual(await s.getAccount(DIRECTORY, 'ops@example.test'));
    expect(await t.getIssuerState(`${DIRECTORY}|ops@example.test`)).toEqual({ rateLimitedUntil: '2026-11-23T00:00:00.000Z' });
    expect(await t.readHistory()).toEqual(await s.readHistory());
    expect(await t.lastDryRuns()).toEqual(await s.lastDryRuns());
    // The revoked key and the archived version are sealed with the target's key: they open with it only.
    const revokedKey = (await t.storage.list('certs/gone/revoked/'))[0]!;
    const sealed = (await t.storage.get(revokedKey))!.value;
    expect(Buffer.from(sealed).toString('latin1')).not.toContain('PRIVATE KEY');
    expect(Buffer.from(target.sealer.open(revokedKey, sealed)).toString()).toContain(revoked.keyPem.trim().split('\n')[1]!);

    // Back into a fresh file store: opened with the target's key, stored plain.
    const back = await side(stateSchema.parse({ type: 'file', dir: path.join(dir, 'back') }));
    const backReport = await copyState(target, back, { merge: false, dryRun: false });
    expect(backReport.failed).toEqual([]);
    expect(backReport.certificates.map((c) => c.name)).toEqual(['gone', 'www']);
    expect((await back.store.getCertificate('www'))?.material.keyPem).toBe(current.keyPem);
    expect(Buffer.from((await back.store.storage.get(revokedKey))!.value).toString()).toContain('PRIVATE KEY');
    expect((await back.store.storage.list('certs/')).sort()).toEqual((await s.storage.list('certs/')).filter((key) => !key.startsWith('certs/bad/')).sort());

    // --merge: the target renews www meanwhile (a later notAfter): kept; the source's is not written over it.
    clock.advance(1000);
    const later = makeCertificate({ domains: ['www.example'], notAfter: new Date(stored.info.notAfter.getTime() + 86_400_000) });
    const newer = await t.putCertificate('www', later, { directoryUrl: DIRECTORY, issuedAt: clock.now() });
    await expect(copyState(source, target, { merge: false, dryRun: false })).rejects.toMatchObject({ code: 'USAGE' });
    const merged = await copyState(source, target, { merge: true, dryRun: false });
    expect(merged.certificates.find((c) => c.name === 'www')).toMatchObject({ action: 'kept', reason: expect.stringMatching(/newer/) });
    expect((await t.getCertificate('www'))?.info.serial).toBe(newer.info.serial);
    expect(merged.copied).toMatchObject({ certificates: 0, accounts: 0, history: 0 });
    // ...and copied the other way it replaces the older one in the file store.
    const reverse = await copyState(target, back, { merge: true, dryRun: false });
    expect(reverse.certificates.find((c) => c.name === 'www')).toMatchObject({ action: 'copied', serial: newer.info.serial });
    expect((await back.store.getCertificate('www'))?.info.serial).toBe(newer.info.serial);
  });
});
