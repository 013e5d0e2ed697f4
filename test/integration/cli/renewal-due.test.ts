// Short-lived certificates from Pebble (certificateValidityPeriod) let a test watch a
// certificate become due in real time: not due → no order; due → renewed and redeployed.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startStack, type Stack } from '../../../src/devstack/stack.js';
import { parseCertificate } from '../../../src/core/x509.js';
import { history, orders, runCli, workDir, writeConfig } from '../../helpers/cli.js';

const VALIDITY_SECONDS = 12;
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ pebble: { validityPeriodSeconds: VALIDITY_SECONDS } });
});
afterAll(async () => {
  await stack?.stop();
});

interface Row {
  state: string;
  serial: string;
  renewAt: string;
  notBefore: string;
  notAfter: string;
}

it('orders nothing while the certificate is not due, and renews it once it is', async () => {
  const dir = workDir(stack);
  const config = writeConfig(dir, stack, {
    certificates: `  - { name: short, domains: [short.example.test], dns: bind, sinks: [files], renewBefore: 50% }`,
  });
  const status = async (): Promise<Row> => (JSON.parse((await runCli(['--config', config, 'status', '--json'])).stdout) as Row[])[0]!;

  expect((await runCli(['--config', config, 'renew'])).code).toBe(0);
  const issued = await status();
  expect(issued.state).toBe('valid');
  // renewAt is half-way through the lifetime.
  const lifetime = Date.parse(issued.notAfter) - Date.parse(issued.notBefore);
  expect(Date.parse(issued.renewAt)).toBe(Date.parse(issued.notAfter) - lifetime / 2);

  const quiet = await runCli(['--config', config, 'renew', '--json']);
  expect(quiet.code).toBe(0);
  expect(JSON.parse(quiet.stdout)).toMatchObject({ skipped: 1, succeeded: 0 });
  expect(orders(await history(config))).toHaveLength(1);

  // Wait, in real time, until status says it is due.
  const deadline = Date.now() + VALIDITY_SECONDS * 1000;
  let row = await status();
  while (row.state !== 'due' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    row = await status();
  }
  expect(row.state).toBe('due');

  const renewed = await runCli(['--config', config, 'renew', '--json']);
  expect(renewed.code).toBe(0);
  expect(JSON.parse(renewed.stdout).outcomes[0]).toMatchObject({ action: 'renew', reason: 'threshold', result: 'success', deployed: ['files'] });
  const deployed = parseCertificate(readFileSync(path.join(dir, 'out/short/cert.pem'), 'utf8'));
  expect(deployed.serial).not.toBe(issued.serial);
  expect((await status()).state).toBe('valid');
  expect(orders(await history(config)).map((l) => l.action)).toEqual(['renew', 'issue']);
});
