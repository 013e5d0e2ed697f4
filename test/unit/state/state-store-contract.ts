// The StateStore behaviour every backend must show, whatever its layout: the same suite runs
// against the repositories on each storage backend: a folder (FileStorage), PostgreSQL, Kubernetes.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HistoryEntry } from '../../../src/core/types.js';
import { emptyRecord, type CertRecord, type StateStore } from '../../../src/state/contract.js';
import { makeCertificate } from '../../helpers/certs.js';

export interface StoreUnderTest {
  store: StateStore;
  /** A second handle on the same state, as another process would open it. */
  other: () => Promise<StateStore>;
  close: () => Promise<void>;
}

const DIRECTORY = 'https://acme.test/directory';

const entry = (cert: string, at: string, extra: Partial<HistoryEntry> = {}): HistoryEntry => ({
  at,
  cert,
  action: 'renew',
  result: 'success',
  serial: 'AB',
  notAfter: '2026-09-01T00:00:00.000Z',
  durationMs: 1200,
  error: null,
  ...extra,
});

export function stateStoreContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`StateStore contract: ${name}`, () => {
    let subject: StoreUnderTest;
    let store: StateStore;
    beforeEach(async () => {
      subject = await open();
      store = subject.store;
    });
    afterEach(async () => {
      await subject.close();
    });

    it('has nothing for a name never stored', async () => {
      expect(await store.getCertificate('www')).toBeUndefined();
      expect(await store.peekCertificate('www')).toBeUndefined();
      expect(await store.listCertificateNames()).toEqual([]);
    });

    it('round-trips a certificate with its key; peek gives the same details without the key', async () => {
      const material = makeCertificate({ domains: ['a.example', '*.a.example'] });
      const issuedAt = new Date('2026-06-01T12:00:00Z');
      const put = await store.putCertificate('www', material, { directoryUrl: DIRECTORY, issuedAt });
      const got = await store.getCertificate('www');
      expect(got!.material).toEqual(material);
      expect(got!.info).toEqual(put.info);
      expect(got!.info.domains).toEqual(['a.example', '*.a.example']);
      expect(got!.issuedAt).toEqual(issuedAt);
      expect(got!.directoryUrl).toBe(DIRECTORY);
      const peek = await store.peekCertificate('www');
      expect(peek).toEqual({ name: 'www', info: put.info, issuedAt, directoryUrl: DIRECTORY });
      expect(peek).not.toHaveProperty('material');
      expect(await store.listCertificateNames()).toEqual(['www']);
    });

    it('replaces the current certificate; the newest is read', async () => {
      await store.putCertificate('www', makeCertificate({ domains: ['a.example'] }), { directoryUrl: DIRECTORY, issuedAt: new Date('2026-06-01T00:00:00Z') });
      const second = makeCertificate({ domains: ['a.example', 'b.example'] });
      const put = await store.putCertificate('www', second, { directoryUrl: DIRECTORY, issuedAt: new Date('2026-06-02T00:00:00Z') });
      expect((await store.getCertificate('www'))!.material).toEqual(second);
      expect((await store.peekCertificate('www'))!.info.serial).toBe(put.info.serial);
      expect(await store.listCertificateNames()).toEqual(['www']);
    });

    it('refuses to store a key that does not belong to the certificate', async () => {
      const a = makeCertificate({ domains: ['a.example'] });
      const b = makeCertificate({ domains: ['a.example'] });
      await expect(store.putCertificate('www', { ...a, keyPem: b.keyPem }, { directoryUrl: DIRECTORY, issuedAt: new Date() })).rejects.toMatchObject({
        code: 'INTERNAL',
      });
      expect(await store.getCertificate('www')).toBeUndefined();
    });

    it('refuses certificate names that could escape their place', async () => {
      for (const bad of ['../escape', 'a/b', '.hidden', '']) {
        await expect(store.getRecord(bad)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
      }
    });

    it('quarantines the current certificate: nothing current afterwards, a new put starts afresh', async () => {
      await store.putCertificate('www', makeCertificate({ domains: ['a.example'] }), { directoryUrl: DIRECTORY, issuedAt: new Date() });
      expect(await store.quarantineCertificate('www')).toBeTruthy();
      expect(await store.getCertificate('www')).toBeUndefined();
      expect(await store.listCertificateNames()).toEqual([]);
      expect(await store.quarantineCertificate('www')).toBeUndefined();
      const fresh = makeCertificate({ domains: ['a.example'] });
      await store.putCertificate('www', fresh, { directoryUrl: DIRECTORY, issuedAt: new Date() });
      expect((await store.getCertificate('www'))!.material).toEqual(fresh);
    });

    it('returns an empty record when none was written, and round-trips one', async () => {
      expect(await store.getRecord('www')).toEqual(emptyRecord());
      const record: CertRecord = {
        deployed: { web: 'AB01' },
        consecutiveFailures: 2,
        lastAttemptAt: '2026-06-01T00:00:00.000Z',
        lastSuccessAt: null,
        lastResult: { at: '2026-06-01T00:00:00.000Z', action: 'renew', result: 'failure', error: 'boom' },
        nextAttemptAt: '2026-06-01T01:00:00.000Z',
        configFingerprint: 'abc',
      };
      await store.putRecord('www', record);
      expect(await store.getRecord('www')).toEqual(record);
      expect(await (await subject.other()).getRecord('www')).toEqual(record);
    });

    it('keeps one account per directory and email, and replaces it', async () => {
      const account = {
        directoryUrl: DIRECTORY,
        email: 'ops@example.com',
        accountUrl: 'https://acme.test/acct/1',
        keyPem: makeCertificate({ domains: ['x.example'] }).keyPem,
      };
      await store.putAccount(account);
      expect(await store.getAccount(DIRECTORY, 'ops@example.com')).toEqual(account);
      expect(await store.getAccount(DIRECTORY, null)).toBeUndefined();
      expect(await store.getAccount('https://other.test/directory', 'ops@example.com')).toBeUndefined();
      await store.putAccount({ ...account, accountUrl: 'https://acme.test/acct/2' });
      expect((await store.getAccount(DIRECTORY, 'ops@example.com'))!.accountUrl).toBe('https://acme.test/acct/2');
    });

    it('keeps small data per certificate and sink, and per issuer', async () => {
      expect(await store.getSinkState('www', 'acm')).toBeUndefined();
      await store.putSinkState('www', 'acm', { arn: 'arn:aws:acm:eu-west-1:1:certificate/x' });
      expect(await store.getSinkState('www', 'acm')).toEqual({ arn: 'arn:aws:acm:eu-west-1:1:certificate/x' });
      expect(await store.getSinkState('api', 'acm')).toBeUndefined();
      expect(await store.getIssuerState(`${DIRECTORY}\nops@example.com`)).toBeUndefined();
      await store.putIssuerState(`${DIRECTORY}\nops@example.com`, {
        rateLimitedUntil: '2026-06-01T00:00:00.000Z',
        detail: 'slow down',
        at: '2026-05-31T00:00:00.000Z',
      });
      expect(await store.getIssuerState(`${DIRECTORY}\nops@example.com`)).toMatchObject({ rateLimitedUntil: '2026-06-01T00:00:00.000Z', detail: 'slow down' });
    });

    it('reads many certificates, records and sink data at once, as the single reads give them', async () => {
      const issuedAt = new Date('2026-06-01T12:00:00Z');
      const www = await store.putCertificate('www', makeCertificate({ domains: ['a.example'] }), { directoryUrl: DIRECTORY, issuedAt });
      await store.putCertificate('api', makeCertificate({ domains: ['b.example'] }), { directoryUrl: DIRECTORY, issuedAt });
      const record: CertRecord = { ...emptyRecord(), deployed: { web: www.info.serial }, consecutiveFailures: 1 };
      await store.putRecord('www', record);
      await store.putSinkState('api', 'acme.ari', { serial: 'AB', supported: true });
      const other = await subject.other();
      const names = ['www', 'api', 'none'];

      const peeked = await other.peekCertificates(names);
      expect([...peeked.keys()].sort()).toEqual(['api', 'www']);
      for (const name of ['www', 'api']) expect(peeked.get(name)).toEqual(await other.peekCertificate(name));
      expect(await other.peekCertificates([])).toEqual(new Map());

      const records = await other.getRecords(names);
      expect([...records.keys()]).toEqual(names);
      expect(records.get('www')).toEqual(record);
      expect(records.get('api')).toEqual(emptyRecord());
      expect(records.get('none')).toEqual(emptyRecord());

      const data = await other.getSinkStates(names, 'acme.ari');
      expect([...data.keys()]).toEqual(['api']);
      expect(data.get('api')).toEqual({ serial: 'AB', supported: true });
      expect(await other.getSinkStates(names, 'acm')).toEqual(new Map());
    });

    it('reads history newest first, filtered by certificate and limited', async () => {
      await store.appendHistory(entry('www', '2026-06-01T00:00:01.000Z'));
      await store.appendHistory(entry('api', '2026-06-01T00:00:02.000Z'));
      const failure = entry('www', '2026-06-01T00:00:03.000Z', { result: 'failure', error: 'boom', code: 'SINK_FAILED', sink: 'web' });
      await store.appendHistory(failure);
      expect((await store.readHistory()).map((e) => e.at)).toEqual(['2026-06-01T00:00:03.000Z', '2026-06-01T00:00:02.000Z', '2026-06-01T00:00:01.000Z']);
      expect((await store.readHistory({ cert: 'www' })).map((e) => e.at)).toEqual(['2026-06-01T00:00:03.000Z', '2026-06-01T00:00:01.000Z']);
      expect(await store.readHistory({ cert: 'www', limit: 1 })).toEqual([failure]);
      expect(await store.readHistory({ cert: 'nope' })).toEqual([]);
    });

    it('keeps the newest dry run of each certificate', async () => {
      expect((await store.lastDryRuns()).size).toBe(0);
      await store.appendHistory(entry('www', '2026-06-01T00:00:01.000Z', { action: 'dry-run', result: 'failure', error: 'nope' }));
      await store.appendHistory(entry('www', '2026-06-01T00:00:02.000Z'));
      await store.appendHistory(entry('www', '2026-06-01T00:00:03.000Z', { action: 'dry-run' }));
      await store.appendHistory(entry('api', '2026-06-01T00:00:04.000Z', { action: 'dry-run', result: 'failure', error: 'boom' }));
      const dryRuns = await store.lastDryRuns();
      expect(dryRuns.get('www')).toEqual({ at: '2026-06-01T00:00:03.000Z', result: 'success', error: null });
      expect(dryRuns.get('api')).toEqual({ at: '2026-06-01T00:00:04.000Z', result: 'failure', error: 'boom' });
    });

    it('holds the run lock against another handle until released', async () => {
      const other = await subject.other();
      const held = await store.lock({ timeoutMs: 1_000 });
      await expect(other.lock({ timeoutMs: 0 })).rejects.toMatchObject({ code: 'LOCK_TIMEOUT' });
      await held.release();
      const next = await other.lock({ timeoutMs: 1_000 });
      await next.release();
    });
  });
}
