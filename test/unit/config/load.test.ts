import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../src/config/load.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ck-config-'));
const file = path.join(dir, 'certkeeper.yaml');

const base = `
stateDir: ./state
acme:
  directory: letsencrypt
  email: ops@example.com
dns:
  corp:
    type: rfc2136
    server: 127.0.0.1:5353
    tsigKeyName: certkeeper
    tsigSecret: \${TSIG_SECRET}
  script:
    type: exec
    command: ["/usr/local/bin/dns-hook"]
sinks:
  web:
    type: files
    dir: ./out/{cert}
  reload:
    type: exec
    command: ["systemctl", "reload", "nginx"]
    timeout: 60s
certificates:
  - name: www
    domains: [Example.COM, "*.example.com"]
    dns: corp
    sinks: [web, reload]
`;

const env = { TSIG_SECRET: 'c2VjcmV0LXNlY3JldC1zZWNyZXQ=' };

function problems(text: string, environment: NodeJS.ProcessEnv = env): { path: string; line?: number; message: string }[] {
  try {
    parseConfig(text, file, { env: environment });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected the config to be rejected');
}

describe('config loading', () => {
  it('parses the contract example with defaults, aliases and resolved paths', () => {
    const config = parseConfig(base, file, { env });
    expect(config.stateDir).toBe(path.join(dir, 'state'));
    expect(config.acme.directoryUrl).toBe('https://acme-v02.api.letsencrypt.org/directory');
    const cert = config.certificates[0]!;
    expect(cert.domains).toEqual(['example.com', '*.example.com']);
    expect(cert.keyType).toBe('ecdsa-p256');
    expect(cert.renewBefore).toEqual({ kind: 'fraction', fraction: 0.33, shortLifetimeFraction: 0.5 });
    expect(config.dns.corp).toMatchObject({ type: 'rfc2136', tsigSecret: env.TSIG_SECRET, tsigAlgorithm: 'hmac-sha256' });
    expect(config.sinks.web).toMatchObject({ dir: path.join(dir, 'out/{cert}'), keyMode: 0o600 });
    expect(config.sinks.reload).toMatchObject({ timeout: 60_000 });
    expect(config.secrets).toContain(env.TSIG_SECRET);
  });

  it('reads a secret from its *File twin and remembers it for redaction', () => {
    const secretFile = path.join(dir, 'tsig.secret');
    writeFileSync(secretFile, 'ZmlsZS1zZWNyZXQtdmFsdWU=\n');
    const config = parseConfig(base.replace('tsigSecret: ${TSIG_SECRET}', 'tsigSecretFile: ./tsig.secret'), file, { env: {} });
    expect(config.dns.corp).toMatchObject({ tsigSecret: 'ZmlsZS1zZWNyZXQtdmFsdWU=' });
    expect(config.secrets).toContain('ZmlsZS1zZWNyZXQtdmFsdWU=');
  });

  it('accepts durations and percentages for renewBefore', () => {
    const config = parseConfig(base.replace('    sinks: [web, reload]', '    sinks: [web, reload]\n    renewBefore: 30d\n    keyType: rsa-3072'), file, {
      env,
    });
    expect(config.certificates[0]!.renewBefore).toEqual({ kind: 'duration', ms: 30 * 86_400_000 });
    expect(config.certificates[0]!.keyType).toBe('rsa-3072');
  });

  it('names a missing environment variable with its YAML path', () => {
    const found = problems(base, {});
    expect(found).toEqual([expect.objectContaining({ path: 'dns.corp.tsigSecret', message: 'environment variable TSIG_SECRET is not set' })]);
    expect(found[0]!.line).toBe(11);
  });

  it('rejects unknown keys, with the path of the typo', () => {
    const found = problems(base.replace('    dns: corp', '    dns: corp\n    sinkz: [web]'));
    expect(found).toEqual([expect.objectContaining({ path: 'certificates[0].sinkz', message: 'unknown key "sinkz"' })]);
  });

  it('rejects bad domain names, unknown references and malformed YAML', () => {
    const bad = base
      .replace('[Example.COM, "*.example.com"]', '[exa_mple.com, "foo.*.example.com", localhost]')
      .replace('sinks: [web, reload]', 'sinks: [web, nginx]')
      .replace('dns: corp\n    sinks', 'dns: corpp\n    sinks');
    const found = problems(bad);
    const paths = found.map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'certificates[0].domains[0]',
        'certificates[0].domains[1]',
        'certificates[0].domains[2]',
        'certificates[0].dns',
        'certificates[0].sinks[1]',
      ]),
    );
    expect(found.find((p) => p.path === 'certificates[0].dns')!.message).toContain('no DNS provider named "corpp"');
    expect(problems('acme: [unclosed')[0]!.message).toMatch(/^YAML:/);
  });

  it('rejects a wildcard on a provider that declares it cannot hold two values', () => {
    const found = problems(
      base.replace('command: ["/usr/local/bin/dns-hook"]', 'command: ["/usr/local/bin/dns-hook"]\n    wildcard: false').replace('dns: corp', 'dns: script'),
    );
    expect(found).toEqual([expect.objectContaining({ path: 'certificates[0].domains[1]' })]);
  });

  it('rejects a shell string as a command and an unknown provider type', () => {
    const found = problems(
      base.replace('command: ["systemctl", "reload", "nginx"]', 'command: "systemctl reload nginx"').replace('type: rfc2136', 'type: bind'),
    );
    expect(found.map((p) => p.path)).toEqual(expect.arrayContaining(['sinks.reload.command', 'dns.corp.type']));
  });
});

describe('environment references', () => {
  it('work unquoted inside flow mappings, as the contract writes them, and never inject YAML', () => {
    const text = base.replace('  email: ops@example.com', '  email: ops@example.com\n  eab: { kid: abc, hmacKey: ${EAB_HMAC_KEY} }');
    const config = parseConfig(text, file, { env: { ...env, EAB_HMAC_KEY: 'x: {y}\n- z' } });
    expect(config.acme.eab).toEqual({ kid: 'abc', hmacKey: 'x: {y}\n- z' });
    expect(config.secrets).toContain('x: {y}\n- z');
  });
  it('keeps $${ as a literal ${', () => {
    const config = parseConfig(
      base.replace('command: ["/usr/local/bin/dns-hook"]', () => 'command: ["/usr/local/bin/dns-hook", "$${HOME}"]'),
      file,
      { env },
    );
    expect(config.dns.script).toMatchObject({ command: ['/usr/local/bin/dns-hook', '${HOME}'] });
  });
});
