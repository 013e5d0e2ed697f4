// The local rate-limit budgets through the whole pipeline: the engine, the real issuer chain and
// the file store's history, with scripted CAs that report orders and failed authorizations.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createIssuerChain } from '../../../src/engine/issuer-chain.js';
import { rateLimitsIn } from '../../../src/state/issuer-state.js';
import type { AcmeIssuer } from '../../../src/acme/issuer.js';
import type { IssueRequest } from '../../../src/issuers/contract.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { parseConfig } from '../../../src/config/load.js';
import type { DnsProvider } from '../../../src/dns/contract.js';
import type { EngineDeps } from '../../../src/engine/contracts.js';
import { renew } from '../../../src/engine/renew.js';
import { openConfigStore } from '../../helpers/state.js';
import { makeCertificate } from '../../helpers/certs.js';
import { ManualClock } from '../../helpers/clock.js';

const HOUR = 3_600_000;
const dns: DnsProvider = { name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} };

/** A CA that accepts orders and then validates, or finds the first name's authorization invalid. */
class ScriptedCa implements AcmeIssuer {
  orders = 0;
  failValidation = false;
  constructor(
    readonly directoryUrl: string,
    private readonly clock: ManualClock,
  ) {}
  async issue(request: IssueRequest) {
    this.orders++;
    request.onOrder?.({ type: 'created', replaced: false });
    if (this.failValidation) {
      const domain = request.domains[0]!;
      request.onOrder?.({ type: 'authorization-failed', names: [domain] });
      throw new CertkeeperError('VALIDATION_FAILED', `validation of ${domain} failed: no TXT`, { details: { domain, authorizationStatus: 'invalid' } });
    }
    const notBefore = this.clock.now();
    return {
      material: makeCertificate({ domains: request.domains, notBefore, notAfter: new Date(notBefore.getTime() + 90 * 86_400_000) }),
      orderUrl: 'o',
      accountUrl: 'a',
      directoryUrl: this.directoryUrl,
      replaced: false,
    };
  }
}

async function harness(issuersYaml: string, wwwIssuers = '') {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-budget-'));
  const config = parseConfig(
    `
stateDir: ./state
${issuersYaml}
dns: { corp: { type: exec, command: ["/bin/true"] } }
certificates:
  - { name: www, domains: [example.com], dns: corp${wwwIssuers} }
  - { name: api, domains: [api.example.com], dns: corp }
`,
    path.join(dir, 'certkeeper.yaml'),
    { env: {} },
  );
  const clock = new ManualClock('2026-11-22T00:00:00Z');
  const store = await openConfigStore(config, clock);
  const cas = new Map(config.issuers.map((settings) => [settings.name, new ScriptedCa(settings.directoryUrl, clock)]));
  const chain = createIssuerChain({
    issuers: config.issuers,
    issuerFor: async (s) => cas.get(s.name)!,
    rateLimits: rateLimitsIn(store),
    clock,
    logger: silentLogger,
  });
  const deps: EngineDeps = {
    config,
    store,
    clock,
    logger: silentLogger,
    issuer: async () => chain,
    dnsProvider: () => dns,
    sink: () => {
      throw new Error('no sinks');
    },
  };
  return { deps, clock, store, cas, config };
}

describe('local rate-limit budgets in the renew pipeline', () => {
  it("stops ordering a name after Let's Encrypt's 5 failed authorizations in an hour, and resumes when the hour has passed", async () => {
    const h = await harness('acme: { directory: letsencrypt, email: ops@example.com }');
    expect(h.config.issuers[0]!.rateLimits).toEqual({ newOrders: { limit: 300, windowMs: 3 * HOUR }, failedAuthorizations: { limit: 5, windowMs: HOUR } });
    const ca = h.cas.get('default')!;
    ca.failValidation = true;
    // An operator retrying by hand during an incident (`renew --cert www` lifts the backoff).
    for (let i = 0; i < 5; i++) {
      const report = await renew({ certs: ['www'], overrideBackoff: true }, h.deps);
      expect(report.outcomes[0]).toMatchObject({ result: 'failure', code: 'VALIDATION_FAILED' });
      h.clock.advance(60_000);
    }
    expect(ca.orders).toBe(5);
    const history = await h.store.readHistory({ cert: 'www' });
    expect(history[0]!.orders).toEqual([
      {
        issuer: 'default',
        directoryUrl: 'https://acme-v02.api.letsencrypt.org/directory',
        email: 'ops@example.com',
        replaced: false,
        failedNames: ['example.com'],
      },
    ]);

    const refused = await renew({ certs: ['www'], overrideBackoff: true }, h.deps);
    expect(refused.outcomes[0]).toMatchObject({ result: 'failure', code: 'RATE_BUDGET' });
    expect(refused.outcomes[0]!.error).toContain('5 of 5 failed authorizations for example.com in the last 1 h');
    expect(ca.orders).toBe(5); // nothing reached the CA
    // The refusal is a retryable failure that backs off until the budget frees up.
    const record = await h.store.getRecord('www');
    expect(Date.parse(record.nextAttemptAt!)).toBeGreaterThanOrEqual(h.clock.now().getTime() + 50 * 60_000);

    // Another name of the same account is not held back.
    ca.failValidation = false;
    expect((await renew({ certs: ['api'] }, h.deps)).outcomes[0]).toMatchObject({ result: 'success' });

    h.clock.advance(HOUR);
    const later = await renew({ certs: ['www'], overrideBackoff: true }, h.deps);
    expect(later.outcomes[0]).toMatchObject({ result: 'success' });
    expect(ca.orders).toBe(7);
  });

  it('a forced run refuses the last new order of the budget without --yes, and a spent budget moves on to the next issuer', async () => {
    const h = await harness(
      `
issuers:
  - { name: primary, directory: "https://primary.test/dir", email: ops@example.com, rateLimits: { newOrders: { limit: 3, window: 3h } } }
  - { name: backup, directory: "https://backup.test/dir", email: ops@example.com }`,
      ', issuers: [primary]',
    );
    const primary = h.cas.get('primary')!;
    const backup = h.cas.get('backup')!;
    await renew({}, h.deps); // www and api: 2 of 3
    expect(primary.orders).toBe(2);

    const forced = await renew({ certs: ['www'], force: true }, h.deps);
    expect(forced.outcomes[0]).toMatchObject({ result: 'failure', code: 'RATE_BUDGET' });
    expect(forced.outcomes[0]!.error).toContain('confirm with --force --yes');
    expect(primary.orders + backup.orders).toBe(2);
    // The operator's refusal is no failure of the certificate: no backoff, no failure count.
    expect(await h.store.getRecord('www')).toMatchObject({ consecutiveFailures: 0, nextAttemptAt: null });

    const confirmed = await renew({ certs: ['www'], force: true, yes: true }, h.deps);
    expect(confirmed.outcomes[0]).toMatchObject({ result: 'success' });
    expect(primary.orders).toBe(3);

    // Spent: a certificate with a second issuer goes there (as after a rate limit), forced or not...
    h.clock.advance(HOUR);
    const next = await renew({ certs: ['api'], force: true }, h.deps);
    expect(next.outcomes[0]).toMatchObject({ result: 'success' });
    expect(backup.orders).toBe(1);
    expect((await h.store.readHistory({ cert: 'api', limit: 1 }))[0]!.orders).toEqual([
      { issuer: 'backup', directoryUrl: 'https://backup.test/dir', email: 'ops@example.com', replaced: false },
    ]);

    // ...one with only the primary waits, retryable, until the budget frees up.
    const waiting = await renew({ certs: ['www'], force: true }, h.deps);
    expect(waiting.outcomes[0]).toMatchObject({ result: 'failure', code: 'RATE_BUDGET' });
    expect(waiting.outcomes[0]!.error).toContain('3 of 3 new orders in the last 3 h');
    expect((await h.store.getRecord('www')).consecutiveFailures).toBe(1);

    // Three hours after the first orders, the primary has room again.
    h.clock.advance(2 * HOUR + 1);
    await renew({ certs: ['www'], force: true }, h.deps);
    expect(primary.orders).toBe(4);
  });

  it('rateLimits: false turns the known budgets off', async () => {
    const h = await harness('acme: { directory: letsencrypt, email: ops@example.com, rateLimits: false }');
    expect(h.config.issuers[0]!.rateLimits).toBeUndefined();
    const ca = h.cas.get('default')!;
    ca.failValidation = true;
    for (let i = 0; i < 6; i++) await renew({ certs: ['www'], overrideBackoff: true }, h.deps);
    expect(ca.orders).toBe(6);
  });
});
