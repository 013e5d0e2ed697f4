// 44 malformed configs through the compiled CLI: each is refused with exit 2 and an error naming
// the YAML path (and line) of the problem, and nothing is written: no state dir, no output.

import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BOMB_ALIASES } from '../helpers/alias-bomb.js';
import { runCli } from '../helpers/cli.js';

const BASE = {
  top: 'stateDir: ./state\nacme:\n  directory: "https://127.0.0.1:9/dir"\n  email: ops@example.test\n',
  dns: 'dns:\n  d: { type: rfc2136, server: "127.0.0.1:9", tsigKeyName: k, tsigSecret: "c2VjcmV0" }\n',
  sinks: 'sinks:\n  f: { type: files, dir: "./out/{cert}" }\n',
  certs: 'certificates:\n  - { name: a, domains: [a.example.test], dns: d, sinks: [f] }\n',
};
const config = (parts: Partial<typeof BASE> & { extra?: string } = {}): string =>
  `${parts.top ?? BASE.top}${parts.extra ?? ''}${parts.dns ?? BASE.dns}${parts.sinks ?? BASE.sinks}${parts.certs ?? BASE.certs}`;
const cert = (fields: string): string => `certificates:\n  - { ${fields} }\n`;

/** [what is wrong, the config text, what the error must name] */
const CASES: [string, string, string | RegExp][] = [
  ['unclosed flow sequence', config({ certs: 'certificates: [\n' }), /line \d+/],
  ['bad indentation', config({ extra: 'backoff:\n  - 1m\n - 2m\n' }), /line \d+/],
  ['duplicate YAML key', config({ extra: 'maxConcurrent: 2\nmaxConcurrent: 3\n' }), /line \d+/],
  ['not a mapping at all', '- just\n- a list\n', /\(top level\)|line \d+/],
  ['maxConcurrent as text', config({ extra: 'maxConcurrent: four\n' }), 'maxConcurrent'],
  ['maxConcurrent zero', config({ extra: 'maxConcurrent: 0\n' }), 'maxConcurrent'],
  ['maxConcurrent too large', config({ extra: 'maxConcurrent: 1000\n' }), 'maxConcurrent'],
  ['unknown top-level key', config({ extra: 'colour: blue\n' }), 'colour'],
  ['unknown acme key', config({ top: `${BASE.top}  directry: x\n` }), 'directry'],
  ['unknown certificate key (typo)', config({ certs: cert('name: a, domain: [a.example.test], dns: d') }), 'certificates[0]'],
  ['name with a space', config({ certs: cert('name: "a b", domains: [a.example.test], dns: d') }), 'certificates[0].name'],
  ['name walking out of the folder', config({ certs: cert('name: "../etc", domains: [a.example.test], dns: d') }), 'certificates[0].name'],
  ['name with shell metacharacters', config({ certs: cert('name: "a;rm -rf", domains: [a.example.test], dns: d') }), 'certificates[0].name'],
  ['name too long', config({ certs: cert(`name: ${'n'.repeat(101)}, domains: [a.example.test], dns: d`) }), 'certificates[0].name'],
  [
    'duplicate certificate names',
    config({ certs: 'certificates:\n  - { name: a, domains: [a.example.test], dns: d }\n  - { name: a, domains: [b.example.test], dns: d }\n' }),
    'certificates[1].name',
  ],
  ['no domains', config({ certs: cert('name: a, domains: [], dns: d') }), 'certificates[0].domains'],
  ['domain with a space', config({ certs: cert('name: a, domains: ["exa mple.test"], dns: d') }), 'certificates[0].domains[0]'],
  ['domain with a shell substitution', config({ certs: cert('name: a, domains: ["$(id).example.test"], dns: d') }), 'certificates[0].domains[0]'],
  ['unsupported key type', config({ certs: cert('name: a, domains: [a.example.test], dns: d, keyType: rsa-1024') }), 'certificates[0].keyType'],
  ['dangling DNS provider', config({ certs: cert('name: a, domains: [a.example.test], dns: nope') }), 'certificates[0].dns'],
  ['dangling sink', config({ certs: cert('name: a, domains: [a.example.test], dns: d, sinks: [nope]') }), 'certificates[0].sinks'],
  ['bad renewBefore', config({ certs: cert('name: a, domains: [a.example.test], dns: d, renewBefore: forever') }), 'certificates[0].renewBefore'],
  ['bad backoff duration', config({ extra: 'backoff: [soon]\n' }), 'backoff[0]'],
  ['negative duration', config({ extra: 'shutdownTimeout: -5s\n' }), 'shutdownTimeout'],
  ['bad cron schedule', config({ extra: 'schedule: "every day"\n' }), 'schedule'],
  ['missing ACME directory', config({ top: 'stateDir: ./state\nacme:\n  email: ops@example.test\n' }), 'acme.directory'],
  ['ACME directory not a URL', config({ top: 'stateDir: ./state\nacme:\n  directory: not-a-url\n' }), 'acme.directory'],
  ['unknown DNS provider type', config({ dns: 'dns:\n  d: { type: carrier-pigeon }\n' }), 'dns.d'],
  [
    'DNS server not host:port',
    config({ dns: 'dns:\n  d: { type: rfc2136, server: "127.0.0.1:99999", tsigKeyName: k, tsigSecret: "c2VjcmV0" }\n' }),
    'dns.d.server',
  ],
  [
    'TSIG secret not base64',
    config({ dns: 'dns:\n  d: { type: rfc2136, server: "127.0.0.1:9", tsigKeyName: k, tsigSecret: "not base64!" }\n' }),
    'dns.d.tsigSecret',
  ],
  [
    'secret from a missing environment variable',
    config({ dns: 'dns:\n  d: { type: rfc2136, server: "127.0.0.1:9", tsigKeyName: k, tsigSecret: "${CK_CHAOS_UNSET_SECRET}" }\n' }),
    'dns.d.tsigSecret',
  ],
  [
    'secret file that does not exist',
    config({ dns: 'dns:\n  d: { type: rfc2136, server: "127.0.0.1:9", tsigKeyName: k, tsigSecretFile: ./no-such-file }\n' }),
    'dns.d.tsigSecretFile',
  ],
  ['files sink without a dir', config({ sinks: 'sinks:\n  f: { type: files }\n' }), 'sinks.f'],
  ['resolvers not a list', config({ extra: 'resolvers: 127.0.0.1:53\n' }), 'resolvers'],
  // Hostile and careless input (issue 14).
  ['billion-laughs alias bomb (under 1 KB)', config({ extra: BOMB_ALIASES }), /values once its aliases are expanded/],
  ['recursive alias', config({ extra: 'loop: &r [1, *r]\n' }), /loop\[1\] \(line \d+\): a recursive alias/],
  ['nesting past 64 levels', config({ extra: `deep: ${'['.repeat(5000)}${']'.repeat(5000)}\n` }), /maxDepth/],
  ['__proto__ at the top level', config({ extra: '__proto__: { stateDir: /etc }\n' }), '__proto__ (line 5): unknown key "__proto__"'],
  [
    '__proto__ inside a certificate',
    config({ certs: cert('name: a, domains: [a.example.test], dns: d, __proto__: { reuseKey: true }') }),
    'certificates[0].__proto__',
  ],
  ['domains a string, not a list', config({ certs: cert('name: a, domains: a.example.test, dns: d') }), 'expected a list, got the string "a.example.test"'],
  ['maxConcurrent a word', config({ extra: 'maxConcurrent: "lots"\n' }), 'expected a number, got the string "lots"'],
  ['timeout past what a timer holds', config({ sinks: 'sinks:\n  f: { type: exec, command: [/bin/true], timeout: 30d }\n' }), 'sinks.f.timeout'],
  [
    'two certificates on one sink folder',
    config({
      sinks: 'sinks:\n  f: { type: files, dir: ./out }\n',
      certs: 'certificates:\n  - { name: a, domains: [a.example.test], dns: d, sinks: [f] }\n  - { name: b, domains: [b.example.test], dns: d, sinks: [f] }\n',
    }),
    'certificates[0] ("a")',
  ],
  ['sink folder inside the state directory', config({ sinks: 'sinks:\n  f: { type: files, dir: "./state/{cert}" }\n' }), /the state directory/],
];

async function inBatches<T, R>(items: T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

describe('malformed configs', () => {
  it(`refuses each of ${CASES.length} with exit 2, its YAML path, and nothing written`, async () => {
    expect(CASES.length).toBeGreaterThanOrEqual(44);
    const results = await inBatches(CASES, 6, async ([what, text, expected]) => {
      const dir = mkdtempSync(path.join(tmpdir(), 'ck-badcfg-'));
      const file = path.join(dir, 'certkeeper.yaml');
      writeFileSync(file, text);
      // A 256 MB heap: an unbounded config (an alias bomb) ends the process instead of taking the machine.
      const result = await runCli(['--config', file, 'renew'], { env: { NODE_OPTIONS: '--max-old-space-size=256' } });
      return { what, expected, dir, ...result };
    });
    const problems: string[] = [];
    for (const { what, expected, dir, code, stderr } of results) {
      const named = typeof expected === 'string' ? stderr.includes(expected) : expected.test(stderr);
      if (code !== 2) problems.push(`${what}: exit ${code}`);
      if (!stderr.includes('invalid configuration') || !named) problems.push(`${what}: expected ${String(expected)} in\n${stderr}`);
      // Every problem line names where it is.
      for (const line of stderr.split('\n').filter((l) => l.startsWith('  '))) {
        if (!/^ {2}.*(\(line \d+\)|\(top level\)):/.test(line)) problems.push(`${what}: a line without its place: ${line}`);
      }
      if (existsSync(path.join(dir, 'state')) || existsSync(path.join(dir, 'out'))) problems.push(`${what}: wrote files`);
    }
    expect(problems).toEqual([]);
  });
});
