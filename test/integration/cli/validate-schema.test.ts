// The config for machines and editors, through the compiled CLI (issue 16): `validate` lists every
// problem of a config with five mistakes in one run, and with --json prints them on stdout as JSON
// with exit 2; a YAML syntax error is one line with its column; `certkeeper schema` prints the
// config's JSON Schema, generated from the zod schema.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configJsonSchemaText } from '../../../src/config/json-schema.js';
import { runCli } from '../../helpers/cli.js';

const dir = (): string => mkdtempSync(path.join(tmpdir(), 'ck-validate-'));

function write(text: string): string {
  const file = path.join(dir(), 'certkeeper.yaml');
  writeFileSync(file, text);
  return file;
}

// Five mistakes: an unset ${VAR}, a port out of range and a key type that does not exist (the
// schema), a typo'd key, and a sink that is not defined (a reference). Three runs before.
const FIVE_MISTAKES = `stateDir: ./state
acme:
  directory: "https://127.0.0.1:9/dir"
  emial: ops@example.test
dns:
  d:
    type: rfc2136
    server: "127.0.0.1:99999"
    tsigKeyName: k
    tsigSecret: \${CK_TEST_UNSET_TSIG}
sinks:
  f: { type: files, dir: "./out/{cert}" }
certificates:
  - name: www
    domains: [www.example.test]
    dns: d
    keyType: rsa-1024
    sinks: [f, nginx]
`;

interface JsonProblem {
  path: string;
  line?: number;
  column?: number;
  message: string;
  suggestion?: string;
}

describe('certkeeper validate', () => {
  it('lists all five mistakes of a config in one run, in file order', async () => {
    const result = await runCli(['--config', write(FIVE_MISTAKES), 'validate']);
    expect(result.code).toBe(2);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^certkeeper: invalid configuration .*certkeeper\.yaml:$/);
    expect(lines.slice(1)).toEqual([
      '  acme.emial (line 4): unknown key "emial" (did you mean "email"?)',
      expect.stringMatching(/^ {2}dns\.d\.server \(line 8\): /),
      '  dns.d.tsigSecret (line 10): environment variable CK_TEST_UNSET_TSIG is not set',
      expect.stringMatching(/^ {2}certificates\[0\]\.keyType \(line 17\): /),
      '  certificates[0].sinks[1] (line 18): no sink named "nginx" (defined: f)',
    ]);
  });

  it('--json prints the problems on stdout as JSON, with exit 2 and nothing on stderr', async () => {
    const file = write(FIVE_MISTAKES);
    const result = await runCli(['--config', file, 'validate', '--json']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('');
    const report = JSON.parse(result.stdout) as { valid: boolean; file: string; problems: JsonProblem[] };
    expect(report.valid).toBe(false);
    expect(report.file).toBe(file);
    expect(report.problems.map((p) => p.path)).toEqual([
      'acme.emial',
      'dns.d.server',
      'dns.d.tsigSecret',
      'certificates[0].keyType',
      'certificates[0].sinks[1]',
    ]);
    expect(report.problems[0]).toEqual({ path: 'acme.emial', line: 4, message: 'unknown key "emial"', suggestion: 'email' });
    expect(report.problems[4]).toEqual({ path: 'certificates[0].sinks[1]', line: 18, message: 'no sink named "nginx" (defined: f)' });
  });

  it('--json says a missing file and a YAML syntax error the same way', async () => {
    const missing = await runCli(['--config', path.join(dir(), 'nope.yaml'), 'validate', '--json']);
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout)).toMatchObject({ valid: false, problems: [{ path: '', message: expect.stringContaining('ENOENT') }] });

    const broken = await runCli(['--config', write('stateDir: ./state\nacme:\n  directory: [unclosed\ndns: {}\n'), 'validate', '--json']);
    expect(broken.code).toBe(2);
    const report = JSON.parse(broken.stdout) as { problems: JsonProblem[] };
    expect(report.problems).toEqual([{ path: '', line: expect.any(Number), column: expect.any(Number), message: expect.stringMatching(/^YAML: /) }]);
  });

  it('a YAML syntax error is one line with its column, not a line for every follow-on error', async () => {
    // One space too few before `email:`, and 30 certificates after it.
    const text = `stateDir: ./state\nacme:\n  directory: "https://127.0.0.1:9/dir"\n email: ops@example.test\ndns:\n  d: { type: exec, command: [/bin/true] }\ncertificates:\n${'  - { name: n, domains: [n.example.test], dns: d }\n'.repeat(30)}`;
    const result = await runCli(['--config', write(text), 'validate']);
    expect(result.code).toBe(2);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^ {2}\(top level\) \(line 4\): YAML: .*, at column \d+$/);
  });
});

describe('certkeeper schema', () => {
  it('prints the JSON Schema generated from the zod schema, for editors', async () => {
    const result = await runCli(['schema']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(configJsonSchemaText());
    const schema = JSON.parse(result.stdout) as { $schema: string; properties: Record<string, unknown>; additionalProperties: boolean };
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['acme', 'issuers', 'dns', 'sinks', 'certificates', 'schedule', 'notify']));
    expect(schema.additionalProperties).toBe(false);
  });

  it('needs no config, and --help lists its exit codes', async () => {
    const result = await runCli(['--config', path.join(dir(), 'nope.yaml'), 'schema']);
    expect(result.code).toBe(0);
    const help = await runCli(['schema', '--help']);
    expect(help.stdout).toMatch(/\nExit codes:\n {2}0 {2}\S.*\n {2}2 {2}a config or usage error\n/);
  });
});
