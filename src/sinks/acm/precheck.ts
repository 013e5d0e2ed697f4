// What ACM would reject, checked before calling it: each check is a small pure function that
// returns a problem (reason + message) or nothing, so a deploy fails with a clear message instead
// of an ACM ValidationException, and each reason has its own unit test.

import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { CertificateMaterial, KeyType } from '../../core/types.js';
import { keyTypeOf, normalizeSerial, splitPemChain } from '../../core/x509.js';

/** ACM's KeyAlgorithm names for the keys it accepts on import. */
export type AcmKeyAlgorithm = 'RSA_1024' | 'RSA_2048' | 'RSA_3072' | 'RSA_4096' | 'EC_prime256v1' | 'EC_secp384r1' | 'EC_secp521r1';
export const ACM_KEY_ALGORITHMS: readonly AcmKeyAlgorithm[] = ['RSA_1024', 'RSA_2048', 'RSA_3072', 'RSA_4096', 'EC_prime256v1', 'EC_secp384r1', 'EC_secp521r1'];

/** ACM's limit on the private key, in bytes of PEM. */
export const ACM_MAX_KEY_BYTES = 5120;

export type ImportProblemReason =
  | 'unreadable'
  | 'key-too-large'
  | 'key-encrypted'
  | 'key-unsupported'
  | 'key-mismatch'
  | 'chain-missing'
  | 'chain-broken'
  | 'not-yet-valid'
  | 'expired'
  | 'key-type-changed'
  | 'arn-not-found'
  | 'not-imported';

export interface ImportProblem {
  reason: ImportProblemReason;
  message: string;
}

/** What ImportCertificate receives, prepared and checked. */
export interface PreparedImport {
  leafPem: string;
  /** Intermediates without the leaf, in order; '' when the leaf is self-signed. */
  chainPem: string;
  keyPem: string;
  /** Upper-case hex without separators, as core/x509 normalizes it. */
  serial: string;
  keyAlgorithm: AcmKeyAlgorithm;
  /** certkeeper's name for the key type ('unknown' for keys ACM takes but certkeeper does not issue). */
  keyType: KeyType | 'unknown';
}

/** The ACM name of a public or private key's algorithm and size; undefined when ACM refuses it. */
export function acmKeyAlgorithm(key: KeyObject): AcmKeyAlgorithm | undefined {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa') {
    const name = `RSA_${details?.modulusLength ?? 0}`;
    return (ACM_KEY_ALGORITHMS as readonly string[]).includes(name) ? (name as AcmKeyAlgorithm) : undefined;
  }
  if (key.asymmetricKeyType === 'ec') {
    if (details?.namedCurve === 'prime256v1') return 'EC_prime256v1';
    if (details?.namedCurve === 'secp384r1') return 'EC_secp384r1';
    if (details?.namedCurve === 'secp521r1') return 'EC_secp521r1';
  }
  return undefined;
}

function describeKey(key: KeyObject): string {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa') return `RSA ${details?.modulusLength ?? '?'} bits`;
  if (key.asymmetricKeyType === 'ec') return `EC ${details?.namedCurve ?? '?'}`;
  return key.asymmetricKeyType ?? 'unknown';
}

const subjectOf = (cert: X509Certificate): string => cert.subject.replace(/\n/g, ', ');

export function checkKeySize(keyPem: string): ImportProblem | undefined {
  const bytes = Buffer.byteLength(keyPem, 'utf8');
  if (bytes <= ACM_MAX_KEY_BYTES) return undefined;
  return { reason: 'key-too-large', message: `the private key PEM is ${bytes} bytes; ACM accepts at most ${ACM_MAX_KEY_BYTES}` };
}

/** `publicKey`: the certificate's. */
export function checkKeyAlgorithm(publicKey: KeyObject): ImportProblem | undefined {
  if (acmKeyAlgorithm(publicKey)) return undefined;
  return {
    reason: 'key-unsupported',
    message: `ACM does not accept ${describeKey(publicKey)} keys (it takes RSA 1024–4096 and EC P-256, P-384, P-521)`,
  };
}

export function checkKeyMatches(leaf: X509Certificate, key: KeyObject): ImportProblem | undefined {
  const fromKey = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const fromCert = leaf.publicKey.export({ type: 'spki', format: 'der' });
  if (Buffer.compare(fromKey, fromCert) === 0) return undefined;
  return { reason: 'key-mismatch', message: 'the private key does not belong to the certificate' };
}

/** Each certificate must be issued (name and signature) by the next: the leaf by the first chain certificate. */
export function checkChain(leaf: X509Certificate, chain: X509Certificate[]): ImportProblem | undefined {
  if (chain.length === 0) {
    // Not checkIssued(leaf): OpenSSL wants keyCertSign there, which a self-signed leaf often lacks.
    if (leaf.subject === leaf.issuer && leaf.verify(leaf.publicKey)) return undefined;
    return { reason: 'chain-missing', message: `the certificate (${subjectOf(leaf)}) is not self-signed and no chain was given; ACM needs the intermediates` };
  }
  const all = [leaf, ...chain];
  for (let i = 0; i + 1 < all.length; i++) {
    const child = all[i]!;
    const parent = all[i + 1]!;
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      const what = i === 0 ? `the certificate (${subjectOf(child)})` : `chain certificate ${i} (${subjectOf(child)})`;
      return {
        reason: 'chain-broken',
        message: `the chain does not link: ${what} is not issued by chain certificate ${i + 1} (${subjectOf(parent)})`,
      };
    }
  }
  return undefined;
}

export function checkValidity(leaf: X509Certificate, now: Date): ImportProblem | undefined {
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  if (now.getTime() < notBefore.getTime()) {
    return {
      reason: 'not-yet-valid',
      message: `the certificate is not valid until ${notBefore.toISOString()} (now ${now.toISOString()}); ACM imports only certificates valid now`,
    };
  }
  if (now.getTime() > notAfter.getTime()) {
    return { reason: 'expired', message: `the certificate expired at ${notAfter.toISOString()} (now ${now.toISOString()})` };
  }
  return undefined;
}

/** ACM keeps the key algorithm and size of a certificate across re-imports. */
export function checkReimportKey(existing: string | undefined, next: AcmKeyAlgorithm): ImportProblem | undefined {
  if (existing === undefined || existing === next) return undefined;
  return {
    reason: 'key-type-changed',
    message:
      `the ACM certificate has a ${existing} key and the new one ${next}; ACM cannot change the key type or size on re-import ` +
      '(set keyType back, or import into a new certificate: remove certificateArn, or the sink state, and move the listeners)',
  };
}

/** Runs every check that needs no AWS call; the first problem wins, or the import is prepared. */
export function prepareImport(material: CertificateMaterial, now: Date): PreparedImport | ImportProblem {
  let leaf: X509Certificate;
  let chain: X509Certificate[];
  const leafPem = splitPemChain(material.certPem)[0];
  const chainPems = splitPemChain(material.chainPem);
  try {
    if (!leafPem) throw new Error('no certificate in certPem');
    leaf = new X509Certificate(leafPem);
    chain = chainPems.map((pem) => new X509Certificate(pem));
  } catch (error) {
    return { reason: 'unreadable', message: `the certificate cannot be read: ${(error as Error).message}` };
  }
  const sizeProblem = checkKeySize(material.keyPem);
  if (sizeProblem) return sizeProblem;
  if (/ENCRYPTED/.test(material.keyPem)) return { reason: 'key-encrypted', message: 'the private key is encrypted; ACM needs it unencrypted' };
  let key: KeyObject;
  try {
    key = createPrivateKey(material.keyPem);
  } catch (error) {
    return { reason: 'unreadable', message: `the private key cannot be read: ${(error as Error).message}` };
  }
  const problem = checkKeyAlgorithm(leaf.publicKey) ?? checkKeyMatches(leaf, key) ?? checkChain(leaf, chain) ?? checkValidity(leaf, now);
  if (problem) return problem;
  return {
    leafPem,
    chainPem: chainPems.join(''),
    keyPem: material.keyPem,
    serial: normalizeSerial(leaf.serialNumber),
    keyAlgorithm: acmKeyAlgorithm(leaf.publicKey)!,
    keyType: keyTypeOf(leaf.publicKey),
  };
}

export function isImportProblem(value: PreparedImport | ImportProblem): value is ImportProblem {
  return 'reason' in value;
}
