// A certificate removed from the config: the agent names it once, and `certkeeper forget` removes
// its state (not the files it deployed), refusing a certificate that is still configured.

import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger, type Logger } from '../../../src/core/logger.js';
import { loadConfigFile } from '../../../src/config/load.js';
import { Agent } from '../../../src/engine/agent.js';
import type { EngineDeps } from '../../../src/engine/contracts.js';
import { makeCertificate } from '../../helpers/certs.js';
import { runCli } from '../../helpers/cli.js';
import { openConfigStore } from '../../helpers/state.js';

it('names a certificate that left the config once, and forget removes its state', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-forget-'));
  const file = path.join(dir, 'certkeeper.yaml');
  writeFileSync(
    file,
    `stateDir: ./state\nacme: { directory: "https://127.0.0.1:9/dir" }\ndns: { corp: { type: exec, command: ["/bin/true"] } }\ncertificates:\n  - { name: www, domains: [www.example.com], dns: corp }\n`,
  );
  const config = loadConfigFile(file, { env: {} });
  const store = await openConfigStore(config, systemClock);
  for (const name of ['www', 'old']) {
    await store.putCertificate(name, makeCertificate({ domains: [`${name}.example.com`], days: 90 }), {
      directoryUrl: 'https://127.0.0.1:9/dir',
      issuedAt: new Date(),
    });
  }
  await store.getCertificate('old'); // writes the hooks' copy under live/old

  const warnings: string[] = [];
  const logger: Logger = {
    ...silentLogger,
    warn: (obj: unknown, msg?: string) => void warnings.push(typeof obj === 'string' ? obj : (msg ?? '')),
    child: () => logger,
  };
  const agent = new Agent({
    clock: systemClock,
    logger,
    host: 'h',
    loadConfig: () => loadConfigFile(file, { env: {} }),
    wire: async (c): Promise<EngineDeps> => ({
      config: c,
      store,
      clock: systemClock,
      logger: silentLogger,
      issuer: async () => {
        throw new Error('nothing is due');
      },
      dnsProvider: () => ({ name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} }),
      sink: () => {
        throw new Error('no sinks');
      },
    }),
  });
  await agent.start();
  await agent.reload();
  await agent.stop(1000);
  const named = warnings.filter((w) => w.includes('certificate old is stored but no longer in the config'));
  expect(named).toHaveLength(1);
  expect(named[0]).toContain('certkeeper forget old');

  const refused = await runCli(['--config', file, 'forget', 'www']);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('still in the config');
  const forgotten = await runCli(['--config', file, 'forget', 'old']);
  expect(forgotten.code, forgotten.stderr).toBe(0);
  expect(forgotten.stdout).toMatch(/^forgot old: \d+ stored value\(s\) removed/);
  expect(await store.listCertificateNames()).toEqual(['www']);
  expect(await store.getRecord('old')).toMatchObject({ consecutiveFailures: 0, lastResult: null });
  expect(await store.storage.list('certs/old/')).toEqual([]);
  expect(existsSync(path.join(dir, 'state', 'live', 'old'))).toBe(false);
  expect((await runCli(['--config', file, 'forget', 'old'])).stdout).toBe('nothing stored for old\n');
});
