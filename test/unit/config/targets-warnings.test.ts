// Cross-checks on where sinks write (two certificates on one target, a target in the state
// directory) and the warnings a valid config carries (weakened transport security).

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, type ConfigProblem } from '../../../src/config/load.js';
import { isLoopbackHost } from '../../../src/config/warnings.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ck-targets-'));
const file = path.join(dir, 'certkeeper.yaml');

const head = `stateDir: ./state
acme: { directory: "https://127.0.0.1:9/dir" }
dns:
  d: { type: rfc2136, server: "127.0.0.1:9", tsigKeyName: k, tsigSecret: "c2VjcmV0" }
`;

function problems(text: string): ConfigProblem[] {
  try {
    parseConfig(text, file, { env: {} });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('CONFIG_INVALID');
    return (error as ConfigError).problems;
  }
  throw new Error('expected the config to be rejected');
}

describe('sink targets', () => {
  it('refuses two certificates sharing one files sink without {cert}, naming both', () => {
    const found = problems(`${head}sinks:
  shared: { type: files, dir: ./tls }
certificates:
  - { name: www, domains: [www.example.test], dns: d, sinks: [shared] }
  - { name: api, domains: [api.example.test], dns: d, sinks: [shared] }
`);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ path: 'certificates[1].sinks[0]', line: 9 });
    expect(found[0]!.message).toContain(`sink "shared" writes ${path.join(dir, 'tls')}, which certificates[0] ("www") through sink "shared" writes too`);
    expect(found[0]!.message).toContain('put {cert} in the dir');
  });

  it('refuses two sinks of different names that resolve to one folder', () => {
    const found = problems(`${head}sinks:
  a: { type: files, dir: "./tls/{cert}" }
  b: { type: files, dir: ./tls/www }
certificates:
  - { name: www, domains: [www.example.test], dns: d, sinks: [a] }
  - { name: api, domains: [api.example.test], dns: d, sinks: [b] }
`);
    expect(found).toEqual([
      expect.objectContaining({ path: 'certificates[1].sinks[0]', message: expect.stringContaining('certificates[0] ("www") through sink "a"') }),
    ]);
  });

  it('refuses a target inside another target', () => {
    const found = problems(`${head}sinks:
  outer: { type: files, dir: ./tls }
  inner: { type: files, dir: "./tls/{cert}" }
certificates:
  - { name: www, domains: [www.example.test], dns: d, sinks: [outer] }
  - { name: api, domains: [api.example.test], dns: d, sinks: [inner] }
`);
    expect(found).toEqual([
      expect.objectContaining({
        path: 'certificates[1].sinks[0]',
        message: expect.stringMatching(/inside .*tls, which certificates\[0\] \("www"\) through sink "outer" writes/),
      }),
    ]);
  });

  it('refuses a files sink in, at or around the state directory', () => {
    for (const target of ['./state/{cert}', './state', '.']) {
      const found = problems(`${head}sinks:
  f: { type: files, dir: "${target}" }
certificates:
  - { name: www, domains: [www.example.test], dns: d, sinks: [f] }
`);
      expect(found).toEqual([expect.objectContaining({ path: 'certificates[0].sinks[0]', message: expect.stringMatching(/the state directory .*state$/) })]);
    }
  });

  it('refuses two certificates writing one Kubernetes Secret or one ACM certificate', () => {
    const found = problems(`${head}sinks:
  k: { type: kubernetes-secret, secretName: shared-tls }
  acm: { type: acm, region: eu-west-1, certificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/abc" }
certificates:
  - { name: www, domains: [www.example.test], dns: d, sinks: [k, acm] }
  - { name: api, domains: [api.example.test], dns: d, sinks: [k, acm] }
`);
    expect(found.map((p) => p.path)).toEqual(['certificates[1].sinks[0]', 'certificates[1].sinks[1]']);
    expect(found[0]!.message).toContain('Secret');
    expect(found[1]!.message).toContain('ACM certificate arn:aws:acm:eu-west-1:123456789012:certificate/abc');
  });

  it('accepts one sink per certificate through {cert}', () => {
    const config = parseConfig(
      `${head}sinks:
  f: { type: files, dir: "./tls/{cert}" }
  k: { type: kubernetes-secret }
certificates:
  - { name: www, domains: [www.example.test], dns: d, sinks: [f, k] }
  - { name: api, domains: [api.example.test], dns: d, sinks: [f, k] }
`,
      file,
      { env: {} },
    );
    expect(config.certificates).toHaveLength(2);
  });
});

describe('config warnings', () => {
  const valid = (extra: string, directory = 'https://127.0.0.1:9/dir', env: NodeJS.ProcessEnv = {}) =>
    parseConfig(`${head.replace('https://127.0.0.1:9/dir', directory)}${extra}`, file, { env });

  it('know loopback in its spellings', () => {
    for (const host of ['localhost', 'ca.localhost', '127.0.0.1', '127.9.9.9', '[::1]', '::ffff:7f00:1', '[::ffff:127.0.0.1]'])
      expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['ca.example.test', '10.0.0.1', '0.0.0.0', '::', '[::ffff:a00:1]', 'localhost.example.test'])
      expect(isLoopbackHost(host), host).toBe(false);
  });

  it('are empty for a config that weakens nothing', () => {
    expect(
      valid(
        'http: { listen: "127.0.0.1:9107", allowRemoteReload: true }\nsinks:\n  f: { type: files, dir: "./tls/{cert}", keyMode: "0640" }\n',
        'http://localhost:14000/dir',
      ).warnings,
    ).toEqual([]);
  });

  it('warn of an http:// ACME directory outside loopback, acme: or issuers:', () => {
    expect(valid('', 'http://ca.example.test/dir').warnings).toEqual([
      { path: 'acme.directory', message: expect.stringMatching(/^http:\/\/ca\.example\.test\/dir is plain http:\/\//) },
    ]);
    const config = parseConfig(
      `stateDir: ./state
issuers:
  - { directory: "https://ca.example.test/dir" }
  - { directory: "https://ca2.example.test/dir", stagingDirectory: "http://10.0.0.1/dir" }
dns: {}
`,
      file,
      { env: {} },
    );
    expect(config.warnings.map((w) => w.path)).toEqual(['issuers[1].stagingDirectory']);
  });

  it('warn when NODE_TLS_REJECT_UNAUTHORIZED=0 is set', () => {
    expect(valid('', undefined, { NODE_TLS_REJECT_UNAUTHORIZED: '0' }).warnings).toEqual([
      { path: 'environment', message: expect.stringContaining('NODE_TLS_REJECT_UNAUTHORIZED=0') },
    ]);
    expect(valid('', undefined, { NODE_TLS_REJECT_UNAUTHORIZED: '1' }).warnings).toEqual([]);
  });

  it('warn of remote reloads on a listener other hosts can reach', () => {
    expect(valid('http: { listen: "0.0.0.0:9107", allowRemoteReload: true }\n').warnings).toEqual([
      { path: 'http.allowRemoteReload', message: expect.stringContaining('0.0.0.0:9107') },
    ]);
    expect(valid('http: { listen: "[::]:9107", allowRemoteReload: true }\n').warnings).toHaveLength(1);
    expect(valid('http: { listen: "0.0.0.0:9107" }\n').warnings).toEqual([]);
    expect(valid('http: { listen: "[::1]:9107", allowRemoteReload: true }\n').warnings).toEqual([]);
  });

  it('warn of a private key mode wider than 0640', () => {
    const config = valid(
      'sinks:\n  open: { type: files, dir: "./a/{cert}", keyMode: "0644" }\n  group: { type: files, dir: "./b/{cert}", keyMode: "0660" }\n  ok: { type: files, dir: "./c/{cert}", keyMode: "0600" }\n',
    );
    expect(config.warnings).toEqual([
      { path: 'sinks.open.keyMode', message: expect.stringMatching(/^0644 is wider than 0640: every user on the host can read the private key/) },
      { path: 'sinks.group.keyMode', message: expect.stringMatching(/^0660 is wider than 0640/) },
    ]);
  });
});
