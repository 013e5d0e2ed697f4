// Hostile and careless config input (issue 14): alias bombs and recursive aliases, sizes past the
// limits (the file, ${ENV} values, *File contents), `__proto__` keys, durations a timer cannot
// hold, wrong types reported as such, and lookups that must not find Object.prototype's members.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, loadConfigFile, type ConfigProblem } from '../../../src/config/load.js';
import { BILLION_LAUGHS, BOMB_BASE } from '../../helpers/alias-bomb.js';
import { MAX_CONFIG_BYTES, MAX_REFERENCE_BYTES, MAX_REFERENCES_TOTAL_BYTES, MAX_REPORTED_PROBLEMS } from '../../../src/config/bounds.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ck-hostile-'));
const file = path.join(dir, 'certkeeper.yaml');

const base = BOMB_BASE;

function problems(text: string, env: NodeJS.ProcessEnv = {}): ConfigProblem[] {
  try {
    parseConfig(text, file, { env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected the config to be rejected');
}

describe('YAML aliases', () => {
  it('refuses a billion-laughs config of under 1 KB, without expanding it', () => {
    expect(Buffer.byteLength(BILLION_LAUGHS)).toBeLessThan(1024);
    const found = problems(BILLION_LAUGHS);
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toMatch(/more than 1,000,000 values once its aliases are expanded/);
    expect(found[0]!.path).toMatch(/^x\./);
  });

  it('refuses an alias bomb made of one long string repeated', () => {
    const long = 'x'.repeat(200_000);
    const text = `${base}s: &s "${long}"\nl: &l [${Array(50).fill('*s').join(',')}]\nm: [${Array(50).fill('*l').join(',')}]\n`;
    expect(problems(text)[0]!.message).toMatch(/characters once its aliases are expanded/);
  });

  it('refuses a recursive alias instead of looping (js-yaml builds it as a cycle)', () => {
    expect(problems(`${base}x: &r [1, *r]\n`)[0]).toMatchObject({ path: 'x[1]', message: expect.stringMatching(/recursive alias/) });
    expect(problems(`${base}y: &m { k: *m }\n`)[0]).toMatchObject({ path: 'y.k', message: expect.stringMatching(/recursive alias/) });
  });

  it("refuses nesting past 64 levels, in the text or through aliases, with js-yaml's line", () => {
    const deep = problems(`${base}x: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`);
    expect(deep).toEqual([expect.objectContaining({ line: 9, message: expect.stringMatching(/^YAML: .*maxDepth \(64\)/) })]);
    // 40 levels, anchored, used 40 levels down: 80 deep once expanded.
    const nested = (n: number, inner: string): string => `${'['.repeat(n)}${inner}${']'.repeat(n)}`;
    const found = problems(`${base}a: &a ${nested(40, '1')}\nb: ${nested(40, '*a')}\n`);
    expect(found[0]!.message).toMatch(/nested deeper than 64 levels/);
  });

  it('still accepts aliases used the ordinary way', () => {
    const config = parseConfig(
      base
        .replace('  f: { type: files, dir: "./out/{cert}" }', '  f: &files { type: files, dir: "./out/{cert}" }\n  g: *files')
        .replace('sinks: [f] }', 'sinks: [f] }\n  - { name: b, domains: [b.example.test], dns: d, sinks: [g] }'),
      file,
      { env: {} },
    );
    expect(config.sinks.g).toEqual(config.sinks.f);
  });

  it('lists the first problems of a repeated mistake and counts the rest', () => {
    const bad = '{ name: "bad name", domains: [a.example.test], dns: d }';
    const text = base.replace('  - { name: a, domains: [a.example.test], dns: d, sinks: [f] }', `  - &bad ${bad}\n${'  - *bad\n'.repeat(300)}`);
    const found = problems(text);
    expect(found).toHaveLength(MAX_REPORTED_PROBLEMS + 1);
    expect(found.at(-1)!.message).toBe(`and ${301 - MAX_REPORTED_PROBLEMS} more problems`);
  });
});

describe('sizes', () => {
  it('refuses a config file over the size limit before reading it', () => {
    const big = path.join(dir, 'big.yaml');
    writeFileSync(big, `${base}# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`);
    expect(() => loadConfigFile(big, { env: {} })).toThrow(/is \d+ bytes, over the limit of 4 MiB/);
    expect(problems(`${base}# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`)[0]!.message).toMatch(/over the limit of 4 MiB/);
  });

  it('stops reading at the limit what has no size (a device, a FIFO)', () => {
    expect(() => loadConfigFile('/dev/zero', { env: {} })).toThrow(/larger than the limit of 4 MiB/);
    const found = problems(base.replace('tsigSecret: "c2VjcmV0"', 'tsigSecretFile: /dev/zero'));
    expect(found).toEqual([expect.objectContaining({ path: 'dns.d.tsigSecretFile', message: '/dev/zero is larger than the limit of 64 KiB' })]);
  });

  it('refuses an ${ENV} value over the limit, naming the variable and not its value', () => {
    const found = problems(base.replace('tsigSecret: "c2VjcmV0"', 'tsigSecret: "${HUGE}"'), { HUGE: 'A'.repeat(MAX_REFERENCE_BYTES + 1) });
    expect(found).toEqual([
      expect.objectContaining({
        path: 'dns.d.tsigSecret',
        message: expect.stringMatching(/environment variable HUGE holds 65537 bytes, over the limit of 64 KiB/),
      }),
    ]);
  });

  it('refuses ${ENV} references that add more than the total limit together, once', () => {
    const value = 'A'.repeat(MAX_REFERENCE_BYTES);
    const count = Math.ceil(MAX_REFERENCES_TOTAL_BYTES / MAX_REFERENCE_BYTES) + 5;
    const text = `${base}x: &x "\${BIG}"\ny: [${Array(count).fill('*x').join(', ')}]\n`;
    const found = problems(text, { BIG: value });
    expect(found.filter((p) => /add more than 1 MiB/.test(p.message))).toHaveLength(1);
  });

  it('refuses a *File over the limit without reading it all', () => {
    writeFileSync(path.join(dir, 'huge.secret'), 'A'.repeat(MAX_REFERENCE_BYTES + 1));
    const found = problems(base.replace('tsigSecret: "c2VjcmV0"', 'tsigSecretFile: ./huge.secret'));
    expect(found).toEqual([
      expect.objectContaining({ path: 'dns.d.tsigSecretFile', message: expect.stringMatching(/huge\.secret is 65537 bytes, over the limit of 64 KiB/) }),
    ]);
  });
});

describe('__proto__ keys', () => {
  it('are unknown keys at the top level and inside a certificate, like any other', () => {
    expect(problems(`${base}__proto__: { stateDir: /etc }\n`)).toEqual([
      expect.objectContaining({ path: '__proto__', line: 9, message: 'unknown key "__proto__"' }),
    ]);
    const found = problems(base.replace('sinks: [f] }', 'sinks: [f], __proto__: { reuseKey: true } }'));
    expect(found).toEqual([expect.objectContaining({ path: 'certificates[0].__proto__', line: 8, message: 'unknown key "__proto__"' })]);
  });

  it('stay keys when an ${ENV} reference in a key expands to it', () => {
    const found = problems(`${base}\${KEY}: { stateDir: /etc }\n`, { KEY: '__proto__' });
    expect(found).toEqual([expect.objectContaining({ path: '__proto__', message: 'unknown key "__proto__"' })]);
  });

  it("do not make names of Object.prototype's members resolve", () => {
    const found = problems(base.replace('dns: d, sinks: [f]', 'dns: constructor, sinks: [toString]'));
    expect(found.map((p) => p.path)).toEqual(['certificates[0].dns', 'certificates[0].sinks[0]']);
  });
});

describe('durations that feed a timer', () => {
  it('are refused past 2^31-1 ms, where setTimeout would fire after 1 ms', () => {
    const found = problems(
      base.replace(
        '  f: { type: files, dir: "./out/{cert}" }',
        '  f: { type: files, dir: "./out/{cert}" }\n  hook: { type: exec, command: [/bin/true], timeout: 30d }',
      ),
    );
    expect(found).toEqual([expect.objectContaining({ path: 'sinks.hook.timeout', message: expect.stringMatching(/too long: at most 24d 20h/) })]);
    expect(problems(`${base}shutdownTimeout: 25d\n`)[0]!.path).toBe('shutdownTimeout');
  });

  it('stay long where no timer holds them: lifetimes, backoff, rehearsals', () => {
    const config = parseConfig(
      `${base}backoff: [1h, 30d]\nrehearse: { every: 60d }\n`.replace(
        'directory: "https://127.0.0.1:9/dir"',
        'directory: "https://127.0.0.1:9/dir", lifetime: 90d',
      ),
      file,
      { env: {} },
    );
    expect(config.backoffMs).toEqual([3_600_000, 30 * 86_400_000]);
    expect(config.daemon.rehearseEveryMs).toBe(60 * 86_400_000);
    expect(config.acme.lifetimeMs).toBe(90 * 86_400_000);
  });
});

describe('wrong types', () => {
  it('name the type expected and the one given, not "is required"', () => {
    expect(problems(`${base}maxConcurrent: "lots"\n`)).toEqual([
      expect.objectContaining({ path: 'maxConcurrent', message: 'expected a number, got the string "lots"' }),
    ]);
    const domains = problems(base.replace('domains: [a.example.test]', 'domains: a.example.com'));
    expect(domains).toEqual([expect.objectContaining({ path: 'certificates[0].domains', message: 'expected a list, got the string "a.example.com"' })]);
    expect(problems(`${base}resolvers: { a: b }\n`)[0]!.message).toBe('expected a list, got a mapping');
    expect(problems(base.replace('acme: { directory: "https://127.0.0.1:9/dir" }', 'acme: { directory: [a] }'))[0]!.message).toBe(
      'expected a string, got a list',
    );
    expect(problems(`${base}shutdownTimeout: [1s]\n`)[0]!.message).toBe('expected a string or a number, got a list');
  });

  it('still say "is required" for what is missing', () => {
    expect(problems(base.replace('dns: d, sinks: [f]', 'sinks: [f]'))).toEqual([
      expect.objectContaining({ path: 'certificates[0].dns', message: 'is required' }),
    ]);
  });

  it("never show a secret field's value", () => {
    const found = problems(base.replace('tsigSecret: "c2VjcmV0"', 'tsigSecret: 987654321'));
    expect(found[0]!.message).toBe('expected a string, got a number');
  });
});
