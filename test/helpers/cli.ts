// Running the compiled CLI as a user does (dist/ is built by the global setup), and writing
// configs for a local stack.

import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { query } from '../../src/dns/wire/client.js';
import { rdata, txtValue } from '../../src/dns/wire/message.js';
import type { Stack } from '../../src/devstack/stack.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(REPO, 'dist/cli/main.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd ?? REPO,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A fresh folder holding the stack's CA bundle and TSIG secret, for one test's config and state. */
export function workDir(stack: Stack, prefix = 'ck-cli-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  writeFileSync(path.join(dir, 'pebble-ca.pem'), stack.pebble.caBundlePem);
  writeFileSync(path.join(dir, 'tsig.secret'), `${stack.bind.tsig.secret}\n`, { mode: 0o600 });
  return dir;
}

export interface ConfigParts {
  /** YAML for `certificates:` (already indented by two spaces per item). */
  certificates: string;
  sinks?: string;
  dns?: string;
  acmeExtra?: string;
  extra?: string;
}

/** A config for `stack`: rfc2136 provider `bind` with its TSIG secret in a file, files sink `files`. */
export function writeConfig(dir: string, stack: Stack, parts: ConfigParts): string {
  const { bind, pebble } = stack;
  const text = `stateDir: ./state
acme:
  directory: ${pebble.directoryUrl}
  email: ops@example.test
  caBundle: ./pebble-ca.pem
${parts.acmeExtra ?? ''}
resolvers: ["${bind.address}"]
${parts.extra ?? ''}
dns:
  bind:
    type: rfc2136
    server: ${bind.address}
    tsigKeyName: ${bind.tsig.keyName}
    tsigAlgorithm: ${bind.tsig.algorithm}
    tsigSecretFile: ./tsig.secret
    propagation: { nameservers: ["${bind.address}"], timeout: 20s, interval: 200ms }
${parts.dns ?? ''}
sinks:
  files:
    type: files
    dir: ./out/{cert}
${parts.sinks ?? ''}
certificates:
${parts.certificates}
`;
  const file = path.join(dir, 'certkeeper.yaml');
  writeFileSync(file, text);
  return file;
}

export async function txtAt(server: string, fqdn: string): Promise<string[]> {
  const response = await query(server, fqdn, 'TXT');
  return response.answers.filter((record) => record.type === 'TXT').map((record) => txtValue(rdata(record)));
}

export interface HistoryLine {
  at: string;
  cert: string;
  action: string;
  result: string;
  serial: string | null;
  notAfter: string | null;
  durationMs: number;
  error: string | null;
  sink?: string;
  code?: string;
}

export async function history(config: string, cert?: string, env: Record<string, string> = {}): Promise<HistoryLine[]> {
  const result = await runCli(['--config', config, 'history', ...(cert ? [cert] : []), '--json', '--limit', '1000'], { env });
  if (result.code !== 0) throw new Error(`history failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as HistoryLine[];
}

export function orders(lines: HistoryLine[]): HistoryLine[] {
  return lines.filter((line) => line.action === 'issue' || line.action === 'renew');
}

/** One certificate's line of `renew --json`. */
export interface RenewOutcomeLine {
  cert: string;
  action: string;
  reason: string;
  result: string;
  message: string;
  error?: string;
  code?: string;
}

/** `certkeeper renew --json` with `args`: the exit code, the outcomes and stderr (the log). */
export async function renewJson(config: string, args: string[] = []): Promise<{ code: number | null; outcomes: RenewOutcomeLine[]; stderr: string }> {
  const result = await runCli(['--config', config, 'renew', '--json', ...args]);
  return { code: result.code, outcomes: (JSON.parse(result.stdout || '{"outcomes":[]}') as { outcomes: RenewOutcomeLine[] }).outcomes, stderr: result.stderr };
}

/**
 * A `status --json` row of a certificate that is stored, as the ACME tests read it: the fields
 * StatusRow leaves null or optional before anything is stored are present here.
 */
export interface StoredStatusRow {
  name: string;
  state: string;
  serial: string;
  renewAt: string;
  renewReason: string;
  renewRule: string;
  renewMessage: string;
  notBefore: string;
  notAfter: string;
  ari: { windowStart: string; windowEnd: string; selectedAt: string; explanationUrl: string | null } | null;
  rateLimited: { issuer: string; until: string }[];
}

/** `certkeeper status --json`, which must succeed. */
export async function statusJson<Row = StoredStatusRow>(config: string): Promise<Row[]> {
  const result = await runCli(['--config', config, 'status', '--json']);
  if (result.code !== 0) throw new Error(`status failed (${result.code}): ${result.stderr}`);
  return JSON.parse(result.stdout) as Row[];
}
