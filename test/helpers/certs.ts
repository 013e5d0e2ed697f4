// Test certificates built in-process with node:crypto and a minimal DER encoder: no openssl
// process per certificate, and the validity window, serial and names are under the test's control.
//
//   makeCertificate({ domains: ['a.example'] })          leaf signed by a shared test CA (chain = CA)
//   makeSelfSigned({ domains: ['a.example'], days: 30 })  self-signed leaf (empty chain)
//   testCa().certPem                                      trust this to verify makeCertificate output

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { CertificateMaterial, KeyType } from '../../src/core/types.js';

export interface TestCertificateOptions {
  /** subjectAltName DNS names; the first is also the subject CN. */
  domains: string[];
  /** Lifetime in days from notBefore (default 90). Ignored when notAfter is given. */
  days?: number;
  /** Default: one minute before the real current time. */
  notBefore?: Date;
  notAfter?: Date;
  /** Default ecdsa-p256 (fast). RSA keys take 50 ms (2048) to seconds (4096) to generate. */
  keyType?: KeyType;
  /** Reuse this private key (PKCS#8 PEM) instead of generating one; keyType is then ignored. */
  keyPem?: string;
  /** Upper-case hex; default 16 random bytes. */
  serial?: string;
}

const DAY_MS = 86_400_000;

// ---- DER encoding: just the constructions an X.509 certificate needs ----

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest >>= 8) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

const seq = (...content: Buffer[]): Buffer => tlv(0x30, ...content);
const set = (...content: Buffer[]): Buffer => tlv(0x31, ...content);
const octets = (content: Buffer): Buffer => tlv(0x04, content);
const bitString = (content: Buffer): Buffer => tlv(0x03, Buffer.from([0]), content);
const explicit = (n: number, content: Buffer): Buffer => tlv(0xa0 + n, content);
const derTrue = Buffer.from([0x01, 0x01, 0xff]);
const derNull = Buffer.from([0x05, 0x00]);

function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let value = arc >>> 7; value > 0; value >>>= 7) chunk.unshift(0x80 | (value & 0x7f));
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** A positive INTEGER from big-endian bytes. */
function unsignedInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  return tlv(0x02, (trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

/** UTCTime until 2049, GeneralizedTime after, as RFC 5280 requires. */
function time(date: Date): Buffer {
  const iso = date.toISOString(); // 2026-05-13T10:20:30.000Z
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '') + 'Z';
  const year = date.getUTCFullYear();
  return year < 2050 ? tlv(0x17, Buffer.from(digits.slice(2), 'ascii')) : tlv(0x18, Buffer.from(digits, 'ascii'));
}

function name(commonName: string): Buffer {
  return seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), derTrue, octets(value)) : seq(oid(id), octets(value));
}

// ---- keys and signatures ----

function generateKey(keyType: KeyType): KeyObject {
  switch (keyType) {
    case 'ecdsa-p256':
      return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    case 'ecdsa-p384':
      return generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey;
    default:
      return generateKeyPairSync('rsa', { modulusLength: Number(keyType.slice(4)) }).privateKey;
  }
}

function signatureAlgorithm(key: KeyObject): { algorithm: Buffer; hash: string } {
  if (key.asymmetricKeyType === 'ec') {
    const p384 = key.asymmetricKeyDetails?.namedCurve === 'secp384r1';
    return { algorithm: seq(oid(p384 ? '1.2.840.10045.4.3.3' : '1.2.840.10045.4.3.2')), hash: p384 ? 'sha384' : 'sha256' };
  }
  return { algorithm: seq(oid('1.2.840.113549.1.1.11'), derNull), hash: 'sha256' };
}

function spkiOf(privateKey: KeyObject): Buffer {
  return createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
}

/** A key identifier: SHA-1 of the whole SPKI (RFC 5280 hashes only the key bits; for tests
 *  any stable, unique value will do, and this avoids parsing the SPKI). */
function keyIdentifier(spki: Buffer): Buffer {
  return createHash('sha1').update(spki).digest();
}

interface Issuer {
  commonName: string;
  key: KeyObject;
  keyId: Buffer;
}

function buildCertificate(options: {
  subject: string;
  domains: string[];
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
  subjectKey: KeyObject;
  issuer: Issuer | 'self';
  isCa: boolean;
}): { pem: string; keyId: Buffer } {
  const spki = spkiOf(options.subjectKey);
  const keyId = keyIdentifier(spki);
  const issuer: Issuer = options.issuer === 'self' ? { commonName: options.subject, key: options.subjectKey, keyId } : options.issuer;
  const { algorithm, hash } = signatureAlgorithm(issuer.key);

  const extensions: Buffer[] = [
    extension('2.5.29.19', true, options.isCa ? seq(derTrue) : seq()), // basicConstraints
    extension('2.5.29.15', true, options.isCa ? bitString(Buffer.from([0x06])) : bitString(Buffer.from([0x80]))), // keyUsage
    extension('2.5.29.14', false, octets(keyId)), // subjectKeyIdentifier
    extension('2.5.29.35', false, seq(tlv(0x80, issuer.keyId))), // authorityKeyIdentifier
  ];
  if (options.domains.length > 0) {
    extensions.push(extension('2.5.29.17', false, seq(...options.domains.map((d) => tlv(0x82, Buffer.from(d, 'ascii'))))));
  }

  const tbs = seq(
    explicit(0, tlv(0x02, Buffer.from([2]))), // version v3
    unsignedInteger(options.serial),
    algorithm,
    name(issuer.commonName),
    seq(time(options.notBefore), time(options.notAfter)),
    name(options.subject),
    spki,
    explicit(3, seq(...extensions)),
  );
  const signature = sign(hash, tbs, issuer.key);
  const der = seq(tbs, algorithm, bitString(signature));
  return { pem: toPem('CERTIFICATE', der), keyId };
}

function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function serialBytes(serial: string | undefined): Buffer {
  if (serial !== undefined) return Buffer.from(serial.length % 2 ? `0${serial}` : serial, 'hex');
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x10; // positive, and no leading zero byte to trim
  return bytes;
}

function validity(options: TestCertificateOptions): { notBefore: Date; notAfter: Date } {
  // Real time is right here: a test certificate must be valid for tools that check it now.
  const notBefore = options.notBefore ?? new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + (options.days ?? 90) * DAY_MS);
  return { notBefore, notAfter };
}

// ---- the shared test CA, made once per process ----

export interface TestCa {
  certPem: string;
  keyPem: string;
}

let cachedCa: (TestCa & { issuer: Issuer }) | undefined;

/** The process-wide test CA that signs makeCertificate's leaves (EC P-256, valid 10 years). */
export function testCa(): TestCa {
  if (!cachedCa) {
    const key = generateKey('ecdsa-p256');
    const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 - DAY_MS);
    const { pem, keyId } = buildCertificate({
      subject: 'certkeeper test CA',
      domains: [],
      serial: serialBytes(undefined),
      notBefore,
      notAfter: new Date(notBefore.getTime() + 3650 * DAY_MS),
      subjectKey: key,
      issuer: 'self',
      isCa: true,
    });
    cachedCa = {
      certPem: pem,
      keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      issuer: { commonName: 'certkeeper test CA', key, keyId },
    };
  }
  return { certPem: cachedCa.certPem, keyPem: cachedCa.keyPem };
}

function makeLeaf(options: TestCertificateOptions, issuer: Issuer | 'self', chainPem: string): CertificateMaterial {
  if (options.domains.length === 0) throw new Error('makeCertificate: at least one domain');
  const key = options.keyPem ? createPrivateKey(options.keyPem) : generateKey(options.keyType ?? 'ecdsa-p256');
  const { notBefore, notAfter } = validity(options);
  const { pem } = buildCertificate({
    subject: options.domains[0]!,
    domains: options.domains,
    serial: serialBytes(options.serial),
    notBefore,
    notAfter,
    subjectKey: key,
    issuer,
    isCa: false,
  });
  return {
    certPem: pem,
    chainPem,
    fullchainPem: pem + chainPem,
    keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** A leaf certificate signed by the shared test CA; chainPem is the CA certificate. */
export function makeCertificate(options: TestCertificateOptions): CertificateMaterial {
  testCa();
  return makeLeaf(options, cachedCa!.issuer, cachedCa!.certPem);
}

/** A self-signed leaf certificate; chainPem is empty and fullchainPem equals certPem. */
export function makeSelfSigned(options: TestCertificateOptions): CertificateMaterial {
  return makeLeaf(options, 'self', '');
}

export interface TestChainOptions extends TestCertificateOptions {
  /** notAfter of the intermediate CA that signs the leaf (default: the root's). */
  intermediateNotAfter?: Date;
  /** A fresh root valid until this (default: the shared test CA). */
  rootNotAfter?: Date;
}

export interface TestChain {
  /** chainPem is the intermediate alone (what servers send: the root stays with the client). */
  material: CertificateMaterial;
  intermediatePem: string;
  rootPem: string;
}

/** root → intermediate → leaf, each with its own validity, e.g. an intermediate that expires before the leaf. */
export function makeChain(options: TestChainOptions): TestChain {
  testCa();
  const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 - DAY_MS);
  let root: { pem: string; issuer: Issuer } = { pem: cachedCa!.certPem, issuer: cachedCa!.issuer };
  if (options.rootNotAfter) {
    const key = generateKey('ecdsa-p256');
    const commonName = 'certkeeper test root';
    const built = buildCertificate({
      subject: commonName,
      domains: [],
      serial: serialBytes(undefined),
      notBefore,
      notAfter: options.rootNotAfter,
      subjectKey: key,
      issuer: 'self',
      isCa: true,
    });
    root = { pem: built.pem, issuer: { commonName, key, keyId: built.keyId } };
  }
  const key = generateKey('ecdsa-p256');
  const commonName = 'certkeeper test intermediate';
  const intermediate = buildCertificate({
    subject: commonName,
    domains: [],
    serial: serialBytes(undefined),
    notBefore,
    notAfter: options.intermediateNotAfter ?? new Date(notBefore.getTime() + 3650 * DAY_MS),
    subjectKey: key,
    issuer: root.issuer,
    isCa: true,
  });
  const material = makeLeaf(options, { commonName, key, keyId: intermediate.keyId }, intermediate.pem);
  return { material, intermediatePem: intermediate.pem, rootPem: root.pem };
}
