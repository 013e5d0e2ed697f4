// The exec provider's optional batch extension (issue 18), with a real shell hook: a hook that
// declares `batch: true` gets the records of one batch window in ONE run, in environment variables
// only (CERTKEEPER_RECORDS, one JSON object a line, and CERTKEEPER_RECORD_COUNT); a record it
// refuses fails only that record; without `batch` it still runs once per record.

import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { batchingProvider, supportsBatches } from '../../../src/dns/batcher.js';
import type { TxtRecord } from '../../../src/dns/contract.js';
import { execDnsSchema } from '../../../src/dns/providers/exec/schema.js';
import { createDnsProvider } from '../../../src/dns/registry.js';

let dir: string;
let script: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'certkeeper-exec-batch-'));
  script = path.join(dir, 'hook.sh');
  // One line per run into $1: action, count, then the records as given; refuses any "bad" record.
  await writeFile(
    script,
    [
      '#!/bin/sh',
      'printf "run %s %s\\n" "$CERTKEEPER_ACTION" "${CERTKEEPER_RECORD_COUNT:-single}" >> "$1"',
      '[ -z "$CERTKEEPER_RECORDS" ] || printf "%s\\n" "$CERTKEEPER_RECORDS" >> "$1"',
      '[ -z "$CERTKEEPER_FQDN" ] || printf "fqdn %s\\n" "$CERTKEEPER_FQDN" >> "$1"',
      'case "$CERTKEEPER_RECORDS$CERTKEEPER_FQDN" in *bad*) echo "the API refused a record" >&2; exit 4;; esac',
      '',
    ].join('\n'),
  );
  await chmod(script, 0o755);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function provider(extra: Record<string, unknown> = {}) {
  const out = path.join(dir, `runs-${Math.random().toString(36).slice(2)}.txt`);
  const config = execDnsSchema.parse({ type: 'exec', command: [script, out], timeout: '5s', batchWindow: '100ms', ...extra });
  const dns = createDnsProvider(config, { name: 'script', clock: systemClock, logger: silentLogger });
  return { out, dns };
}

const records = (n: number, prefix = 'c'): TxtRecord[] =>
  Array.from({ length: n }, (_, i) => ({
    fqdn: `_acme-challenge.${prefix}${i}.example.test`,
    domain: `${prefix}${i}.example.test`,
    value: `value-${prefix}${i}`,
  }));

async function runs(out: string): Promise<{ head: string; lines: string[] }[]> {
  const text = await readFile(out, 'utf8');
  return text
    .split(/^(?=run )/m)
    .filter(Boolean)
    .map((chunk) => {
      const [head, ...lines] = chunk.trim().split('\n');
      return { head: head!, lines };
    });
}

describe('exec DNS provider: batch extension', () => {
  it('presents and cleans up the records of one window in one run each, records as JSON lines in the environment', async () => {
    const { out, dns } = provider({ batch: true });
    expect(supportsBatches(dns)).toBe(true);
    const batched = batchingProvider(dns as Parameters<typeof batchingProvider>[0], { clock: systemClock, logger: silentLogger });
    const five = records(5);
    await Promise.all(five.map((r) => batched.presentTxt(r)));
    await Promise.all(five.map((r) => batched.cleanupTxt(r)));
    const seen = await runs(out);
    expect(seen.map((r) => r.head)).toEqual(['run present 5', 'run cleanup 5']);
    for (const run of seen) expect(run.lines.map((line) => JSON.parse(line) as TxtRecord).sort((a, b) => a.fqdn.localeCompare(b.fqdn))).toEqual(five);
    expect(batched.batcher.stats.batches).toBe(2);
  });

  it('passes values verbatim, never through a shell', async () => {
    const { out, dns } = provider({ batch: true });
    const batched = batchingProvider(dns as Parameters<typeof batchingProvider>[0], { clock: systemClock, logger: silentLogger });
    const marker = path.join(dir, 'pwned');
    const tricky = [
      { fqdn: '_acme-challenge.a.example.test', domain: 'a.example.test', value: `$(touch ${marker})` },
      { fqdn: '_acme-challenge.b.example.test', domain: 'b.example.test', value: `"; touch ${marker}; echo "` },
    ];
    await Promise.all(tricky.map((r) => batched.presentTxt(r)));
    const [run] = await runs(out);
    expect(run!.lines.map((line) => (JSON.parse(line) as TxtRecord).value).sort()).toEqual(tricky.map((r) => r.value).sort());
    expect(existsSync(marker)).toBe(false);
  });

  it('a record the hook refuses fails only its own certificate: the others of the batch are written', async () => {
    const { out, dns } = provider({ batch: true });
    const batched = batchingProvider(dns as Parameters<typeof batchingProvider>[0], { clock: systemClock, logger: silentLogger });
    const batch = [...records(3), { fqdn: '_acme-challenge.bad.example.test', domain: 'bad.example.test', value: 'v' }];
    const results = await Promise.allSettled(batch.map((r) => batched.presentTxt(r)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    const error = (results[3] as PromiseRejectedResult).reason as CertkeeperError;
    expect(error.code).toBe('DNS_UPDATE_FAILED');
    expect(error.message).toContain('the API refused a record');
    // Every good record was written by a run that did not fail.
    const written = (await runs(out)).filter((run) => !run.lines.some((line) => line.includes('bad')));
    const good = written.flatMap((run) => run.lines.filter((line) => line.startsWith('{')).map((line) => (JSON.parse(line) as TxtRecord).fqdn));
    expect(new Set(good)).toEqual(new Set(records(3).map((r) => r.fqdn)));
  });

  it('without batch: one run per record with the single-record variables, as before', async () => {
    const { out, dns } = provider();
    expect(supportsBatches(dns)).toBe(false);
    await Promise.all(records(3).map((r) => dns.presentTxt(r)));
    const seen = await runs(out);
    expect(seen.map((r) => r.head)).toEqual(['run present single', 'run present single', 'run present single']);
    expect(seen.every((r) => r.lines.length === 1 && r.lines[0]!.startsWith('fqdn '))).toBe(true);
  });
});
