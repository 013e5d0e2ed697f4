// The doctor's state.store check: the store answers, and PostgreSQL without an encryption key warns.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { parseConfig } from '../../../src/config/load.js';
import { stateStoreCheck } from '../../../src/doctor/state-store.js';
import type { DoctorContext } from '../../../src/doctor/contract.js';
import type { StateStore } from '../../../src/state/contract.js';

const file = path.join(mkdtempSync(path.join(tmpdir(), 'ck-doctor-store-')), 'certkeeper.yaml');
const config = (state: string) => parseConfig(`${state}\nacme: { directory: "https://127.0.0.1:9/dir" }\ndns: {}\n`, file, { env: {} });
const ctx = (c: ReturnType<typeof config>, ping: () => Promise<void>): DoctorContext => ({
  config: c,
  store: { ping } as unknown as StateStore,
  clock: systemClock,
  logger: silentLogger,
  resolvers: [],
  dnsTimeoutMs: 1000,
  signal: new AbortController().signal,
});

describe('the state.store doctor check', () => {
  it('passes a file store that answers, naming the agent', async () => {
    const c = config('stateDir: ./state\nagent: { id: web-1 }');
    expect(await stateStoreCheck().run(ctx(c, async () => {}))).toEqual([
      { name: 'state.store', status: 'pass', message: expect.stringContaining('agent id web-1') },
    ]);
  });

  it('fails a store that does not answer, and warns about keys in clear in PostgreSQL', async () => {
    const c = config('state: { type: postgres, url: "postgres://certkeeper@127.0.0.1:9/certkeeper" }');
    const lines = await stateStoreCheck().run(ctx(c, async () => Promise.reject(new CertkeeperError('STATE_UNREACHABLE', 'connect ECONNREFUSED 127.0.0.1:9'))));
    expect(lines.map((l) => l.status)).toEqual(['fail', 'warn']);
    expect(lines[0]!.message).toContain('ECONNREFUSED');
    expect(lines[1]!.message).toContain('encryptionKeyFile');
  });

  it('does not warn when keys are sealed', async () => {
    writeFileSync(path.join(path.dirname(file), 'state.key'), Buffer.alloc(32, 1).toString('base64'));
    const c = config('state: { type: postgres, url: "postgres://certkeeper@127.0.0.1:9/certkeeper", encryptionKeyFile: ./state.key }');
    expect((await stateStoreCheck().run(ctx(c, async () => {}))).map((l) => l.status)).toEqual(['pass']);
  });
});
