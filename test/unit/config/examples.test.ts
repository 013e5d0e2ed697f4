import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../../src/config/load.js';
import { REPO } from '../../helpers/cli.js';

// The examples read their secrets as systemd credentials (examples/systemd): a folder standing in for the unit's.
const credentials = mkdtempSync(path.join(tmpdir(), 'ck-example-credentials-'));
for (const [name, value] of Object.entries({
  tsig: 'c2VjcmV0LXNlY3JldC1zZWNyZXQ=',
  'slack-url': 'https://hooks.slack.com/services/T0/B0/x',
  'tickets-url': 'https://tickets.example.com/hook',
  'dns-api-token': 'token-for-the-example',
})) {
  writeFileSync(path.join(credentials, name), `${value}\n`, { mode: 0o600 });
}
const env = {
  CREDENTIALS_DIRECTORY: credentials,
  TSIG_SECRET: 'c2VjcmV0LXNlY3JldC1zZWNyZXQ=',
  DNS_API_TOKEN: 'token-for-the-example',
  EAB_HMAC_KEY: 'aG1hYy1rZXk',
  SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0/B0/x',
  TICKETS_WEBHOOK_URL: 'https://tickets.example.com/hook',
};
const EXAMPLES = path.join(REPO, 'examples');

describe('examples/', () => {
  // Every *.yaml under examples/, subfolders included (examples/aws/certkeeper.yaml).
  const files = readdirSync(EXAMPLES, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.yaml') && !name.startsWith(`kubernetes${path.sep}`)) // manifests: test/unit/packaging/sidecar-example.test.ts
    .filter((name) => !name.startsWith(`multi-agent${path.sep}`)) // systemd credentials: test/unit/config/multi-agent-example.test.ts
    .sort();
  it('has the RFC 2136 + nginx, exec-hook and AWS examples', () => {
    expect(files).toEqual(expect.arrayContaining(['rfc2136-nginx.yaml', 'exec-dns-hook.yaml', path.join('aws', 'certkeeper.yaml')]));
  });
  for (const name of files) {
    it(`${name} is a valid config`, () => {
      const config = loadConfigFile(path.join(EXAMPLES, name), { env });
      expect(config.certificates.length).toBeGreaterThan(0);
    });
  }

  it('aws/iam-policy.json grants what the route53 provider and the acm sink call, and no wildcard action', () => {
    const policy = JSON.parse(readFileSync(path.join(EXAMPLES, 'aws', 'iam-policy.json'), 'utf8')) as { Statement: { Action: string | string[] }[] };
    const actions = policy.Statement.flatMap((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]));
    expect(actions.sort()).toEqual(
      [
        'route53:ChangeResourceRecordSets',
        'route53:ListResourceRecordSets',
        'route53:GetChange',
        'route53:ListHostedZonesByName',
        'acm:ImportCertificate',
        'acm:AddTagsToCertificate',
        'acm:DescribeCertificate',
        'acm:ListCertificates',
        'acm:ListTagsForCertificate',
      ].sort(),
    );
  });
});
