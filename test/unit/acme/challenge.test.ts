// The dns-01 loop with a fake CA session, fake DNS and fake propagation: what is presented,
// in which order, and that cleanup always removes exactly what was presented.

import { describe, expect, it } from 'vitest';
import { solveDnsChallenges, type SolveChallengesOptions } from '../../../src/acme/challenge.js';
import type { AcmeAuthorization, ChallengeSession } from '../../../src/acme/session.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { DnsProvider, TxtRecord } from '../../../src/dns/contract.js';
import { ManualClock } from '../../helpers/clock.js';

function authz(domain: string, options: { wildcard?: boolean; status?: string; types?: string[] } = {}): AcmeAuthorization {
  const id = `${options.wildcard ? 'wild-' : ''}${domain}`;
  return {
    url: `https://ca/authz/${id}`,
    status: options.status ?? 'pending',
    identifier: { type: 'dns', value: domain },
    ...(options.wildcard ? { wildcard: true } : {}),
    challenges: (options.types ?? ['http-01', 'dns-01']).map((type) => ({
      type,
      url: `https://ca/chall/${id}/${type}`,
      status: 'pending',
      token: `token-${id}`,
    })),
  };
}

/** A CA that validates what it is asked to, with a verdict per authorization URL. */
function fakeSession(verdicts: Record<string, 'valid' | { invalid: unknown }> = {}): ChallengeSession & { completed: string[]; events: string[] } {
  const completed: string[] = [];
  const events: string[] = [];
  const polls = new Map<string, number>();
  return {
    completed,
    events,
    async dnsTxtValue(challenge) {
      return `value-for-${challenge.url}`;
    },
    async completeChallenge(challenge) {
      events.push(`complete ${challenge.url}`);
      completed.push(challenge.url);
    },
    async getAuthorization(url) {
      const count = (polls.get(url) ?? 0) + 1;
      polls.set(url, count);
      const domain = url
        .split('/')
        .pop()!
        .replace(/^wild-/, '');
      const base = authz(domain, { wildcard: url.includes('wild-') });
      // Pending on the first look: the loop must poll.
      if (count === 1) return base;
      const verdict = verdicts[url] ?? 'valid';
      if (verdict === 'valid') return { ...base, status: 'valid' };
      return {
        ...base,
        status: 'invalid',
        challenges: base.challenges.map((c) => (c.type === 'dns-01' ? { ...c, status: 'invalid', error: verdict.invalid } : c)),
      };
    },
  };
}

function fakeDns(events: string[], overrides: Partial<DnsProvider> = {}): DnsProvider & { present: TxtRecord[]; removed: TxtRecord[] } {
  const present: TxtRecord[] = [];
  const removed: TxtRecord[] = [];
  return {
    name: 'fake',
    propagationNameservers: ['192.0.2.1:53'],
    present,
    removed,
    async presentTxt(record) {
      events.push(`present ${record.fqdn} ${record.value}`);
      present.push(record);
    },
    async cleanupTxt(record) {
      events.push(`cleanup ${record.fqdn} ${record.value}`);
      removed.push(record);
    },
    ...overrides,
  };
}

function run(
  options: Partial<SolveChallengesOptions> & Pick<SolveChallengesOptions, 'session' | 'authorizations' | 'dns'>,
  events: string[],
  propagation: Partial<NonNullable<SolveChallengesOptions['propagation']>> = {},
) {
  const targets: string[] = [];
  return {
    targets,
    done: solveDnsChallenges({
      resolvers: ['192.0.2.53:53'],
      clock: new ManualClock(),
      logger: silentLogger,
      propagation: {
        resolveChallengeTarget: async (domain) => {
          targets.push(domain);
          return `_acme-challenge.${domain}`;
        },
        waitForTxtPropagation: async (opts) => {
          events.push(`propagated ${opts.fqdn} ${opts.value} via ${opts.nameservers?.join(',')} timeout ${opts.timeoutMs} interval ${opts.intervalMs}`);
        },
        ...propagation,
      },
      ...options,
    }),
  };
}

describe('solveDnsChallenges', () => {
  it('presents apex and wildcard values on one name before checking propagation, then validates and cleans up', async () => {
    const session = fakeSession();
    const dns = fakeDns(session.events);
    const steps: string[] = [];
    const { done, targets } = run(
      { session, dns, authorizations: [authz('example.com'), authz('example.com', { wildcard: true })], onStep: (step) => steps.push(step) },
      session.events,
    );
    await done;
    expect(targets).toEqual(['example.com']);
    expect(session.events).toEqual([
      'present _acme-challenge.example.com value-for-https://ca/chall/example.com/dns-01',
      'present _acme-challenge.example.com value-for-https://ca/chall/wild-example.com/dns-01',
      'propagated _acme-challenge.example.com value-for-https://ca/chall/example.com/dns-01 via 192.0.2.1:53 timeout 120000 interval 2000',
      'propagated _acme-challenge.example.com value-for-https://ca/chall/wild-example.com/dns-01 via 192.0.2.1:53 timeout 120000 interval 2000',
      'complete https://ca/chall/example.com/dns-01',
      'complete https://ca/chall/wild-example.com/dns-01',
      'cleanup _acme-challenge.example.com value-for-https://ca/chall/wild-example.com/dns-01',
      'cleanup _acme-challenge.example.com value-for-https://ca/chall/example.com/dns-01',
    ]);
    expect(steps).toEqual(['dns-present', 'propagated', 'validated']);
    expect(dns.present.map((r) => r.domain)).toEqual(['example.com', 'example.com']);
  });

  it("uses the provider's propagation settings", async () => {
    const session = fakeSession();
    const dns = fakeDns(session.events, { propagationNameservers: undefined, propagationTimeoutMs: 5000, propagationIntervalMs: 250 });
    await run({ session, dns, authorizations: [authz('a.example')] }, session.events).done;
    expect(session.events).toContain(
      'propagated _acme-challenge.a.example value-for-https://ca/chall/a.example/dns-01 via undefined timeout 5000 interval 250',
    );
  });

  it('checks no propagation itself when the provider (a batching one) waited for it in presentTxt', async () => {
    const session = fakeSession();
    const dns = fakeDns(session.events, { presentWaitsForPropagation: true });
    const steps: string[] = [];
    await run({ session, dns, authorizations: [authz('a.example'), authz('b.example')], onStep: (step) => steps.push(step) }, session.events).done;
    expect(session.events.filter((event) => event.startsWith('propagated'))).toEqual([]);
    expect(session.events.filter((event) => event.startsWith('complete'))).toHaveLength(2);
    expect(steps).toEqual(['dns-present', 'propagated', 'validated']);
  });

  it('skips authorizations the CA already considers valid', async () => {
    const session = fakeSession();
    const dns = fakeDns(session.events);
    await run({ session, dns, authorizations: [authz('a.example', { status: 'valid' }), authz('b.example')] }, session.events).done;
    expect(dns.present.map((r) => r.fqdn)).toEqual(['_acme-challenge.b.example']);
    expect(session.completed).toEqual(['https://ca/chall/b.example/dns-01']);
  });

  it('does nothing at all when every authorization is valid', async () => {
    const session = fakeSession();
    const dns = fakeDns(session.events);
    await run({ session, dns, authorizations: [authz('a.example', { status: 'valid' })] }, session.events).done;
    expect(session.events).toEqual([]);
  });

  it("reports VALIDATION_FAILED with the CA's reason and still removes every value", async () => {
    const session = fakeSession({
      'https://ca/authz/wild-example.com': {
        invalid: { type: 'urn:ietf:params:acme:error:unauthorized', detail: 'Incorrect TXT record "x" found at _acme-challenge.example.com' },
      },
    });
    const dns = fakeDns(session.events);
    const error = await run({ session, dns, authorizations: [authz('example.com'), authz('example.com', { wildcard: true })] }, session.events).done.catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CertkeeperError);
    expect((error as CertkeeperError).code).toBe('VALIDATION_FAILED');
    expect((error as CertkeeperError).message).toBe(
      'validation of *.example.com failed: Incorrect TXT record "x" found at _acme-challenge.example.com (unauthorized)',
    );
    expect((error as CertkeeperError).details).toMatchObject({ domain: '*.example.com', fqdn: '_acme-challenge.example.com', acmeType: 'unauthorized' });
    expect(dns.removed).toHaveLength(2);
  });

  it('cleans up exactly what was presented when propagation fails, and keeps the original error over a cleanup error', async () => {
    const events: string[] = [];
    const session = fakeSession();
    const dns = fakeDns(events, {
      async cleanupTxt() {
        throw new CertkeeperError('DNS_UPDATE_FAILED', 'server refused');
      },
    });
    const timeout = new CertkeeperError('DNS_PROPAGATION_TIMEOUT', 'not visible');
    const error = await run({ session, dns, authorizations: [authz('a.example'), authz('b.example')] }, events, {
      waitForTxtPropagation: async () => {
        throw timeout;
      },
    }).done.catch((e: unknown) => e);
    expect(error).toBe(timeout);
    expect(session.completed).toEqual([]);
  });

  it('presents all at once and cleans up every value it tried, including the one that failed midway', async () => {
    const events: string[] = [];
    const session = fakeSession();
    const base = fakeDns(events);
    let presents = 0;
    const dns = {
      ...base,
      async presentTxt(record: TxtRecord) {
        if (++presents === 2) throw new CertkeeperError('DNS_UPDATE_FAILED', 'timeout after sending');
        await base.presentTxt(record);
      },
    };
    const error = await run({ session, dns, authorizations: [authz('a.example'), authz('b.example'), authz('c.example')] }, events).done.catch(
      (e: unknown) => e,
    );
    expect((error as CertkeeperError).code).toBe('DNS_UPDATE_FAILED');
    expect(base.removed.map((r) => r.fqdn)).toEqual(['_acme-challenge.c.example', '_acme-challenge.b.example', '_acme-challenge.a.example']);
  });

  it('cleans up when cancelled while waiting for the verdict', async () => {
    const events: string[] = [];
    const controller = new AbortController();
    const session = fakeSession();
    const pendingForever: ChallengeSession = {
      ...session,
      async getAuthorization(url) {
        controller.abort();
        return { ...(await session.getAuthorization(url)), status: 'pending' };
      },
    };
    const dns = fakeDns(events);
    const error = await run({ session: pendingForever, dns, authorizations: [authz('a.example')], signal: controller.signal }, events).done.catch(
      (e: unknown) => e,
    );
    expect((error as Error).name).toBe('AbortError');
    expect(dns.removed).toHaveLength(1);
  });

  it('cleans up with a live signal of its own after the order was aborted (a deadline or shutdown)', async () => {
    const events: string[] = [];
    const controller = new AbortController();
    const session = fakeSession();
    const stalled: ChallengeSession = {
      ...session,
      async completeChallenge() {
        controller.abort();
        throw Object.assign(new Error('aborted'), { name: 'AbortError' });
      },
    };
    const signals: (AbortSignal | undefined)[] = [];
    const dns = fakeDns(events, {
      async cleanupTxt(_record, signal) {
        signals.push(signal);
        // A provider that honours its signal would stop here if it were the order's.
        if (signal?.aborted) throw Object.assign(new Error('aborted'), { name: 'AbortError' });
        dns.removed.push(_record);
      },
    });
    const error = await run({ session: stalled, dns, authorizations: [authz('a.example'), authz('b.example')], signal: controller.signal }, events).done.catch(
      (e: unknown) => e,
    );
    expect((error as Error).name).toBe('AbortError');
    expect(signals).toHaveLength(2);
    expect(signals.every((signal) => signal !== undefined && !signal.aborted)).toBe(true);
    expect(dns.removed.map((r) => r.fqdn)).toEqual(['_acme-challenge.b.example', '_acme-challenge.a.example']);
  });

  it('does not warn about removing a record whose add failed when its removal fails too (the DNS API is down)', async () => {
    const events: string[] = [];
    const session = fakeSession();
    const base = fakeDns(events);
    const dns = {
      ...base,
      async presentTxt(record: TxtRecord) {
        if (record.fqdn === '_acme-challenge.b.example') throw new CertkeeperError('DNS_UPDATE_FAILED', 'DNS API down');
        await base.presentTxt(record);
      },
      async cleanupTxt(record: TxtRecord) {
        if (record.fqdn === '_acme-challenge.b.example') throw new CertkeeperError('DNS_UPDATE_FAILED', 'DNS API down');
        await base.cleanupTxt(record);
      },
    };
    const warnings: Record<string, unknown>[] = [];
    const infos: Record<string, unknown>[] = [];
    const logger = {
      ...silentLogger,
      warn: (obj: unknown) => void (typeof obj === 'object' && warnings.push(obj as Record<string, unknown>)),
      info: (obj: unknown) => void (typeof obj === 'object' && infos.push(obj as Record<string, unknown>)),
      child: () => logger,
    } as typeof silentLogger;
    const error = await run({ session, dns, logger, authorizations: [authz('a.example'), authz('b.example')] }, events).done.catch((e: unknown) => e);
    expect((error as CertkeeperError).code).toBe('DNS_UPDATE_FAILED');
    expect(base.removed.map((r) => r.fqdn)).toEqual(['_acme-challenge.a.example']);
    expect(warnings.filter((w) => w.fqdn === '_acme-challenge.b.example')).toEqual([]);
    expect(infos).toContainEqual(expect.objectContaining({ fqdn: '_acme-challenge.b.example' }));
  });

  it('gives up on a cleanup that hangs past its deadline, says so, and goes on with the next record', async () => {
    const events: string[] = [];
    const session = fakeSession({ 'https://ca/authz/a.example': { invalid: { type: 'urn:ietf:params:acme:error:unauthorized', detail: 'no TXT' } } });
    const hung: AbortSignal[] = [];
    const dns = fakeDns(events, {
      cleanupTxt(record, signal) {
        if (record.fqdn === '_acme-challenge.b.example') {
          hung.push(signal!);
          return new Promise<void>(() => {}); // ignores its signal, never settles
        }
        dns.removed.push(record);
        return Promise.resolve();
      },
    });
    const warnings: Record<string, unknown>[] = [];
    const logger = {
      ...silentLogger,
      warn: (obj: unknown) => void (typeof obj === 'object' && warnings.push(obj as Record<string, unknown>)),
      child: () => logger,
    } as typeof silentLogger;
    const error = await run({ session, dns, logger, cleanupTimeoutMs: 200, authorizations: [authz('a.example'), authz('b.example')] }, events).done.catch(
      (e: unknown) => e,
    );
    // The order's own failure, not the cleanup's.
    expect((error as CertkeeperError).code).toBe('VALIDATION_FAILED');
    expect(hung).toHaveLength(1);
    expect(hung[0]!.aborted).toBe(true);
    expect(dns.removed.map((r) => r.fqdn)).toEqual(['_acme-challenge.a.example']);
    expect(warnings).toContainEqual(expect.objectContaining({ fqdn: '_acme-challenge.b.example', code: 'DEADLINE_EXCEEDED' }));
  });

  it('fails when the CA offers no dns-01 challenge, presenting nothing', async () => {
    const session = fakeSession();
    const dns = fakeDns(session.events);
    const error = await run({ session, dns, authorizations: [authz('a.example', { types: ['http-01'] })] }, session.events).done.catch((e: unknown) => e);
    expect((error as CertkeeperError).code).toBe('ACME_ERROR');
    expect((error as CertkeeperError).retryable).toBe(false);
    expect(dns.present).toEqual([]);
  });

  it('tells the provider how each of its propagation checks went (metrics), and nothing when the provider checks itself', async () => {
    const events: string[] = [];
    const checked: string[] = [];
    const onPropagationChecked = (result: 'success' | 'error', seconds: number): void => {
      expect(seconds).toBeGreaterThanOrEqual(0);
      checked.push(result);
    };
    const authorizations = [authz('a.example'), authz('b.example')];
    await run({ session: fakeSession(), dns: fakeDns(events, { onPropagationChecked }), authorizations }, events).done;
    expect(checked).toEqual(['success', 'success']);

    // The first check to fail stops the other: one error, and the cancelled sibling is not counted.
    checked.length = 0;
    const timeout = new CertkeeperError('DNS_PROPAGATION_TIMEOUT', 'not visible');
    const failing = run({ session: fakeSession(), dns: fakeDns(events, { onPropagationChecked }), authorizations }, events, {
      waitForTxtPropagation: async (opts) => {
        if (opts.fqdn.includes('a.example')) throw timeout;
        await new Promise((_, reject) => opts.signal?.addEventListener('abort', () => reject(opts.signal?.reason), { once: true }));
      },
    });
    expect(await failing.done.catch((e: unknown) => e)).toBe(timeout);
    expect(checked).toEqual(['error']);

    // A provider that waits in presentTxt checked (and timed) propagation itself.
    checked.length = 0;
    const waits = fakeDns(events, { onPropagationChecked, presentWaitsForPropagation: true });
    await run({ session: fakeSession(), dns: waits, authorizations }, events).done;
    expect(checked).toEqual([]);
  });
});
