// config.secrets, the values registered for redaction (core/redaction.ts), holds every secret a
// config carries: secret fields (inline, ${ENV} or *File), each ${ENV} value used inside one,
// every hook `env:` value, webhook URLs and header values, EAB keys, and AWS keys from the
// environment certkeeper runs in.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ck-secrets-'));
const file = path.join(dir, 'certkeeper.yaml');
writeFileSync(path.join(dir, 'teams-url'), 'https://teams.example.test/workflows/from-a-file-0123\n');

const env = {
  TSIG_SECRET: 'c2VjcmV0LXNlY3JldC1zZWNyZXQ=',
  EAB_HMAC_KEY: 'zWNDZM6eQGHWpSRTPal5eIUYFTu7EajV',
  SLACK_PATH: 'T0000/B0000/slack-path-token',
  ALERTS_TOKEN: 'alerts-bearer-token-value',
  DNS_API_TOKEN: 'dns-api-token-from-env',
  AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  AWS_SESSION_TOKEN: 'session-token-from-the-environment',
  STATE_DIR: './state-from-env',
  CONTACT: 'ops@example.com',
};

const text = `
stateDir: \${STATE_DIR}
acme:
  directory: letsencrypt
  email: \${CONTACT}
  eab: { kid: kid-1, hmacKey: \${EAB_HMAC_KEY} }
notify:
  chat:
    type: slack
    url: https://hooks.slack.example/services/\${SLACK_PATH}
  teams:
    type: teams
    urlFile: ./teams-url
  tickets:
    type: webhook
    url: https://alerts.example.test/certkeeper
    headers: { Authorization: "Bearer \${ALERTS_TOKEN}" }
  pager:
    type: exec
    command: ["/usr/local/bin/page"]
    env: { PAGER_KEY: pager-inline-key }
dns:
  corp:
    type: rfc2136
    server: 127.0.0.1:5353
    tsigKeyName: certkeeper
    tsigSecret: \${TSIG_SECRET}
  script:
    type: exec
    command: ["/usr/local/bin/dns-hook"]
    env: { API_TOKEN: "token=\${DNS_API_TOKEN}", ZONE_ID: zone-inline-id }
sinks:
  reload:
    type: exec
    command: ["systemctl", "reload", "nginx"]
    env: { RELOAD_SECRET: reload-inline-secret }
certificates:
  - { name: www, domains: [example.com], dns: corp, sinks: [reload] }
`;

describe('config.secrets', () => {
  const config = parseConfig(text, file, { env });

  it('holds secret fields and each ${ENV} value used inside one', () => {
    expect(config.secrets).toEqual(
      expect.arrayContaining([
        env.TSIG_SECRET,
        env.EAB_HMAC_KEY,
        `https://hooks.slack.example/services/${env.SLACK_PATH}`,
        env.SLACK_PATH,
        'https://teams.example.test/workflows/from-a-file-0123',
        `Bearer ${env.ALERTS_TOKEN}`,
        env.ALERTS_TOKEN,
      ]),
    );
  });

  it('holds every hook env value, whole and the ${ENV} part', () => {
    expect(config.secrets).toEqual(
      expect.arrayContaining(['pager-inline-key', `token=${env.DNS_API_TOKEN}`, env.DNS_API_TOKEN, 'zone-inline-id', 'reload-inline-secret']),
    );
  });

  it('holds the AWS keys of the environment certkeeper runs in', () => {
    expect(config.secrets).toEqual(expect.arrayContaining([env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN]));
  });

  it('leaves out ${ENV} values outside secret fields', () => {
    expect(config.secrets).not.toContain(env.STATE_DIR);
    expect(config.secrets).not.toContain(env.CONTACT);
  });
});
