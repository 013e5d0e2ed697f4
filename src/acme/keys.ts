// Certificate private keys and CSRs. Keys are generated with node:crypto as PKCS#8 PEM (what
// acme-client's CSR builder imports); the CSR is built by acme-client, loaded on first use.

import { generateKeyPair as generateKeyPairCallback, createPrivateKey } from 'node:crypto';
import { CertkeeperError } from '../core/errors.js';
import type { KeyType } from '../core/types.js';
import { keyTypeOf } from '../core/x509.js';
import { isWildcard } from '../core/domain.js';

/** A new private key of the given type, PEM PKCS#8. A secret: never log it. */
export async function generatePrivateKey(keyType: KeyType): Promise<string> {
  switch (keyType) {
    case 'ecdsa-p256':
      return generatePem('ec', { namedCurve: 'prime256v1' });
    case 'ecdsa-p384':
      return generatePem('ec', { namedCurve: 'secp384r1' });
    case 'rsa-2048':
      return generatePem('rsa', { modulusLength: 2048 });
    case 'rsa-3072':
      return generatePem('rsa', { modulusLength: 3072 });
    case 'rsa-4096':
      return generatePem('rsa', { modulusLength: 4096 });
  }
}

// Asynchronous generation: an RSA-4096 key takes long enough to stall the event loop otherwise.
function generatePem(type: 'ec' | 'rsa', params: { namedCurve: string } | { modulusLength: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    const encoding = { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } } as const;
    const done = (error: Error | null, _publicKey: string, privateKey: string): void => (error ? reject(error) : resolve(privateKey));
    if (type === 'ec') generateKeyPairCallback('ec', { ...(params as { namedCurve: string }), ...encoding }, done);
    else generateKeyPairCallback('rsa', { ...(params as { modulusLength: number }), ...encoding }, done);
  });
}

/** The key type of a PEM private key, or 'unknown' (also for unparsable input). */
export function privateKeyType(keyPem: string): KeyType | 'unknown' {
  try {
    return keyTypeOf(createPrivateKey(keyPem));
  } catch {
    return 'unknown';
  }
}

/**
 * Re-encodes a reused key as PKCS#8 after checking it has the requested type: a key kept
 * from an older certificate must not silently change the certificate's key type.
 */
export function normalizeReusedKey(keyPem: string, keyType: KeyType): string {
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (error) {
    throw new CertkeeperError('INTERNAL', 'the private key to reuse cannot be parsed', { cause: error, retryable: false });
  }
  const actual = keyTypeOf(key);
  if (actual !== keyType) {
    throw new CertkeeperError('INTERNAL', `the private key to reuse is ${actual}, but ${keyType} was requested`, { retryable: false });
  }
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Subject common name: the first non-wildcard name (CAs prefer one), else the first name. */
export function csrCommonName(domains: string[]): string {
  const name = domains.find((domain) => !isWildcard(domain)) ?? domains[0];
  if (name === undefined) throw new CertkeeperError('INTERNAL', 'a CSR needs at least one domain', { retryable: false });
  return name;
}

/** A PEM CSR for `domains` signed by `keyPem`; every domain is a subjectAltName. */
export async function createCsr(domains: string[], keyPem: string): Promise<string> {
  const { crypto } = await import('acme-client');
  const [, csr] = await crypto.createCsr({ commonName: csrCommonName(domains), altNames: [...domains] }, keyPem);
  return csr.toString('utf8');
}
