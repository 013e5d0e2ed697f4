// Choosing certificates by name on the command line (renew --cert, status NAME…, history NAME):
// a name not in the config is a usage error that lists the configured ones.

import { CertkeeperError } from '../core/errors.js';
import type { CertificateSpec } from '../core/types.js';

/** The named certificates, in config order; all of them when no name is given. Throws USAGE for an unknown name. */
export function selectCertificates(all: CertificateSpec[], names: string[] | undefined): CertificateSpec[] {
  if (!names || names.length === 0) return all;
  const unknown = names.filter((name) => !all.some((c) => c.name === name));
  if (unknown.length > 0) {
    throw new CertkeeperError(
      'USAGE',
      `unknown certificate${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')} (configured: ${all.map((c) => c.name).join(', ') || 'none'})`,
      { retryable: false },
    );
  }
  return all.filter((c) => names.includes(c.name));
}
