// A certificate's Secret as other workloads and tools expect it: type kubernetes.io/tls, with
// tls.crt (the full chain) and tls.key of the live version, and its recorded details (serial,
// notAfter, domains) as annotations. Derived from the keys the Secret holds (`current` names the
// live version; the version holds the PEM as the certificates repository wrote it). When the
// material is sealed (encryptionKeyFile) there is nothing to derive and the Secret stays Opaque.
// Read back, tls.crt/tls.key that no longer match the live version mean somebody changed the
// Secret behind certkeeper's back: reading that version is then STATE_CORRUPT (a mismatch), which
// the engine answers by issuing afresh.

import { z } from 'zod';
import { CertkeeperError } from '../../../core/errors.js';
import type { StoredValue } from '../contract.js';

export const TLS_TYPE = 'kubernetes.io/tls';
const jsonObject = z.record(z.string(), z.unknown());
const DETAILS = 'certkeeper.io/';
const DETAIL_FIELDS = ['serial', 'notBefore', 'notAfter', 'issuedAt', 'issuer', 'keyType'] as const;
const annotationOf = (field: string): string => `${DETAILS}${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
/** The annotations a projection sets: removed when a Secret is written without one. */
export const DETAIL_ANNOTATIONS: readonly string[] = [...DETAIL_FIELDS.map(annotationOf), `${DETAILS}domains`];

export interface TlsProjection {
  /** The key of the live version whose material this is. */
  versionKey: string;
  crt: string;
  key: string;
  annotations: Record<string, string>;
}

/** What the Secret's tls.crt/tls.key should be, from the keys it holds; undefined when none can be derived. */
export function projectTls(entries: Map<string, StoredValue>): TlsProjection | undefined {
  let cert: string | undefined;
  let live: string | undefined;
  let details: Record<string, unknown> = {};
  for (const [key, stored] of entries) {
    const match = /^certs\/([^/]+)\/current$/.exec(key);
    if (!match) continue;
    cert = match[1];
    const current = json(stored.value);
    if (current && typeof current.version === 'string') {
      live = current.version;
      details = current;
    }
  }
  // Before `current` is written (the version goes first) the newest version stands in.
  const versions = [...entries.keys()].filter((key) => /^certs\/[^/]+\/versions\/[^/]+$/.test(key)).sort();
  const versionKey = live !== undefined && cert !== undefined ? `certs/${cert}/versions/${live}` : versions.at(-1);
  if (!versionKey) return undefined;
  const stored = entries.get(versionKey);
  const material = stored && json(stored.value);
  if (!material || typeof material.fullchainPem !== 'string' || typeof material.keyPem !== 'string') return undefined;
  const annotations: Record<string, string> = {};
  for (const field of DETAIL_FIELDS) {
    if (typeof details[field] === 'string') annotations[annotationOf(field)] = details[field];
  }
  if (Array.isArray(details.domains)) annotations[`${DETAILS}domains`] = details.domains.join(',');
  return { versionKey, crt: material.fullchainPem, key: material.keyPem, annotations };
}

/**
 * The error for reading `key` from a Secret whose tls.crt/tls.key (`found`) differ from what its
 * live version holds; undefined when they agree or `key` is not the live version.
 */
export function tlsMismatch(
  where: string,
  key: string,
  projection: TlsProjection | undefined,
  found: { crt?: string; key?: string },
): CertkeeperError | undefined {
  if (!projection || key !== projection.versionKey || (found.crt === undefined && found.key === undefined)) return undefined;
  if (found.crt === projection.crt && found.key === projection.key) return undefined;
  const field = found.crt !== projection.crt ? 'tls.crt' : 'tls.key';
  return new CertkeeperError(
    'STATE_CORRUPT',
    `${where}: ${field} was changed outside certkeeper: it no longer matches the recorded certificate${projection.annotations[`${DETAILS}serial`] ? ` (serial ${projection.annotations[`${DETAILS}serial`]})` : ''}`,
    {
      retryable: false,
    },
  );
}

/** A stored JSON object, or undefined (nothing is derived from what is not one; its reader reports it). */
function json(value: Uint8Array): Record<string, unknown> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value).toString('utf8'));
  } catch {
    return undefined;
  }
  const object = jsonObject.safeParse(parsed);
  return object.success ? object.data : undefined;
}
