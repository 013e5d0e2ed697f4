// Private keys per key type and the CSR built for them.

import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCsr, csrCommonName, generatePrivateKey, normalizeReusedKey, privateKeyType } from '../../../src/acme/keys.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import { KEY_TYPES } from '../../../src/core/types.js';

describe('generatePrivateKey', () => {
  it.each(KEY_TYPES)(
    'makes a PKCS#8 %s key',
    async (keyType) => {
      const pem = await generatePrivateKey(keyType);
      expect(pem.startsWith('-----BEGIN PRIVATE KEY-----')).toBe(true);
      expect(privateKeyType(pem)).toBe(keyType);
    },
    30_000,
  );

  it('makes a different key every time', async () => {
    expect(await generatePrivateKey('ecdsa-p256')).not.toBe(await generatePrivateKey('ecdsa-p256'));
  });
});

describe('normalizeReusedKey', () => {
  it('re-encodes a traditional (PKCS#1 / SEC1) key as PKCS#8', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const sec1 = privateKey.export({ type: 'sec1', format: 'pem' }).toString();
    const normalized = normalizeReusedKey(sec1, 'ecdsa-p256');
    expect(normalized.startsWith('-----BEGIN PRIVATE KEY-----')).toBe(true);
    expect(createPublicKey(normalized).export({ type: 'spki', format: 'pem' })).toEqual(createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }));
  });

  it('refuses a key of another type, and an unreadable key, without quoting it', async () => {
    const rsa = await generatePrivateKey('rsa-2048');
    expect(() => normalizeReusedKey(rsa, 'ecdsa-p256')).toThrow(CertkeeperError);
    expect(() => normalizeReusedKey(rsa, 'ecdsa-p256')).toThrow(/rsa-2048.*ecdsa-p256/);
    try {
      normalizeReusedKey('-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n', 'ecdsa-p256');
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain('not a key');
    }
  });
});

describe('csrCommonName', () => {
  it('prefers the first name that is not a wildcard', () => {
    expect(csrCommonName(['*.example.com', 'example.com', 'www.example.com'])).toBe('example.com');
    expect(csrCommonName(['*.example.com'])).toBe('*.example.com');
    expect(() => csrCommonName([])).toThrow(CertkeeperError);
  });
});

describe('createCsr', () => {
  function opensslText(csrPem: string): string {
    return execFileSync('openssl', ['req', '-noout', '-text', '-verify'], { input: csrPem, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
  }
  function opensslPublicKey(csrPem: string): string {
    return execFileSync('openssl', ['req', '-noout', '-pubkey'], { input: csrPem }).toString();
  }

  it.each(['ecdsa-p256', 'ecdsa-p384', 'rsa-2048'] as const)('signs a CSR for every name with the %s key', async (keyType) => {
    const keyPem = await generatePrivateKey(keyType);
    const csr = await createCsr(['*.example.com', 'example.com', 'www.example.com'], keyPem);
    expect(csr).toContain('-----BEGIN CERTIFICATE REQUEST-----');
    const text = opensslText(csr);
    expect(text).toMatch(/Subject: CN ?= ?example\.com/);
    expect(text).toMatch(/DNS:\*\.example\.com/);
    expect(text).toMatch(/DNS:example\.com/);
    expect(text).toMatch(/DNS:www\.example\.com/);
    expect(opensslPublicKey(csr)).toBe(createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'pem' }).toString());
  });
});
