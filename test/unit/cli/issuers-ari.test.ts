// ARI lookups as the CLI wires them: none goes to a CA that is rate-limiting the account, and
// every lookup's result reaches the metrics hook.
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createIssuerWiring } from '../../../src/cli/issuers.js';
import { isCertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { parseConfig } from '../../../src/config/load.js';
import type { RenewalInfoResult } from '../../../src/observe/metrics.js';
import { recordRateLimit } from '../../../src/state/issuer-state.js';
import { makeCertificate } from '../../helpers/certs.js';
import { ManualClock } from '../../helpers/clock.js';
import { MemoryStore } from '../../helpers/memory-store.js';

let server: http.Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A directory without renewalInfo, counting requests. */
async function directory(): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  server = http.createServer((_request, response) => {
    requests++;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ newNonce: 'x', newAccount: 'x', newOrder: 'x' }));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/dir`, requests: () => requests };
}

describe('issuer wiring: renewalInfo', () => {
  it('asks nothing while the issuer is rate-limited, and reports each result', async () => {
    const ca = await directory();
    const config = parseConfig(
      `
stateDir: ./state
acme: { directory: "${ca.url}", email: ops@example.com }
dns: { corp: { type: exec, command: ["/bin/true"] } }
certificates: [{ name: www, domains: [example.com], dns: corp }]
`,
      path.join(mkdtempSync(path.join(tmpdir(), 'ck-ari-')), 'certkeeper.yaml'),
      { env: {} },
    );
    const store = new MemoryStore();
    const clock = new ManualClock('2026-11-22T00:00:00Z');
    const results: RenewalInfoResult[] = [];
    const wiring = createIssuerWiring(config, { store, clock, logger: silentLogger, onRenewalInfo: (result) => results.push(result) });
    const cert = await store.putCertificate('www', makeCertificate({ domains: ['example.com'] }), { directoryUrl: ca.url, issuedAt: clock.now() });

    expect(await wiring.renewalInfo(cert)).toEqual({ supported: false });
    expect(ca.requests()).toBe(1);

    await recordRateLimit(store, config.issuers[0]!, { rateLimitedUntil: '2026-11-22T01:00:00.000Z', detail: '429', at: clock.now().toISOString() });
    const deferred = await wiring.renewalInfo(cert).catch((error: unknown) => error);
    expect(isCertkeeperError(deferred, 'ACME_RATE_LIMITED')).toBe(true);
    expect((deferred as { retryAfterSeconds: number }).retryAfterSeconds).toBe(3600);
    expect(ca.requests()).toBe(1);

    clock.advance(3_600_001);
    expect(await wiring.renewalInfo(cert)).toEqual({ supported: false });
    expect(ca.requests()).toBe(2);
    expect(results).toEqual(['unsupported', 'deferred', 'unsupported']);
  });
});
