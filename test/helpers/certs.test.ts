// The shared test-certificate helper, checked against node:crypto's parser and `openssl verify`,
// since every other test trusts what it produces.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyMatchesCertificate, parseCertificate, splitPemChain } from '../../src/core/x509.js';
import { makeCertificate, makeSelfSigned, testCa } from './certs.js';

describe('test certificate helper', () => {
  it('makes a CA-signed leaf that openssl verifies, with the CA as its chain', () => {
    const material = makeCertificate({ domains: ['a.example', '*.a.example'], days: 30 });
    expect(material.chainPem).toBe(testCa().certPem);
    expect(splitPemChain(material.fullchainPem)).toEqual([material.certPem, material.chainPem]);
    expect(keyMatchesCertificate(material.certPem, material.keyPem)).toBe(true);
    const info = parseCertificate(material.certPem);
    expect(info).toMatchObject({ domains: ['a.example', '*.a.example'], keyType: 'ecdsa-p256', issuer: 'CN=certkeeper test CA' });
    expect(info.notAfter.getTime() - info.notBefore.getTime()).toBe(30 * 86_400_000);

    const dir = mkdtempSync(path.join(os.tmpdir(), 'certkeeper-certs-'));
    try {
      writeFileSync(path.join(dir, 'ca.pem'), testCa().certPem);
      writeFileSync(path.join(dir, 'leaf.pem'), material.certPem);
      const out = execFileSync('openssl', ['verify', '-CAfile', path.join(dir, 'ca.pem'), path.join(dir, 'leaf.pem')], { encoding: 'utf8' });
      expect(out).toContain(': OK');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('honours validity, serial, key type and a reused key', () => {
    const notBefore = new Date('2060-01-01T00:00:00Z');
    const first = makeSelfSigned({ domains: ['s.example'], notBefore, notAfter: new Date('2060-01-02T00:00:00Z'), serial: '0ABC', keyType: 'ecdsa-p384' });
    expect(first.chainPem).toBe('');
    expect(first.fullchainPem).toBe(first.certPem);
    expect(parseCertificate(first.certPem)).toMatchObject({
      serial: 'ABC',
      notBefore,
      notAfter: new Date('2060-01-02T00:00:00Z'),
      keyType: 'ecdsa-p384',
      issuer: 'CN=s.example',
    });

    const again = makeCertificate({ domains: ['s.example'], keyPem: first.keyPem });
    expect(again.keyPem).toBe(first.keyPem);
    expect(keyMatchesCertificate(again.certPem, first.keyPem)).toBe(true);
  });

  it('makes RSA keys', () => {
    const material = makeCertificate({ domains: ['r.example'], keyType: 'rsa-2048' });
    expect(parseCertificate(material.certPem).keyType).toBe('rsa-2048');
    expect(keyMatchesCertificate(material.certPem, material.keyPem)).toBe(true);
  });

  it('tells a key that does not belong to the certificate, of the same or another type', () => {
    const ecdsa = makeCertificate({ domains: ['m.example'] });
    const otherEcdsa = makeCertificate({ domains: ['m.example'] });
    const rsa = makeCertificate({ domains: ['m.example'], keyType: 'rsa-2048' });
    expect(keyMatchesCertificate(ecdsa.certPem, otherEcdsa.keyPem)).toBe(false);
    expect(keyMatchesCertificate(ecdsa.certPem, rsa.keyPem)).toBe(false);
    expect(keyMatchesCertificate(rsa.certPem, ecdsa.keyPem)).toBe(false);
    expect(keyMatchesCertificate(ecdsa.certPem, 'not a key')).toBe(false);
  });
});
