import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../../src/config/load.js';
import { REPO } from '../../helpers/cli.js';

const env = { TSIG_SECRET: 'c2VjcmV0LXNlY3JldC1zZWNyZXQ=', DNS_API_TOKEN: 'token-for-the-example', EAB_HMAC_KEY: 'aG1hYy1rZXk' };

describe('examples/', () => {
  const files = readdirSync(path.join(REPO, 'examples')).filter((name) => name.endsWith('.yaml'));
  it('has the RFC 2136 + nginx and exec-hook examples', () => {
    expect(files).toEqual(expect.arrayContaining(['rfc2136-nginx.yaml', 'exec-dns-hook.yaml']));
  });
  for (const name of files) {
    it(`${name} is a valid config`, () => {
      const config = loadConfigFile(path.join(REPO, 'examples', name), { env });
      expect(config.certificates.length).toBeGreaterThan(0);
    });
  }
});
