// Which configured issuer a status row (and so the metrics' `issuer` label) names: the one whose
// directory issued the stored certificate, else the one its next order goes to first. Always a
// configured name, so the label's values stay as few as the configured issuers.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { loadConfigFile } from '../../../src/config/load.js';
import { statusRows } from '../../../src/engine/status.js';
import { makeCertificate } from '../../helpers/certs.js';
import { MemoryStore } from '../../helpers/memory-store.js';

const PRIMARY = 'https://primary.test/directory';
const BACKUP = 'https://backup.test/directory';

it('names the configured issuer whose directory issued the stored certificate, else the one the next order goes to', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-status-issuer-'));
  const file = path.join(dir, 'certkeeper.yaml');
  writeFileSync(
    file,
    `stateDir: ./state
issuers:
  - { name: primary, directory: "${PRIMARY}" }
  - { name: backup, directory: "${BACKUP}" }
dns: { corp: { type: exec, command: ["/bin/true"] } }
certificates:
  - { name: fell-back, domains: [a.example.com], dns: corp }
  - { name: usual, domains: [b.example.com], dns: corp }
  - { name: backup-first, domains: [c.example.com], dns: corp, issuers: [backup, primary] }
  - { name: moved-ca, domains: [d.example.com], dns: corp }
  - { name: none-yet, domains: [e.example.com], dns: corp }
`,
  );
  const config = loadConfigFile(file, { env: {} });
  const store = new MemoryStore();
  const put = (name: string, directoryUrl: string) =>
    store.putCertificate(name, makeCertificate({ domains: [`${name}.example.com`] }), { directoryUrl, issuedAt: new Date() });
  await put('fell-back', BACKUP); // the primary failed, the backup issued it
  await put('usual', PRIMARY);
  await put('moved-ca', 'https://retired.test/directory'); // its CA is no longer configured

  const rows = await statusRows({ config, store, clock: systemClock, logger: silentLogger });
  expect(Object.fromEntries(rows.map((row) => [row.name, row.issuer]))).toEqual({
    'fell-back': 'backup',
    usual: 'primary',
    'backup-first': 'backup',
    'moved-ca': 'primary',
    'none-yet': 'primary',
  });
});

it('calls the issuer of acme: "default"', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-status-issuer-'));
  const file = path.join(dir, 'certkeeper.yaml');
  writeFileSync(
    file,
    `stateDir: ./state\nacme: { directory: "${PRIMARY}" }\ndns: { corp: { type: exec, command: ["/bin/true"] } }\ncertificates:\n  - { name: www, domains: [www.example.com], dns: corp }\n`,
  );
  const config = loadConfigFile(file, { env: {} });
  const store = new MemoryStore();
  await store.putCertificate('www', makeCertificate({ domains: ['www.example.com'] }), { directoryUrl: PRIMARY, issuedAt: new Date() });
  const [row] = await statusRows({ config, store, clock: systemClock, logger: silentLogger });
  expect(row!.issuer).toBe('default');
});
