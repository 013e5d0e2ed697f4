// Overall deadlines against a "slowloris" CA: real Pebble behind the test proxy, which answers the
// challenge-response POST with a byte a second forever (never idle long enough for a socket
// timeout). Through the CLI as an operator runs it: the request deadline (`requestTimeout`) and
// the order deadline (`orderTimeout`) end the order as DEADLINE_EXCEEDED, the TXT record the
// order wrote is gone from BIND afterwards, and history says why.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../../src/devstack/stack.js';
import { proxyConfig, startAcmeProxy, type AcmeProxy } from '../../helpers/acme-proxy.js';
import { history, orders, renewJson, txtAt, workDir, type RenewOutcomeLine } from '../../helpers/cli.js';

let stack: Stack;
let proxy: AcmeProxy;

beforeAll(async () => {
  // Fresh authorizations only: every order must answer its challenge.
  stack = await startStack({ pebble: { authzReusePercent: 0 } });
  proxy = await startAcmeProxy(stack.pebble);
});
afterAll(async () => {
  await proxy?.stop();
  await stack?.stop();
});

/** Pebble's challenge URLs (`/chalZ/<id>`): the POST that asks the CA to validate. */
const challengeResponse = (method: string, path: string): boolean => method === 'POST' && /^\/chal[^/]*\//.test(path);

/** Runs `renew` while the proxy drip-feeds every challenge response; `whileStalled` runs once the CA stalls. */
async function renewAgainstStallingCa(
  config: string,
  whileStalled: () => Promise<void>,
): Promise<{ code: number | null; outcomes: RenewOutcomeLine[]; stderr: string }> {
  proxy.stall = challengeResponse;
  proxy.stalled.length = 0;
  try {
    const running = renewJson(config);
    let finished = false;
    void running.finally(() => (finished = true));
    while (proxy.stalled.length === 0 && !finished) await new Promise((resolve) => setTimeout(resolve, 50));
    if (!finished) await whileStalled();
    return await running;
  } finally {
    proxy.stall = undefined;
  }
}

describe('a CA that drip-feeds the challenge response', () => {
  it('fails the request at its deadline (requestTimeout) and removes the TXT record', async () => {
    const dir = workDir(stack);
    const name = 'drip-request.example.test';
    const config = proxyConfig(dir, stack, proxy, {
      certificates: `  - { name: drip-request, domains: [${name}], dns: bind, sinks: [files] }`,
      acmeExtra: '  requestTimeout: 2s',
    });
    const present: string[][] = [];
    const result = await renewAgainstStallingCa(config, async () => {
      present.push(await txtAt(stack.bind.address, `_acme-challenge.${name}`));
    });

    expect(proxy.stalled).toHaveLength(1);
    // The record was there while the CA stalled: the cleanup below is real work.
    expect(present).toEqual([[expect.any(String)]]);
    expect(result.code, result.stderr).toBe(1);
    expect(result.outcomes[0]).toMatchObject({ cert: 'drip-request', result: 'failure', code: 'DEADLINE_EXCEEDED' });
    expect(result.outcomes[0]!.error).toContain('POST /chal');
    expect(await txtAt(stack.bind.address, `_acme-challenge.${name}`)).toEqual([]);
    expect(orders(await history(config, 'drip-request'))).toEqual([expect.objectContaining({ result: 'failure', code: 'DEADLINE_EXCEEDED' })]);
  });

  it('abandons the order at its deadline (orderTimeout), removes the TXT record and records DEADLINE_EXCEEDED', async () => {
    const dir = workDir(stack);
    const name = 'drip-order.example.test';
    // The request deadline (default 60 s) is far off: only the order deadline can end this.
    const config = proxyConfig(dir, stack, proxy, {
      certificates: `  - { name: drip-order, domains: [${name}], dns: bind, sinks: [files] }`,
      acmeExtra: '  orderTimeout: 10s',
    });
    const present: string[][] = [];
    const result = await renewAgainstStallingCa(config, async () => {
      present.push(await txtAt(stack.bind.address, `_acme-challenge.${name}`));
    });

    expect(proxy.stalled).toHaveLength(1);
    expect(present).toEqual([[expect.any(String)]]);
    expect(result.code, result.stderr).toBe(1);
    expect(result.outcomes[0]).toMatchObject({ cert: 'drip-order', result: 'failure', code: 'DEADLINE_EXCEEDED' });
    expect(result.outcomes[0]!.error).toContain('orderTimeout');
    expect(await txtAt(stack.bind.address, `_acme-challenge.${name}`)).toEqual([]);
    const lines = orders(await history(config, 'drip-order'));
    expect(lines).toEqual([expect.objectContaining({ result: 'failure', code: 'DEADLINE_EXCEEDED' })]);
    expect(lines[0]!.error).toContain('orderTimeout');
  });
});
