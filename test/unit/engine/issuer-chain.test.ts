import { describe, expect, it } from 'vitest';
import { createIssuerChain } from '../../../src/engine/issuer-chain.js';
import type { AcmeIssuer } from '../../../src/acme/issuer.js';
import type { IssueRequest } from '../../../src/issuers/contract.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { IssuerSettings } from '../../../src/config/issuers.js';
import type { DnsProvider } from '../../../src/dns/contract.js';
import { activeRateLimit, rateLimitsIn } from '../../../src/state/issuer-state.js';
import { makeCertificate } from '../../helpers/certs.js';
import { ManualClock } from '../../helpers/clock.js';
import { MemoryStore } from '../../helpers/memory-store.js';

const dns: DnsProvider = { name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} };
const settings = (name: string): IssuerSettings => ({ name, directoryUrl: `https://${name}.test/dir`, email: 'ops@example.test' });
const A = settings('a');
const B = settings('b');

class ScriptedIssuer implements AcmeIssuer {
  calls: IssueRequest[] = [];
  constructor(
    readonly directoryUrl: string,
    private readonly failWith?: () => Error,
  ) {}
  async issue(request: IssueRequest) {
    this.calls.push(request);
    if (this.failWith) throw this.failWith();
    return {
      material: makeCertificate({ domains: request.domains }),
      orderUrl: 'o',
      accountUrl: 'acc',
      directoryUrl: this.directoryUrl,
      replaced: request.replaces?.directoryUrl === this.directoryUrl,
    };
  }
}

function chain(first: ScriptedIssuer, second: ScriptedIssuer, store = new MemoryStore(), clock = new ManualClock()) {
  const byName: Record<string, ScriptedIssuer> = { a: first, b: second };
  return {
    store,
    clock,
    chain: createIssuerChain({ issuers: [A, B], issuerFor: async (s) => byName[s.name]!, rateLimits: rateLimitsIn(store), clock, logger: silentLogger }),
  };
}

const request = { certName: 'www', domains: ['example.com'], keyType: 'ecdsa-p256' as const, dns };
const http =
  (status: number, code: 'ACME_ERROR' | 'ACME_RATE_LIMITED' = 'ACME_ERROR', retryAfterSeconds?: number) =>
  () =>
    new CertkeeperError(code, `HTTP ${status}`, { details: { httpStatus: status }, ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) });

describe('issuer chain', () => {
  it('moves to the next issuer on a CA-side failure (5xx)', async () => {
    const first = new ScriptedIssuer(A.directoryUrl, http(503));
    const second = new ScriptedIssuer(B.directoryUrl);
    const result = await chain(first, second).chain.issue(request);
    expect(result).toMatchObject({ issuer: 'b', directoryUrl: B.directoryUrl });
    expect(first.calls).toHaveLength(1);
  });

  it('stops at validation and config errors', async () => {
    for (const error of [new CertkeeperError('VALIDATION_FAILED', 'no TXT'), new CertkeeperError('CONFIG_INVALID', 'no such profile'), http(400)()]) {
      const second = new ScriptedIssuer(B.directoryUrl);
      await expect(chain(new ScriptedIssuer(A.directoryUrl, () => error), second).chain.issue(request)).rejects.toBe(error);
      expect(second.calls).toHaveLength(0);
    }
  });

  it('moves on after a request the CA did not finish in time, but not after an order past its deadline', async () => {
    const request_ = () => new CertkeeperError('DEADLINE_EXCEEDED', 'POST /chal/1 took too long', { details: { scope: 'request' } });
    const second = new ScriptedIssuer(B.directoryUrl);
    expect(await chain(new ScriptedIssuer(A.directoryUrl, request_), second).chain.issue(request)).toMatchObject({ issuer: 'b' });

    const order = new CertkeeperError('DEADLINE_EXCEEDED', 'the order took too long', { details: { scope: 'order' } });
    const untried = new ScriptedIssuer(B.directoryUrl);
    await expect(chain(new ScriptedIssuer(A.directoryUrl, () => order), untried).chain.issue(request)).rejects.toBe(order);
    expect(untried.calls).toHaveLength(0);
  });

  it('records a rate limit with its Retry-After and asks that CA nothing until then', async () => {
    const first = new ScriptedIssuer(A.directoryUrl, http(429, 'ACME_RATE_LIMITED', 600));
    const second = new ScriptedIssuer(B.directoryUrl);
    const { chain: c, store, clock } = chain(first, second);
    await c.issue(request);
    expect(await activeRateLimit(store, A, clock.now())).toMatchObject({ rateLimitedUntil: new Date(clock.now().getTime() + 600_000).toISOString() });
    await c.issue(request);
    expect(first.calls).toHaveLength(1);
    expect(second.calls).toHaveLength(2);
    clock.advance(601_000);
    await c.issue(request);
    expect(first.calls).toHaveLength(2);
  });

  it('fails with the soonest Retry-After when every issuer is rate-limited', async () => {
    const { chain: c } = chain(
      new ScriptedIssuer(A.directoryUrl, http(429, 'ACME_RATE_LIMITED', 600)),
      new ScriptedIssuer(B.directoryUrl, http(429, 'ACME_RATE_LIMITED', 60)),
    );
    await expect(c.issue(request)).rejects.toMatchObject({ code: 'ACME_RATE_LIMITED', retryAfterSeconds: 60 });
    await expect(c.issue(request)).rejects.toMatchObject({
      code: 'ACME_RATE_LIMITED',
      retryAfterSeconds: 60,
      message: expect.stringContaining('every issuer is rate-limited'),
    });
  });

  it("follows the certificate's issuer order and passes the issuer's profile", async () => {
    const first = new ScriptedIssuer(A.directoryUrl);
    const second = new ScriptedIssuer(B.directoryUrl);
    const store = new MemoryStore();
    const clock = new ManualClock();
    const c = createIssuerChain({
      issuers: [A, { ...B, profile: 'shortlived' }],
      issuerFor: async (s) => (s.name === 'a' ? first : second),
      rateLimits: rateLimitsIn(store),
      clock,
      logger: silentLogger,
    });
    expect(await c.issue({ ...request, issuers: ['b', 'a'] })).toMatchObject({ issuer: 'b' });
    expect(second.calls[0]!.profile).toBe('shortlived');
    expect(await c.issue({ ...request, issuers: ['b'], profile: 'classic' })).toMatchObject({ issuer: 'b' });
    expect(second.calls[1]!.profile).toBe('classic');
  });
});
