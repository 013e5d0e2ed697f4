import { describe, expect, it } from 'vitest';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { RenewalInfoAnswer } from '../../../src/issuers/contract.js';
import { ARI_STATE_KEY, refreshRenewalInfo, renewalInfoFor, selectInWindow, windowOf } from '../../../src/engine/renewal-info.js';
import type { Config } from '../../../src/config/load.js';
import { makeCertificate } from '../../helpers/certs.js';
import { ManualClock } from '../../helpers/clock.js';
import { MemoryStore } from '../../helpers/memory-store.js';

const HOUR = 3_600_000;

async function setup(answer: () => Promise<RenewalInfoAnswer>) {
  const store = new MemoryStore();
  const clock = new ManualClock('2026-11-22T00:00:00Z');
  const stored = await store.putCertificate('www', makeCertificate({ domains: ['example.com'] }), {
    directoryUrl: 'https://ca.test/dir',
    issuedAt: clock.now(),
  });
  let asked = 0;
  const deps = {
    store,
    clock,
    logger: silentLogger,
    renewalInfo: async () => {
      asked++;
      return answer();
    },
  };
  return { store, clock, stored, deps, asked: () => asked };
}

describe('refreshRenewalInfo', () => {
  const start = new Date('2026-12-01T00:00:00Z');
  const end = new Date('2026-12-03T00:00:00Z');

  it('stores the window with a time inside it, and asks again only after Retry-After', async () => {
    const h = await setup(async () => ({ supported: true, certId: 'id.1', info: { start, end, explanationUrl: null, retryAfterSeconds: 3600 } }));
    const record = await refreshRenewalInfo(h.stored, h.deps);
    const window = windowOf(record)!;
    expect(window.selectedAt.getTime()).toBeGreaterThanOrEqual(start.getTime());
    expect(window.selectedAt.getTime()).toBeLessThanOrEqual(end.getTime());
    expect(record).toMatchObject({ certId: 'id.1', supported: true });
    await refreshRenewalInfo(h.stored, h.deps);
    expect(h.asked()).toBe(1);
    h.clock.advance(HOUR + 1);
    const again = await refreshRenewalInfo(h.stored, h.deps);
    expect(h.asked()).toBe(2);
    // The same window keeps the same chosen time.
    expect(again?.selectedAt).toBe(record?.selectedAt);
  });

  it('re-checks at least twice a day whatever Retry-After says', async () => {
    const h = await setup(async () => ({ supported: true, certId: 'id.1', info: { start, end, explanationUrl: null, retryAfterSeconds: 7 * 86_400 } }));
    await refreshRenewalInfo(h.stored, h.deps);
    h.clock.advance(12 * HOUR + 1);
    await refreshRenewalInfo(h.stored, h.deps);
    expect(h.asked()).toBe(2);
  });

  it('keeps what it knew when the CA fails, and waits an hour before asking again', async () => {
    let fail = false;
    const h = await setup(async () => {
      if (fail) throw new Error('503');
      return { supported: true, certId: 'id.1', info: { start, end, explanationUrl: 'https://ca.test/why', retryAfterSeconds: 60 } };
    });
    await refreshRenewalInfo(h.stored, h.deps);
    fail = true;
    h.clock.advance(61_000);
    const kept = await refreshRenewalInfo(h.stored, h.deps);
    expect(windowOf(kept)).toMatchObject({ start, end, explanationUrl: 'https://ca.test/why' });
    expect(kept?.error).toContain('503');
    h.clock.advance(HOUR - 1000);
    await refreshRenewalInfo(h.stored, h.deps);
    expect(h.asked()).toBe(2);
  });

  it('while the CA rate-limits the account, asks again only after its Retry-After (not the hourly error re-check)', async () => {
    let limited = false;
    const h = await setup(async () => {
      if (limited) throw new CertkeeperError('ACME_RATE_LIMITED', 'issuer default is rate-limited; ARI not asked', { retryAfterSeconds: 5 * 3600 });
      return { supported: true, certId: 'id.1', info: { start, end, explanationUrl: null, retryAfterSeconds: 60 } };
    });
    await refreshRenewalInfo(h.stored, h.deps);
    limited = true;
    h.clock.advance(61_000);
    const kept = await refreshRenewalInfo(h.stored, h.deps);
    expect(windowOf(kept)).toMatchObject({ start, end });
    expect(Date.parse(kept!.nextCheckAt)).toBe(h.clock.now().getTime() + 5 * HOUR);
    h.clock.advance(2 * HOUR);
    await refreshRenewalInfo(h.stored, h.deps);
    expect(h.asked()).toBe(2);
  });

  it('remembers a CA without ARI, and ignores a record of another certificate', async () => {
    const h = await setup(async () => ({ supported: false }));
    expect(windowOf(await refreshRenewalInfo(h.stored, h.deps))).toBeUndefined();
    await h.store.putSinkState('www', ARI_STATE_KEY, {
      serial: 'OTHER',
      directoryUrl: 'https://ca.test/dir',
      supported: true,
      checkedAt: '',
      nextCheckAt: '2099-01-01T00:00:00Z',
    });
    await refreshRenewalInfo(h.stored, h.deps);
    expect(h.asked()).toBe(2);
  });
});

describe('selectInWindow', () => {
  it('is stable for a seed and spreads different seeds', () => {
    const start = new Date('2026-12-01T00:00:00Z');
    const end = new Date('2026-12-02T00:00:00Z');
    expect(selectInWindow(start, end, 'a')).toEqual(selectInWindow(start, end, 'a'));
    const picks = new Set(['a', 'b', 'c', 'd'].map((seed) => selectInWindow(start, end, seed).getTime()));
    expect(picks.size).toBe(4);
  });
});

describe('renewalInfoFor (planning, from the recorded details)', () => {
  const start = new Date('2026-12-01T00:00:00Z');
  const end = new Date('2026-12-03T00:00:00Z');
  const config = (directoryUrl: string) =>
    ({ acme: { directoryUrl, email: null }, issuers: [{ name: 'default', directoryUrl, email: null }] }) as unknown as Config;

  it('reads the PEM only when the stored window is due for a re-check at a configured CA', async () => {
    const h = await setup(async () => ({ supported: true, certId: 'id.1', info: { start, end, explanationUrl: null, retryAfterSeconds: 3600 } }));
    let fullReads = 0;
    const getCertificate = h.store.getCertificate.bind(h.store);
    h.store.getCertificate = async (name: string) => {
      fullReads++;
      return getCertificate(name);
    };
    const deps = { ...h.deps, config: config('https://ca.test/dir') };
    const summary = (await h.store.peekCertificate('www'))!;
    expect(windowOf(await renewalInfoFor(summary, deps))).toMatchObject({ start, end });
    expect([h.asked(), fullReads]).toEqual([1, 1]);
    expect(windowOf(await renewalInfoFor(summary, deps))).toMatchObject({ start, end });
    expect([h.asked(), fullReads]).toEqual([1, 1]); // fresh: one small read, no PEM
  });

  it('asks nobody about a certificate from a CA no longer configured, but keeps the window that CA gave', async () => {
    const h = await setup(async () => ({ supported: true, certId: 'id.1', info: { start, end, explanationUrl: null, retryAfterSeconds: 3600 } }));
    const summary = (await h.store.peekCertificate('www'))!;
    await renewalInfoFor(summary, { ...h.deps, config: config('https://ca.test/dir') });
    h.clock.advance(2 * HOUR);
    const switched = { ...h.deps, config: config('https://other-ca.test/dir') };
    expect(windowOf(await renewalInfoFor(summary, switched))).toMatchObject({ start, end });
    expect(h.asked()).toBe(1);

    const fresh = await setup(async () => ({ supported: false }));
    expect(await renewalInfoFor((await fresh.store.peekCertificate('www'))!, { ...fresh.deps, config: config('https://other-ca.test/dir') })).toBeUndefined();
    expect(fresh.asked()).toBe(0);
    expect(await fresh.store.getSinkState('www', ARI_STATE_KEY)).toBeUndefined();
  });
});
