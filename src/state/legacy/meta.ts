// meta.json beside each 0.1 certificate version: the directory URL and issue time, and the
// certificate's details as recorded when it was stored. The earliest 0.1 releases wrote only
// directoryUrl, issuedAt, serial and notAfter; the rest is then read from cert.pem.

import { z } from 'zod';
import { KEY_TYPES, type CertificateInfo } from '../../core/types.js';

/**
 * meta.json as 0.1 wrote it: directoryUrl and a readable issue time decide whether it is meta.json
 * at all; serial and notAfter were always written (kept as text); each later detail is kept only
 * when well-formed, else it is read from cert.pem.
 */
const metaCodec = z.object({
  directoryUrl: z.string(),
  issuedAt: z.string().refine((text) => !Number.isNaN(Date.parse(text))),
  serial: z
    .unknown()
    .optional()
    .transform((value) => String(value ?? '')),
  notAfter: z
    .unknown()
    .optional()
    .transform((value) => String(value ?? '')),
  notBefore: z.string().optional().catch(undefined),
  domains: z.array(z.string()).optional().catch(undefined),
  keyType: z
    .enum([...KEY_TYPES, 'unknown'])
    .optional()
    .catch(undefined),
  issuer: z.string().optional().catch(undefined),
});

export type CertificateMeta = z.infer<typeof metaCodec>;

/** The meta.json text read, or undefined when it is not valid (no directoryUrl or issue time). */
export function parseMeta(text: string): CertificateMeta | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = metaCodec.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/** The CertificateInfo meta.json records, or undefined when it lacks some of it. */
export function infoFromMeta(meta: CertificateMeta): CertificateInfo | undefined {
  const { serial, notBefore, notAfter, domains, keyType, issuer } = meta;
  if (!serial || notBefore === undefined || domains === undefined || keyType === undefined || issuer === undefined) return undefined;
  const from = new Date(notBefore);
  const to = new Date(notAfter);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) return undefined;
  return { serial, notBefore: from, notAfter: to, domains, keyType, issuer };
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
