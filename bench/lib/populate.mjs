// Fills a certkeeper state store with self-signed ECDSA P-256 certificates through the real store
// code (dist/), one per name, so `renew`, `status` and `run` have a fleet to look at without a CA.
// Given a folder, it opens the file store a `stateDir:` config opens there (openStateStore, the
// storage layout under <folder>/store); given an opened StateStore (file or PostgreSQL), that one.

import { webcrypto } from 'node:crypto';
import path from 'node:path';
import { REPO } from './common.mjs';

const DAY_MS = 86_400_000;

/**
 * Stores certificate `name` for `domain` valid from now-1d for `days`. With `deployedTo`, records
 * it as already deployed to those sinks (as the run that issued it would have), so nothing is pending.
 */
export async function populate(target, certs, { days = 90, concurrency = 16, onProgress, deployedTo = [] } = {}) {
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto);
  let store = target;
  if (typeof target === 'string') {
    const { openStateStore } = await import(path.join(REPO, 'dist/state/open.js'));
    const { stateSchema } = await import(path.join(REPO, 'dist/state/schema.js'));
    const { systemClock } = await import(path.join(REPO, 'dist/core/clock.js'));
    const { silentLogger } = await import(path.join(REPO, 'dist/core/logger.js'));
    store = await openStateStore({ state: stateSchema.parse({ type: 'file', dir: target }), agentId: 'bench-seed', clock: systemClock, logger: silentLogger });
  }
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const queue = [...certs];
  let done = 0;
  const one = async ({ name, domains }) => {
    const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
    const notBefore = new Date(Date.now() - DAY_MS);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: webcrypto.getRandomValues(new Uint8Array(16)).reduce((s, b) => s + b.toString(16).padStart(2, '0'), '7'),
      name: `CN=${domains[0]}`,
      notBefore,
      notAfter: new Date(notBefore.getTime() + days * DAY_MS),
      keys,
      signingAlgorithm: alg,
      extensions: [new x509.SubjectAlternativeNameExtension(domains.map((value) => ({ type: 'dns', value })))],
    });
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
    const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g).join('\n')}\n-----END PRIVATE KEY-----\n`;
    const certPem = `${cert.toString('pem').trim()}\n`;
    const stored = await store.putCertificate(
      name,
      { certPem, chainPem: '', fullchainPem: certPem, keyPem },
      { directoryUrl: 'https://bench.invalid/dir', issuedAt: notBefore },
    );
    if (deployedTo.length > 0) {
      const record = await store.getRecord(name);
      await store.putRecord(name, { ...record, deployed: Object.fromEntries(deployedTo.map((sink) => [sink, stored.info.serial])) });
    }
    done++;
    if (onProgress && done % 1000 === 0) onProgress(done);
  };
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let c = queue.shift(); c !== undefined; c = queue.shift()) await one(c);
    }),
  );
  return store;
}
