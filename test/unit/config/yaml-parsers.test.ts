// The config is read by js-yaml and its problems are located with the `yaml` library: both must
// read every YAML form an operator may write the same way, or a config would mean one thing
// when valid and be reported as another when not.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, readYaml } from '../../../src/config/load.js';

const file = path.join(mkdtempSync(path.join(tmpdir(), 'ck-yaml-')), 'certkeeper.yaml');

const forms: Record<string, string> = {
  scalars: 'a: 1\nb: -2.5\nc: 0x1F\nd: 0o17\ne: .inf\nf: -.Inf\ng: 1e3\nh: 007\ni: "007"\n',
  booleansAndNulls: 'a: true\nb: False\nc: TRUE\nd: yes\ne: no\nf: on\ng: off\nh: ~\ni: null\nj:\nk: Null\n',
  dateLike: 'a: 2026-12-03\nb: 2026-12-03T10:00:00Z\nc: 12:30\nd: 1:20:00\n',
  quoting: `a: 'it''s'\nb: "tab\\tand \\u00e9"\nc: plain text with spaces\nd: "#not a comment" # a comment\ne: 'a: b'\n`,
  blocks: 'a: |\n  line one\n  line two\nb: >\n  folded\n  text\n\n  para\nc: |-\n  stripped\nd: >+\n  kept\n\n',
  collections: 'a: [1, two, "3", {x: y}]\nb: {k: v, n: [1, 2]}\nc:\n  - one\n  - { name: n, list: [] }\n  -\n    - nested\nd: []\ne: {}\n',
  anchors: 'base: &b { type: exec, command: [a, b] }\nuse: *b\nlist: [&x 5, *x]\n',
  mergeKeyIsAPlainKey: 'base: &b { a: 1 }\nother: { <<: *b, c: 2 }\n',
  keysOfOtherTypes: '1: one\ntrue: yes\n"quoted key": 2\n',
  documentMarkers: '%YAML 1.2\n---\na: 1\n...\n',
  comments: '# header\na: 1 # trailing\n# middle\nb:\n  # inside\n  c: 2\n',
  unicode: 'a: 日本語\nb: "\\U0001F512"\nc: ünïcödé.example\n',
  empty: '',
};

describe('the two YAML parsers', () => {
  for (const [name, text] of Object.entries(forms)) {
    it(`read ${name} the same way`, () => {
      const doc = parseDocument(text, { uniqueKeys: true });
      expect(doc.errors).toEqual([]);
      const viaYaml = doc.toJS() as unknown;
      const viaJsYaml = readYaml(text) ?? null;
      expect(viaJsYaml).toEqual(viaYaml);
    });
  }

  it('differ only where the config is better served: a key written `null` is the name "null"', () => {
    expect(readYaml('null: x\n')).toEqual({ null: 'x' });
    expect(parseDocument('null: x\n').toJS()).toEqual({ '': 'x' });
  });
});

describe('YAML problems in the config', () => {
  const problems = (text: string) => {
    try {
      parseConfig(text, file, { env: {} });
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    throw new Error('expected a ConfigError');
  };

  it('reports a duplicate key with its line', () => {
    const found = problems('stateDir: ./a\nacme: { directory: letsencrypt }\nstateDir: ./b\n');
    expect(found).toEqual([expect.objectContaining({ line: 3, message: expect.stringMatching(/^YAML: .*unique/i) })]);
  });

  it('refuses an unknown tag instead of guessing, with its line', () => {
    const found = problems('stateDir: ./a\nacme:\n  directory: !vault letsencrypt\n');
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ line: 3, message: expect.stringMatching(/^YAML: .*!vault/) });
  });

  it('reports a syntax error with its line', () => {
    const found = problems('stateDir: ./a\nacme:\n  directory: [unclosed\n');
    expect(found[0]!.message).toMatch(/^YAML:/);
    expect(found[0]!.line).toBeGreaterThanOrEqual(3);
  });
});
