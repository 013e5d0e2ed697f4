// `certkeeper state copy`: a file store filled by real renewals (Pebble behind the ACME proxy,
// which counts orders at the CA, and BIND) copied into PostgreSQL with keys sealed, and back.
// What the copy promises: the target agent orders nothing and serves the same serials; history
// comes along in order; a target that holds certificates is refused unless --merge, which keeps
// the newer certificate of the two; nothing secret reaches the database in clear or an error.

import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../../src/devstack/stack.js';
import { proxyConfig, startAcmeProxy, type AcmeProxy } from '../../helpers/acme-proxy.js';
import { history, orders, renewJson, runCli, statusJson, workDir } from '../../helpers/cli.js';
import { startPostgres, type PostgresCluster } from '../../helpers/postgres.js';

let stack: Stack;
let proxy: AcmeProxy;
let cluster: PostgresCluster;

beforeAll(async () => {
  [stack, cluster] = await Promise.all([startStack({ pebble: { authzReusePercent: 0 } }), startPostgres()]);
  proxy = await startAcmeProxy(stack.pebble);
  proxy.ari = false; // Pebble 2.4 has none
});
afterAll(async () => {
  await proxy?.stop();
  await Promise.allSettled([stack?.stop(), cluster?.stop()]);
});

let schemas = 0;

interface Site {
  dir: string;
  /** The file store's config (stateDir: ./state). */
  file: string;
  /** The same certificates and sinks on PostgreSQL, keys sealed (a fresh schema). */
  postgres: string;
  schema: string;
}

/** One folder, two configs that differ only in `state:` (so the files sink is the same folder). */
function site(names: string[]): Site {
  const dir = workDir(stack, 'ck-copy-');
  const file = proxyConfig(dir, stack, proxy, {
    certificates: names.map((name) => `  - { name: ${name}, domains: [${name}.example.test], dns: bind, sinks: [files] }`).join('\n'),
  });
  writeFileSync(path.join(dir, 'state.key'), `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  const schema = `copy${process.pid}_${++schemas}`;
  const postgres = stateConfig(
    file,
    'certkeeper-pg.yaml',
    `state:\n  type: postgres\n  url: ${cluster.url}\n  schema: ${schema}\n  encryptionKeyFile: ./state.key\n  localDir: ./pg-local\n`,
  );
  return { dir, file, postgres, schema };
}

/** A config beside `file` with its `stateDir:` line replaced by `state`. */
function stateConfig(file: string, name: string, state: string): string {
  const text = readFileSync(file, 'utf8').replace(/^stateDir: \.\/state\n/m, state);
  if (text === readFileSync(file, 'utf8')) throw new Error(`no stateDir line in ${file}`);
  const other = path.join(path.dirname(file), name);
  writeFileSync(other, text);
  return other;
}

interface CopyJson {
  dryRun: boolean;
  copied: Record<string, number>;
  certificates: { name: string; serial: string | null; action: string; reason?: string }[];
  kept: string[];
  failed: string[];
}

async function copy(
  from: string,
  to: string,
  args: string[] = [],
): Promise<{ code: number | null; report: CopyJson | undefined; stderr: string; stdout: string }> {
  const result = await runCli(['--config', from, 'state', 'copy', '--to', to, '--json', ...args]);
  let report: CopyJson | undefined;
  try {
    report = JSON.parse(result.stdout) as CopyJson;
  } catch {
    report = undefined;
  }
  return { code: result.code, report, stderr: result.stderr, stdout: result.stdout };
}

/** The storage keys under `prefix` of a file store rooted at `root`, sorted. */
function keysUnder(root: string, prefix: string): string[] {
  const keys: string[] = [];
  const walk = (dir: string, key: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      if (entry.isDirectory()) walk(path.join(dir, entry.name), `${key}/${entry.name}`);
      else keys.push(`${key}/${entry.name}`);
    }
  };
  walk(path.join(root, prefix), prefix);
  return keys.sort();
}

/** Every file below `dir` with its content and mode, for "nothing was written". */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isSymbolicLink()) files[path.relative(dir, full)] = `-> ${readlinkSync(full)}`;
      else if (entry.isDirectory()) walk(full);
      else files[path.relative(dir, full)] = `${lstatSync(full).mode.toString(8)} ${readFileSync(full).toString('base64')}`;
    }
  };
  walk(dir);
  return files;
}

const inTimeOrder = <T extends { at: string; cert: string; action: string }>(lines: T[]): T[] =>
  [...lines].sort((a, b) => a.at.localeCompare(b.at) || a.cert.localeCompare(b.cert) || a.action.localeCompare(b.action));

const serials = async (config: string): Promise<Record<string, string>> => Object.fromEntries((await statusJson(config)).map((row) => [row.name, row.serial]));

describe('certkeeper state copy', () => {
  it('copies a file store filled by real renewals into PostgreSQL (keys sealed): the agent there orders nothing and shows the same serials; a second copy is refused, --merge keeps what is there', async () => {
    const s = site(['alpha', 'beta']);
    const first = await renewJson(s.file);
    expect(first.code, first.stderr).toBe(0);
    // A rehearsal, so the dry-run index has an entry to carry over.
    const rehearsal = await renewJson(s.file, ['--dry-run', '--cert', 'alpha']);
    expect(rehearsal.code, rehearsal.stderr).toBe(0);
    const ordered = proxy.orders.length;
    const fileSerials = await serials(s.file);
    expect(Object.keys(fileSerials).sort()).toEqual(['alpha', 'beta']);
    const fileHistory = await history(s.file);
    expect(orders(fileHistory)).toHaveLength(2);

    // A dry run lists, and writes nothing: the real copy afterwards finds the target empty.
    const dry = await copy(s.file, s.postgres, ['--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.report!.dryRun).toBe(true);
    expect(dry.report!.certificates.map((c) => [c.name, c.action])).toEqual([
      ['alpha', 'would copy'],
      ['beta', 'would copy'],
    ]);
    expect(dry.report!.copied.accounts).toBe(1);

    const untouched = snapshot(path.join(s.dir, 'state'));
    const copied = await copy(s.file, s.postgres);
    expect(copied.code, copied.stderr).toBe(0);
    expect(snapshot(path.join(s.dir, 'state')), 'the source is only read').toEqual(untouched);
    expect(copied.report!.failed).toEqual([]);
    expect(copied.report!.certificates.map((c) => [c.name, c.serial, c.action])).toEqual([
      ['alpha', fileSerials.alpha, 'copied'],
      ['beta', fileSerials.beta, 'copied'],
    ]);
    expect(copied.report!.copied).toMatchObject({ certificates: 2, records: 2, accounts: 1, history: fileHistory.length });

    // Sealed with the target's key: no private key in clear in the database.
    const rows = await cluster.query<{ key: string; value: Buffer }>(`SELECT key, value FROM ${s.schema}.kv`);
    expect(rows.some((row) => row.key.startsWith('accounts/'))).toBe(true);
    expect(rows.filter((row) => /^certs\/[^/]+\/versions\//.test(row.key))).toHaveLength(2);
    for (const row of rows) expect(row.value.toString('latin1')).not.toContain('PRIVATE KEY');
    // Every value the file store keeps per certificate (versions, record, sink and challenge data) is there.
    const fileKeys = keysUnder(path.join(s.dir, 'state', 'store'), 'certs');
    expect(fileKeys.length).toBeGreaterThan(4);
    expect(
      rows
        .map((row) => row.key)
        .filter((key) => key.startsWith('certs/'))
        .sort(),
    ).toEqual(fileKeys);
    const dryRuns = rows.find((row) => row.key === 'history/dry-runs');
    expect(JSON.parse(dryRuns!.value.toString('utf8'))).toEqual({ alpha: expect.objectContaining({ result: 'success' }) });

    // The agent on PostgreSQL has nothing to order: the same certificates, the same history.
    const renewed = await renewJson(s.postgres);
    expect(renewed.code, renewed.stderr).toBe(0);
    expect(proxy.orders.length).toBe(ordered);
    expect(await serials(s.postgres)).toEqual(fileSerials);
    const pgHistory = await history(s.postgres);
    // The same entries; PostgreSQL lists them by time, the file log by append order (an order
    // that started first may finish last), so they are compared in time order.
    expect(inTimeOrder(orders(pgHistory))).toEqual(inTimeOrder(orders(fileHistory)));
    expect(inTimeOrder(pgHistory)).toEqual(inTimeOrder(fileHistory));

    // Again without --merge: refused (exit 2), naming --merge, nothing written.
    const again = await copy(s.file, s.postgres);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already holds 2 certificate\(s\) and 1 account\(s\).*--merge/);
    expect(again.stderr + again.stdout).not.toContain(cluster.password);

    // With --merge: the same certificates are kept, history is not appended twice.
    const merged = await copy(s.file, s.postgres, ['--merge']);
    expect(merged.code, merged.stderr).toBe(0);
    expect(merged.report!.certificates.map((c) => c.action)).toEqual(['kept', 'kept']);
    expect(merged.report!.copied).toMatchObject({ certificates: 0, accounts: 0, history: 0 });
    expect(merged.report!.kept.join('\n')).toMatch(/same certificate/);
    expect(await history(s.postgres)).toEqual(pgHistory);

    // --merge never overwrites a newer certificate: alpha renewed on PostgreSQL stays; beta renewed
    // in the file store since replaces the older one there.
    const forcedAlpha = await renewJson(s.postgres, ['--force', '--cert', 'alpha']);
    expect(forcedAlpha.code, forcedAlpha.stderr).toBe(0);
    const forcedBeta = await renewJson(s.file, ['--force', '--cert', 'beta']);
    expect(forcedBeta.code, forcedBeta.stderr).toBe(0);
    const pgAlpha = (await serials(s.postgres)).alpha;
    const fileBeta = (await serials(s.file)).beta;
    expect(pgAlpha).not.toBe(fileSerials.alpha);
    expect(fileBeta).not.toBe(fileSerials.beta);
    const newer = await copy(s.file, s.postgres, ['--merge']);
    expect(newer.code, newer.stderr).toBe(0);
    expect(newer.report!.certificates.map((c) => [c.name, c.action])).toEqual([
      ['alpha', 'kept'],
      ['beta', 'copied'],
    ]);
    expect(newer.report!.certificates[0]!.reason).toMatch(/newer/);
    expect(await serials(s.postgres)).toEqual({ alpha: pgAlpha, beta: fileBeta });
    // beta's archive came along: the version replaced in the file store and the new one.
    expect(await cluster.query(`SELECT key FROM ${s.schema}.kv WHERE key LIKE 'certs/beta/versions/%'`)).toHaveLength(2);
    const before = proxy.orders.length;
    const quiet = await renewJson(s.postgres);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(proxy.orders.length).toBe(before);
  });

  it('copies PostgreSQL back into a file store (keys opened, stored plain there): renew there orders nothing; a damaged source value is listed and exits 1; the text report', async () => {
    const s = site(['gamma', 'delta']);
    const first = await renewJson(s.postgres);
    expect(first.code, first.stderr).toBe(0);
    const pgSerials = await serials(s.postgres);
    const back = stateConfig(s.file, 'certkeeper-back.yaml', 'stateDir: ./state-back\n');

    const copied = await runCli(['--config', s.postgres, 'state', 'copy', '--to', back]);
    expect(copied.code, copied.stderr).toBe(0);
    expect(copied.stdout).toMatch(/^CERTIFICATE\s+SERIAL/m);
    expect(copied.stdout).toMatch(/^gamma\s+\S+\s+.*copied/m);
    expect(copied.stdout).toMatch(/^certificates\s+2$/m);

    const pgKeys = (await cluster.query<{ key: string }>(`SELECT key FROM ${s.schema}.kv WHERE key LIKE 'certs/%' ORDER BY key`)).map((row) => row.key);
    expect(keysUnder(path.join(s.dir, 'state-back', 'store'), 'certs')).toEqual(pgKeys.sort());
    const ordered = proxy.orders.length;
    const renewed = await renewJson(back);
    expect(renewed.code, renewed.stderr).toBe(0);
    expect(proxy.orders.length).toBe(ordered);
    expect(await serials(back)).toEqual(pgSerials);
    expect(inTimeOrder(await history(back))).toEqual(inTimeOrder(await history(s.postgres)));

    // A damaged value in the source is reported by key, the rest still copied, exit 1.
    mkdirSync(path.join(s.dir, 'state-back', 'store', 'issuers'), { recursive: true, mode: 0o700 });
    writeFileSync(path.join(s.dir, 'state-back', 'store', 'issuers', '00000000deadbeef'), 'not json\n', { mode: 0o600 });
    const other = stateConfig(s.file, 'certkeeper-other.yaml', 'stateDir: ./state-other\n');
    const damaged = await copy(back, other);
    expect(damaged.code, damaged.stderr).toBe(1);
    expect(damaged.report!.failed).toEqual([expect.stringContaining('issuers/00000000deadbeef')]);
    expect(damaged.report!.copied.certificates).toBe(2);
  });

  it('refuses a target whose keys do not open with its config, and names no password when the database refuses', async () => {
    const s = site(['eps']);
    const first = await renewJson(s.postgres);
    expect(first.code, first.stderr).toBe(0);
    const fromFile = await renewJson(s.file);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    const wrong = stateConfig(
      s.file,
      'certkeeper-wrong.yaml',
      `state:\n  type: postgres\n  url: ${cluster.url.replace(cluster.password, 'wrongpassword4321')}\n  schema: ${s.schema}\n  localDir: ./pg-local\n`,
    );
    const refused = await copy(s.file, wrong);
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toMatch(/STATE_UNREACHABLE|password/);
    expect(refused.stderr + refused.stdout).not.toContain('wrongpassword4321');

    // The PostgreSQL store sealed with one key; a config with another key is refused (exit 2).
    writeFileSync(path.join(s.dir, 'other.key'), `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    const otherKey = stateConfig(
      s.file,
      'certkeeper-otherkey.yaml',
      `state:\n  type: postgres\n  url: ${cluster.url}\n  schema: ${s.schema}\n  encryptionKeyFile: ./other.key\n  localDir: ./pg-local\n`,
    );
    const back = stateConfig(s.file, 'certkeeper-back.yaml', 'stateDir: ./state-back\n');
    const keyRefused = await copy(otherKey, back);
    expect(keyRefused.code).toBe(2);
    expect(keyRefused.stderr).toMatch(/encryptionKeyFile/);
  });
});
