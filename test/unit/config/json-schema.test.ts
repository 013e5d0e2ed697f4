// The config's JSON Schema (config/json-schema.ts) as an editor uses it: every example names it on
// its first line and passes it as written (YAML parsed as yaml-language-server parses it, ${VAR}
// unexpanded, *File keys in place); it accepts what the loader accepts where only loading can
// tell the rest, and refuses the mistakes an editor can show while typing.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { configJsonSchema } from '../../../src/config/json-schema.js';
import { demoConfigText } from '../../../src/demo/config.js';
import { REPO } from '../../helpers/cli.js';

const EXAMPLES = path.join(REPO, 'examples');
/** Where the build writes the schema (package.json "build"; test/unit/packaging/config-schema.test.ts). */
const BUILT_SCHEMA = path.join(REPO, 'dist', 'certkeeper.schema.json');
const MODELINE = /^# yaml-language-server: \$schema=(\S+)\n/;

// validateFormats: false — `format: email` comes with zod's own pattern, which is checked.
const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
const check = ajv.compile(configJsonSchema());
const errorsOf = (config: unknown): string[] => (check(config) ? [] : (check.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`));

/** Every certkeeper config under examples/ (the Kubernetes manifests hold theirs inside a ConfigMap). */
const configs = readdirSync(EXAMPLES, { recursive: true, encoding: 'utf8' })
  .filter((name) => name.endsWith('.yaml') && !name.startsWith(`kubernetes${path.sep}`))
  .sort();

describe('the examples, as an editor sees them', () => {
  it('are all here: single-host, agent, exec hook, AWS, verify/watch, both multi-agent hosts', () => {
    expect(configs).toEqual(
      expect.arrayContaining([
        'agent.yaml',
        'exec-dns-hook.yaml',
        'rfc2136-nginx.yaml',
        'verify-and-watch.yaml',
        path.join('aws', 'certkeeper.yaml'),
        path.join('multi-agent', 'host-a', 'certkeeper.yaml'),
      ]),
    );
  });

  for (const name of configs) {
    it(`${name} starts with the schema line, pointing at the schema the build writes, and passes it`, () => {
      const text = readFileSync(path.join(EXAMPLES, name), 'utf8');
      const modeline = MODELINE.exec(text);
      expect(modeline, 'first line').not.toBeNull();
      expect(path.resolve(path.dirname(path.join(EXAMPLES, name)), modeline![1]!)).toBe(BUILT_SCHEMA);
      expect(errorsOf(parseYaml(text))).toEqual([]);
    });
  }

  it('the config inside examples/kubernetes/sidecar.yaml passes it', () => {
    const docs = parseAllDocuments(readFileSync(path.join(EXAMPLES, 'kubernetes', 'sidecar.yaml'), 'utf8')).map(
      (doc) => doc.toJS() as { kind?: string; data?: Record<string, string> },
    );
    const configMap = docs.find((doc) => doc.kind === 'ConfigMap' && doc.data?.['certkeeper.yaml']);
    expect(configMap).toBeDefined();
    expect(errorsOf(parseYaml(configMap!.data!['certkeeper.yaml']!))).toEqual([]);
  });

  it("the Helm chart's default config: passes it", () => {
    const values = parseYaml(readFileSync(path.join(REPO, 'charts', 'certkeeper', 'values.yaml'), 'utf8')) as { config: unknown };
    expect(errorsOf(values.config)).toEqual([]);
  });

  it('the demo writes the line too, pointing at the built schema from ./demo, and its config passes it', () => {
    const demoDir = path.join(REPO, 'demo');
    const text = demoConfigText(
      { directoryUrl: 'https://127.0.0.1:14000/dir', bindAddress: '127.0.0.1:5353', tsig: { keyName: 'k', algorithm: 'hmac-sha256' } },
      demoDir,
      BUILT_SCHEMA,
    );
    const modeline = MODELINE.exec(text);
    expect(modeline).not.toBeNull();
    expect(path.resolve(demoDir, modeline![1]!)).toBe(BUILT_SCHEMA);
    expect(errorsOf(parseYaml(text))).toEqual([]);
  });
});

describe('the schema', () => {
  const base = {
    acme: { directory: 'letsencrypt', email: 'ops@example.com' },
    dns: { corp: { type: 'rfc2136', server: '192.0.2.53', tsigKeyName: 'k', tsigSecret: '${TSIG_SECRET}' } },
    certificates: [{ name: 'www', domains: ['example.com'], dns: 'corp' }],
  };
  const corp = (fields: Record<string, unknown>): unknown => ({
    ...base,
    dns: { corp: { type: 'rfc2136', server: '192.0.2.53', tsigKeyName: 'k', ...fields } },
  });

  it('takes ${VAR} where a string has a pattern, a format or a list of values', () => {
    expect(errorsOf(base)).toEqual([]);
    expect(errorsOf({ ...base, acme: { directory: 'letsencrypt', email: '${ACME_EMAIL}', profile: '${PROFILE}' } })).toEqual([]);
    expect(errorsOf({ ...base, certificates: [{ ...base.certificates[0], keyType: '${KEY_TYPE}' }] })).toEqual([]);
    expect(errorsOf({ ...base, acme: { directory: 'letsencrypt', email: 'not an email' } })).not.toEqual([]);
    expect(errorsOf({ ...base, certificates: [{ ...base.certificates[0], keyType: 'rsa-1024' }] })).not.toEqual([]);
  });

  it("takes a secret's *File twin instead of the secret, never both, and needs one of them", () => {
    expect(errorsOf(corp({ tsigSecretFile: '${CREDENTIALS_DIRECTORY}/tsig' }))).toEqual([]);
    expect(errorsOf(corp({ tsigSecret: 'c2VjcmV0', tsigSecretFile: './tsig' }))).not.toEqual([]);
    expect(errorsOf(corp({}))).not.toEqual([]);
    // An optional secret: the twin or nothing.
    expect(errorsOf({ ...base, acme: { ...base.acme, eab: { kid: 'k', hmacKeyFile: './eab.key' } } })).toEqual([]);
  });

  it('refuses an unknown key, a wrong type, a missing required key and an unknown provider type', () => {
    expect(errorsOf({ ...base, acme: { directory: 'letsencrypt', emial: 'ops@example.com' } })).toEqual([
      expect.stringContaining('/acme must NOT have additional properties'),
    ]);
    expect(errorsOf({ ...base, maxConcurrent: 'four' })).not.toEqual([]);
    expect(errorsOf({ acme: base.acme, certificates: base.certificates })).toEqual([expect.stringContaining("must have required property 'dns'")]);
    expect(errorsOf({ ...base, dns: { corp: { type: 'carrier-pigeon' } } })).not.toEqual([]);
  });

  it('describes the file as written: durations as text or numbers, defaults optional', () => {
    expect(errorsOf({ ...base, backoff: ['1m', 600], shutdownTimeout: '30s', defaults: { renewBefore: '33%' } })).toEqual([]);
  });
});
