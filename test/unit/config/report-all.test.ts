// `validate` reports every problem in one run (issue 16): an unset ${VAR} no longer hides the
// schema's problems, and those no longer hide the cross-references (a certificate's dns:, sinks:
// and issuers:). An unknown key names the nearest known one; a YAML syntax error is one problem
// with its line and column, not a line for every follow-on error.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, type ConfigProblem } from '../../../src/config/load.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ck-report-all-'));
const file = path.join(dir, 'certkeeper.yaml');

const base = `stateDir: ./state
acme:
  directory: letsencrypt
  email: ops@example.com
dns:
  corp:
    type: rfc2136
    server: 127.0.0.1:5353
    tsigKeyName: certkeeper
    tsigSecret: \${TSIG_SECRET}
sinks:
  web: { type: files, dir: "./out/{cert}" }
certificates:
  - name: www
    domains: [example.com]
    dns: corp
    sinks: [web]
`;
const env = { TSIG_SECRET: 'c2VjcmV0LXNlY3JldC1zZWNyZXQ=' };

function problems(text: string, environment: NodeJS.ProcessEnv = env): ConfigProblem[] {
  try {
    parseConfig(text, file, { env: environment });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected the config to be rejected');
}

describe('every problem in one run', () => {
  it('reports an unset ${VAR}, two schema errors, a typo and a bad reference together', () => {
    const text = base
      .replace('  email: ops@example.com', '  emial: ops@example.com') // the typo'd key
      .replace('server: 127.0.0.1:5353', 'server: 127.0.0.1:99999') // schema error 1
      .replace('[example.com]', '[example.com]\n    keyType: rsa-1024') // schema error 2
      .replace('    sinks: [web]', '    sinks: [web, nginx]'); // the bad reference
    const found = problems(text, {}); // TSIG_SECRET unset
    expect(found.map((p) => p.path).sort()).toEqual([
      'acme.emial',
      'certificates[0].keyType',
      'certificates[0].sinks[1]',
      'dns.corp.server',
      'dns.corp.tsigSecret',
    ]);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'dns.corp.tsigSecret', line: 10, message: 'environment variable TSIG_SECRET is not set' }),
        expect.objectContaining({ path: 'acme.emial', line: 4, message: 'unknown key "emial"', suggestion: 'email' }),
        expect.objectContaining({ path: 'certificates[0].sinks[1]', line: 18, message: 'no sink named "nginx" (defined: web)' }),
      ]),
    );
  });

  it('does not repeat a value an unset ${VAR} or an unreadable *File left empty as a schema error', () => {
    expect(problems(base.replace('email: ops@example.com', 'email: ${ACME_EMAIL}'), env)).toEqual([
      expect.objectContaining({ path: 'acme.email', message: 'environment variable ACME_EMAIL is not set' }),
    ]);
    expect(problems(base.replace('tsigSecret: ${TSIG_SECRET}', 'tsigSecretFile: ./no-such-file'))).toEqual([
      expect.objectContaining({ path: 'dns.corp.tsigSecretFile', message: expect.stringContaining('cannot read') }),
    ]);
  });

  it('checks DNS, sink and issuer references while the schema finds problems elsewhere', () => {
    const found = problems(
      base
        .replace('acme:\n  directory: letsencrypt\n  email: ops@example.com', 'issuers:\n  - { name: le, directory: letsencrypt, email: not-an-email }')
        .replace('    dns: corp\n    sinks: [web]', '    dns: corpp\n    sinks: [webb]\n    issuers: [zerossl]')
        .replace('  web: { type: files, dir: "./out/{cert}" }', '  web: { type: files, dir: "./out/{cert}", keyMode: lots }'),
    );
    expect(found.map((p) => `${p.path}: ${p.message}`)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^issuers\[0\]\.email: /),
        expect.stringMatching(/^sinks\.web\.keyMode: /),
        'certificates[0].dns: no DNS provider named "corpp" (defined: corp)',
        'certificates[0].sinks[0]: no sink named "webb" (defined: web)',
        'certificates[0].issuers[0]: no issuer named "zerossl" (defined: le)',
      ]),
    );
    expect(found).toHaveLength(5);
  });

  it('counts an entry that fails the schema as defined, so references to it are not also reported', () => {
    const found = problems(base.replace('type: rfc2136', 'type: bind'));
    expect(found.map((p) => p.path)).toEqual(['dns.corp.type']);
  });

  it('still checks domains and duplicate names when another section is wrong', () => {
    const found = problems(base.replace('[example.com]', '[exa_mple.com]').replace('stateDir: ./state', 'stateDir: ./state\nmaxConcurrent: 0'));
    expect(found.map((p) => p.path).sort()).toEqual(['certificates[0].domains[0]', 'maxConcurrent']);
  });

  it('still reads an acme.caBundle while another section is wrong', () => {
    const found = problems(
      base
        .replace('  email: ops@example.com', '  email: ops@example.com\n  caBundle: ./missing.pem')
        .replace('stateDir: ./state', 'stateDir: ./state\nmaxConcurrent: 0'),
    );
    expect(found.map((p) => p.path).sort()).toEqual(['acme.caBundle', 'maxConcurrent']);
  });
});

describe('an unknown key', () => {
  it('names the nearest known key, transpositions and case included', () => {
    expect(problems(base.replace('  email:', '  emial:'))).toEqual([
      expect.objectContaining({ path: 'acme.emial', message: 'unknown key "emial"', suggestion: 'email' }),
    ]);
    expect(problems(base.replace('    dns: corp', '    DNS: corp'))).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'certificates[0].DNS', suggestion: 'dns' })]),
    );
    expect(problems(base.replace('stateDir: ./state', 'statedir: ./state'))).toEqual([expect.objectContaining({ path: 'statedir', suggestion: 'stateDir' })]);
  });

  it('names a *File twin of a secret field, which the schema itself never sees', () => {
    expect(problems(base.replace('tsigSecret: ${TSIG_SECRET}', 'tsigSecretfile: ./tsig.secret'))).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'dns.corp.tsigSecretfile', suggestion: 'tsigSecretFile' })]),
    );
  });

  it('gives each unknown key of a mapping its own problem, and no suggestion when nothing is near', () => {
    const found = problems(base.replace('  email: ops@example.com', '  emial: ops@example.com\n  colour: blue'));
    expect(found).toEqual([
      expect.objectContaining({ path: 'acme.emial', message: 'unknown key "emial"', suggestion: 'email' }),
      expect.objectContaining({ path: 'acme.colour', message: 'unknown key "colour"' }),
    ]);
    expect(found[1]).not.toHaveProperty('suggestion');
  });

  it('does not suggest a key the mapping already has', () => {
    const found = problems(base.replace('  email: ops@example.com', '  email: ops@example.com\n  emial: ops@example.com'));
    expect(found).toEqual([expect.objectContaining({ path: 'acme.emial' })]);
    expect(found[0]).not.toHaveProperty('suggestion');
  });
});

describe('a YAML syntax error', () => {
  it('is one problem with its line and column, not one for every follow-on error', () => {
    // A bad indentation early in a long file: the `yaml` library reports dozens of errors after it.
    const text = `${base.replace('  email: ops@example.com', ' email: ops@example.com')}${'  - { name: n, domains: [n.example.com], dns: corp }\n'.repeat(30)}`;
    const found = problems(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ path: '', line: 4, column: expect.any(Number), message: expect.stringMatching(/^YAML: /) });
  });

  it('an unclosed flow sequence: one problem where the parser gave up', () => {
    const found = problems('stateDir: ./a\nacme:\n  directory: [unclosed\n');
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ line: expect.any(Number), column: expect.any(Number) });
  });

  it("an unknown tag (js-yaml only) keeps its line and gains js-yaml's column", () => {
    expect(problems('stateDir: ./a\nacme:\n  directory: !vault letsencrypt\n')).toEqual([expect.objectContaining({ line: 3, column: expect.any(Number) })]);
  });

  it('says the column in the text of the error, on the line of the problem', () => {
    try {
      parseConfig('stateDir: ./a\nacme:\n  directory: !vault letsencrypt\n', file, { env: {} });
    } catch (error) {
      const lines = (error as Error).message.split('\n').slice(1);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^ {2}\(top level\) \(line 3\): YAML: .*, at column \d+$/);
      return;
    }
    throw new Error('expected the config to be rejected');
  });
});
