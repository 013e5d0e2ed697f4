// Where a storage key lives in the cluster: which object (a Secret or a ConfigMap) of which name.
// Keys of one certificate share objects, so a certificate is two objects however many keys it
// has: its Secret (current, versions, revoked: the material) and its record ConfigMap (record,
// sink data, ARI, verify, and the last entries of its history). Names are valid DNS-1123 labels,
// derived deterministically; a part that is not one already (upper case, `_`, `.`, too long)
// is folded and given a hash of the original, so two keys never share a name by accident.

import { createHash } from 'node:crypto';

export type ObjectKind = 'secrets' | 'configmaps';

export interface Placement {
  kind: ObjectKind;
  /** The object's name: `<prefix>-cert-www`, `<prefix>-record-www`, `<prefix>-kv-history-dry-runs`. */
  name: string;
  /** What the object holds, for people (an annotation): `certificate www`, `keys history/dry-runs`. */
  holds: string;
  /** A certificate's Secret: kubernetes.io/tls with the live material derived (tls-projection.ts). */
  tls?: boolean;
}

/** A prefix for object names: a DNS-1123 label short enough to leave room for the rest. */
export const PREFIX = /^[a-z0-9]([-a-z0-9]{0,22}[a-z0-9])?$/;

/** Keys of a certificate kept in its Secret (the material and which version is live). */
const MATERIAL = new Set(['current', 'versions', 'revoked']);

export function placementOf(prefix: string, key: string): Placement {
  const segments = key.split('/');
  if (segments[0] === 'certs' && segments.length >= 3) {
    const cert = segments[1]!;
    return MATERIAL.has(segments[2]!) ? certificateSecret(prefix, cert) : recordConfigMap(prefix, cert);
  }
  if (segments[0] === 'accounts') return { kind: 'secrets', name: objectName(prefix, 'account', segments.slice(1).join('/')), holds: `account ${key}` };
  // Anything else: one ConfigMap per first two segments (agents/<id>, issuers/<hash>, history/dry-runs).
  const group = segments.slice(0, 2).join('/');
  return { kind: 'configmaps', name: objectName(prefix, 'kv', group), holds: `keys ${group}/...` };
}

/** The Secret holding a certificate's material (and, as annotations, its recorded details). */
export function certificateSecret(prefix: string, cert: string): Placement {
  return { kind: 'secrets', name: objectName(prefix, 'cert', cert), holds: `certificate ${cert}`, tls: true };
}

/** The ConfigMap holding a certificate's record, sink data and the last entries of its logs. */
export function recordConfigMap(prefix: string, subject: string): Placement {
  return { kind: 'configmaps', name: objectName(prefix, 'record', subject), holds: `record of ${subject}` };
}

/** The Lease of a named lock. */
export function leaseName(prefix: string, lock: string): string {
  return objectName(prefix, 'lock', lock);
}

/** `<prefix>-<role>-<part>`, a DNS-1123 label (at most 63), with a hash when `part` had to change. */
export function objectName(prefix: string, role: string, part: string): string {
  const folded = part
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  const head = `${prefix}-${role}-`;
  if (folded === part && folded !== '' && head.length + folded.length <= 63) return `${head}${folded}`;
  const hash = createHash('sha256').update(part).digest('hex').slice(0, 10);
  const room = 63 - head.length - hash.length - 1;
  const kept = folded.slice(0, Math.max(0, room)).replace(/-$/, '');
  return kept ? `${head}${kept}-${hash}` : `${head}${hash}`;
}
