import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../src/config/load.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ck-issuers-'));
const file = path.join(dir, 'certkeeper.yaml');
writeFileSync(path.join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');

const rest = `
dns:
  corp: { type: exec, command: ["/bin/true"] }
certificates:
  - { name: www, domains: [example.com], dns: corp }
`;

function problems(text: string): string[] {
  try {
    parseConfig(text, file, { env: {} });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error('expected the config to be rejected');
}

describe('issuers', () => {
  it('makes acme: the one-issuer case, named "default"', () => {
    const config = parseConfig(`acme: { directory: letsencrypt, email: ops@example.com, profile: tlsserver }\n${rest}`, file, { env: {} });
    expect(config.issuers).toEqual([
      expect.objectContaining({ name: 'default', directoryUrl: 'https://acme-v02.api.letsencrypt.org/directory', profile: 'tlsserver' }),
    ]);
    expect(config.acme.directoryUrl).toBe('https://acme-v02.api.letsencrypt.org/directory');
  });

  it('reads an ordered list with names, staging twins and per-certificate choices', () => {
    const config = parseConfig(
      `issuers:
  - { name: le, directory: letsencrypt, email: ops@example.com, stagingDirectory: "https://staging.example/dir" }
  - { directory: "https://acme.zerossl.example/v2/DV90", eab: { kid: k, hmacKey: aGVsbG8 }, caBundle: ./ca.pem, preferredChain: "Root X" }
dns:
  corp: { type: exec, command: ["/bin/true"] }
certificates:
  - { name: www, domains: [example.com], dns: corp, issuers: [issuer2, le], profile: shortlived }
`,
      file,
      { env: {} },
    );
    expect(config.issuers.map((i) => i.name)).toEqual(['le', 'issuer2']);
    expect(config.issuers[0]).toMatchObject({ stagingDirectoryUrl: 'https://staging.example/dir' });
    expect(config.issuers[1]).toMatchObject({ eab: { kid: 'k' }, caBundlePath: path.join(dir, 'ca.pem'), preferredChain: 'Root X' });
    expect(config.acme).toBe(config.issuers[0]);
    expect(config.certificates[0]).toMatchObject({ issuers: ['issuer2', 'le'], profile: 'shortlived' });
    // An issuer's EAB key is a secret like acme.eab's: redacted from logs.
    expect(config.secrets).toContain('aGVsbG8');
  });

  it('rejects both or neither, duplicate names and unknown references', () => {
    expect(problems(`acme: { directory: letsencrypt }\nissuers: [{ directory: letsencrypt }]\n${rest}`)).toEqual([expect.stringContaining('not both')]);
    expect(problems(rest)).toEqual([expect.stringMatching(/^acme: is required/)]);
    expect(problems(`issuers: [{ name: a, directory: letsencrypt }, { name: a, directory: letsencrypt-staging }]\n${rest}`)).toEqual([
      expect.stringContaining('issuers[1].name: "a" is already used'),
    ]);
    expect(problems(`issuers: [{ name: a, directory: letsencrypt }]\n${rest.replace('dns: corp }', 'dns: corp, issuers: [b] }')}`)).toEqual([
      'certificates[0].issuers[0]: no issuer named "b" (defined: a)',
    ]);
    expect(problems(`acme: { directory: letsencrypt, profile: "short lived" }\n${rest}`)).toEqual([expect.stringContaining('acme.profile')]);
  });
});

describe('rate-limit budgets and lifetimes in config', () => {
  it("budgets Let's Encrypt's published limits by default, none for other CAs, and takes overrides", () => {
    const le = parseConfig(`acme: { directory: letsencrypt, email: ops@example.com }\n${rest}`, file, { env: {} });
    expect(le.issuers[0]!.rateLimits).toEqual({ newOrders: { limit: 300, windowMs: 3 * 3_600_000 }, failedAuthorizations: { limit: 5, windowMs: 3_600_000 } });
    const other = parseConfig(`acme: { directory: "https://ca.example/dir" }\n${rest}`, file, { env: {} });
    expect(other.issuers[0]!.rateLimits).toBeUndefined();
    const custom = parseConfig(`acme: { directory: "https://ca.example/dir", rateLimits: { newOrders: { limit: 50, window: 1h } } }\n${rest}`, file, {
      env: {},
    });
    expect(custom.issuers[0]!.rateLimits).toEqual({ newOrders: { limit: 50, windowMs: 3_600_000 } });
    const tuned = parseConfig(`acme: { directory: letsencrypt, rateLimits: { failedAuthorizations: { limit: 3, window: 1h } } }\n${rest}`, file, { env: {} });
    expect(tuned.issuers[0]!.rateLimits).toEqual({
      newOrders: { limit: 300, windowMs: 3 * 3_600_000 },
      failedAuthorizations: { limit: 3, windowMs: 3_600_000 },
    });
  });

  it('reads lifetime on issuers and certificates, and rejects nonsense with its path', () => {
    const config = parseConfig(
      `acme: { directory: "https://ca.example/dir", lifetime: 7d }
dns:
  corp: { type: exec, command: ["/bin/true"] }
certificates:
  - { name: www, domains: [example.com], dns: corp, lifetime: 160h }
`,
      file,
      { env: {} },
    );
    expect(config.issuers[0]!.lifetimeMs).toBe(7 * 86_400_000);
    expect(config.certificates[0]!.lifetimeMs).toBe(160 * 3_600_000);
    expect(problems(`acme: { directory: "https://ca.example/dir", lifetime: 10s }\n${rest}`)).toEqual([expect.stringMatching(/^acme\.lifetime.*at least 1m/)]);
    expect(problems(`acme: { directory: "https://ca.example/dir", rateLimits: { newOrders: { limit: 0, window: 1h } } }\n${rest}`)).toEqual([
      expect.stringMatching(/^acme\.rateLimits/),
    ]);
  });
});
