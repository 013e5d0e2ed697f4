// The floor certkeeper is measured against: plain acme-client auto() issuing one certificate per
// name with the same concurrency, TXT records written through certkeeper's own RFC 2136 code, and
// no propagation check at all (skipChallengeVerification). Nothing stored or deployed.
// Usage: node bench/lib/floor.mjs <params.json>   (NODE_EXTRA_CA_CERTS must trust Pebble)

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from './common.mjs';

const params = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const acme = (await import(path.join(REPO, 'node_modules/acme-client/src/index.js'))).default;
const { createRfc2136Provider } = await import(path.join(REPO, 'dist/dns/providers/rfc2136/index.js'));
const { systemClock } = await import(path.join(REPO, 'dist/core/clock.js'));
const { silentLogger } = await import(path.join(REPO, 'dist/core/logger.js'));

const dns = createRfc2136Provider(
  {
    type: 'rfc2136',
    server: params.server,
    tsigKeyName: params.tsigKeyName,
    tsigAlgorithm: params.tsigAlgorithm,
    tsigSecret: params.tsigSecret,
    ttl: 60,
    timeout: 5000,
  },
  { name: 'floor', clock: systemClock, logger: silentLogger },
);
const client = new acme.Client({ directoryUrl: params.directoryUrl, accountKey: await acme.crypto.createPrivateEcdsaKey() });
await client.createAccount({ termsOfServiceAgreed: true, contact: ['mailto:floor@example.test'] });

async function issue(name) {
  const [, csr] = await acme.crypto.createCsr({ commonName: name, altNames: [name] }, await acme.crypto.createPrivateEcdsaKey());
  const record = (authz, value) => ({ fqdn: `_acme-challenge.${authz.identifier.value}`, value, domain: authz.identifier.value });
  return client.auto({
    csr,
    email: 'floor@example.test',
    termsOfServiceAgreed: true,
    challengePriority: ['dns-01'],
    skipChallengeVerification: true,
    challengeCreateFn: (authz, _challenge, value) => dns.presentTxt(record(authz, value)),
    challengeRemoveFn: (authz, _challenge, value) => dns.cleanupTxt(record(authz, value)),
  });
}

const queue = [...params.names];
let issued = 0;
await Promise.all(
  Array.from({ length: params.concurrency }, async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      await issue(name);
      issued++;
    }
  }),
);
process.stdout.write(`${JSON.stringify({ issued })}\n`);
