// The `state:` and `agent:` config: stateDir as a file store, PostgreSQL settings checked at
// validate time (URL, encryption key file), the agent id from the environment checked too.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../src/config/load.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ck-state-config-'));
const file = path.join(dir, 'certkeeper.yaml');
const text = (state: string) => `${state}\nacme: { directory: "https://127.0.0.1:9/dir" }\ndns: {}\n`;
const problems = (state: string, env: Record<string, string> = {}): string[] => {
  try {
    parseConfig(text(state), file, { env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return [];
};

describe('state:', () => {
  it('reads stateDir as a file store beside the config, and the agent id from the environment first', () => {
    const config = parseConfig(text('stateDir: ./state\nagent: { id: from-config }'), file, { env: { CERTKEEPER_AGENT_ID: 'from-env' } });
    expect(config.state).toEqual({ type: 'file', dir: path.join(dir, 'state'), lockTtl: 120_000 });
    expect(config.stateDir).toBe(path.join(dir, 'state'));
    expect(config.agentId).toBe('from-env');
  });

  it('reads PostgreSQL settings with their defaults, and paths beside the config', () => {
    writeFileSync(path.join(dir, 'state.key'), `${Buffer.alloc(32, 7).toString('base64')}\n`);
    const config = parseConfig(text('state: { type: postgres, url: "postgres://ck@db.internal/ck", encryptionKeyFile: ./state.key }'), file, { env: {} });
    expect(config.state).toMatchObject({
      type: 'postgres',
      schema: 'certkeeper',
      lockTtl: 120_000,
      localDir: '/var/lib/certkeeper',
      encryptionKeyFile: path.join(dir, 'state.key'),
    });
    expect(config.secrets).toContain('postgres://ck@db.internal/ck');
  });

  it('reads the kubernetes store with its defaults, the kubeconfig and key file beside the config; a key file that is not a key is refused', () => {
    writeFileSync(path.join(dir, 'state.key'), `${Buffer.alloc(32, 7).toString('base64')}\n`);
    const config = parseConfig(text('state: { type: kubernetes, kubeconfig: ./kube.yaml, encryptionKeyFile: ./state.key }'), file, { env: {} });
    expect(config.state).toEqual({
      type: 'kubernetes',
      prefix: 'certkeeper',
      lockTtl: 120_000,
      localDir: '/var/lib/certkeeper',
      kubeconfig: path.join(dir, 'kube.yaml'),
      encryptionKeyFile: path.join(dir, 'state.key'),
    });
    writeFileSync(path.join(dir, 'short.key'), 'c2hvcnQ=\n');
    expect(problems('state: { type: kubernetes, encryptionKeyFile: ./short.key }')).toEqual([expect.stringMatching(/^state\.encryptionKeyFile: /)]);
    expect(problems('state: { type: kubernetes, prefix: Not_A_Label }')).toEqual([expect.stringMatching(/^state\.prefix: /)]);
  });

  it('refuses stateDir and state together, a URL that is not postgres://, a key file that is not a key, and a bad agent id', () => {
    expect(problems('stateDir: ./state\nstate: { type: file, dir: ./other }')).toEqual([expect.stringContaining('give either stateDir')]);
    expect(problems('state: { type: postgres, url: "mysql://db/ck" }')).toEqual([expect.stringMatching(/^state\.url: must be a postgres:\/\/ URL/)]);
    writeFileSync(path.join(dir, 'short.key'), 'not a key\n');
    expect(problems('state: { type: postgres, url: "postgres://db/ck", encryptionKeyFile: ./short.key }')).toEqual([
      expect.stringMatching(/^state\.encryptionKeyFile: .*256-bit key/),
    ]);
    expect(problems('state: { type: postgres, url: "postgres://db/ck", encryptionKeyFile: ./missing.key }')).toEqual([
      expect.stringMatching(/^state\.encryptionKeyFile: cannot read/),
    ]);
    expect(problems('stateDir: ./state', { CERTKEEPER_AGENT_ID: 'web 1/../x' })).toEqual([expect.stringContaining('CERTKEEPER_AGENT_ID')]);
    expect(problems('state: { type: s3 }')).toEqual(['state.type: unknown or missing "type"']);
  });

  it('reads pollInterval, the watch poll, between 1s and 10m for either store', () => {
    expect(parseConfig(text('state: { type: file, dir: ./state, pollInterval: 15s }'), file, { env: {} }).state).toMatchObject({ pollInterval: 15_000 });
    expect(parseConfig(text('state: { type: postgres, url: "postgres://db/ck", pollInterval: 2m }'), file, { env: {} }).state).toMatchObject({
      pollInterval: 120_000,
    });
    expect(parseConfig(text('stateDir: ./state'), file, { env: {} }).state).not.toHaveProperty('pollInterval'); // the storage's 20 s
    for (const bad of ['500ms', '11m', '30d']) {
      expect(problems(`state: { type: postgres, url: "postgres://db/ck", pollInterval: ${bad} }`), bad).toContain(
        'state.pollInterval: must be between 1s and 10m',
      );
    }
    expect(problems('state: { type: file, dir: ./state, pollInterval: 0s }')).toEqual(['state.pollInterval: must be between 1s and 10m']);
  });
});
