// Where the files sink keeps a certificate's files: a pure function of its entry, so the sink's
// kind (schema.ts) answers `locate` without the sink being built.

import path from 'node:path';
import type { CertificatePaths } from '../../core/types.js';

/** `{cert}` in the configured folder becomes the certificate name. */
export function filesSinkDir(config: { dir: string }, certName: string): string {
  return path.resolve(config.dir.replaceAll('{cert}', certName));
}

export function filesSinkPaths(dir: string): CertificatePaths {
  return {
    cert: path.join(dir, 'cert.pem'),
    chain: path.join(dir, 'chain.pem'),
    fullchain: path.join(dir, 'fullchain.pem'),
    key: path.join(dir, 'privkey.pem'),
  };
}
