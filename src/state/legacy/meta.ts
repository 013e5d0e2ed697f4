// meta.json beside each 0.1 certificate version: the directory URL and issue time, and the
// certificate's details as recorded when it was stored. The earliest 0.1 releases wrote only
// directoryUrl, issuedAt, serial and notAfter; the rest is then read from cert.pem.

import type { CertificateInfo } from '../../core/types.js';

export interface CertificateMeta {
  directoryUrl: string;
  issuedAt: string;
  serial: string;
  notAfter: string;
  /** Absent in meta.json of the earliest releases, or when not well-formed. */
  notBefore?: string;
  domains?: string[];
  keyType?: string;
  issuer?: string;
}

const KEY_TYPES: ReadonlySet<string> = new Set(['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'unknown']);

/** The meta.json text read, or undefined when it is not valid (no directoryUrl or issue time). */
export function parseMeta(text: string): CertificateMeta | undefined {
  let value: Partial<CertificateMeta>;
  try {
    value = JSON.parse(text) as Partial<CertificateMeta>;
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  if (typeof value.directoryUrl !== 'string' || typeof value.issuedAt !== 'string' || Number.isNaN(Date.parse(value.issuedAt))) return undefined;
  return {
    directoryUrl: value.directoryUrl,
    issuedAt: value.issuedAt,
    serial: String(value.serial ?? ''),
    notAfter: String(value.notAfter ?? ''),
    // The details added later: kept only when well-formed, else they are read from cert.pem.
    ...(typeof value.notBefore === 'string' ? { notBefore: value.notBefore } : {}),
    ...(Array.isArray(value.domains) && value.domains.every((d) => typeof d === 'string') ? { domains: value.domains } : {}),
    ...(typeof value.keyType === 'string' && KEY_TYPES.has(value.keyType) ? { keyType: value.keyType } : {}),
    ...(typeof value.issuer === 'string' ? { issuer: value.issuer } : {}),
  };
}

/** The CertificateInfo meta.json records, or undefined when it lacks some of it. */
export function infoFromMeta(meta: CertificateMeta): CertificateInfo | undefined {
  const { serial, notBefore, notAfter, domains, keyType, issuer } = meta;
  if (!serial || notBefore === undefined || domains === undefined || keyType === undefined || issuer === undefined) return undefined;
  const from = new Date(notBefore);
  const to = new Date(notAfter);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) return undefined;
  return { serial, notBefore: from, notAfter: to, domains, keyType: keyType as CertificateInfo['keyType'], issuer };
}

/** The first detail meta.json records differently from the certificate itself, if any. */
export function metaDisagreement(meta: CertificateMeta, info: CertificateInfo): { field: string; meta: string; cert: string } | undefined {
  const recorded = infoFromMeta(meta);
  const notAfter = meta.notAfter ? new Date(meta.notAfter) : undefined;
  const pairs: [string, string | undefined, string][] = [
    ['serial', meta.serial || undefined, info.serial],
    ['notAfter', notAfter && !Number.isNaN(notAfter.getTime()) ? notAfter.toISOString() : meta.notAfter || undefined, info.notAfter.toISOString()],
    ['notBefore', recorded?.notBefore.toISOString(), info.notBefore.toISOString()],
    ['domains', recorded?.domains.join(','), info.domains.join(',')],
    ['keyType', recorded?.keyType, info.keyType],
    ['issuer', recorded?.issuer, info.issuer],
  ];
  for (const [field, fromMeta, fromCert] of pairs) if (fromMeta !== undefined && fromMeta !== fromCert) return { field, meta: fromMeta, cert: fromCert };
  return undefined;
}
