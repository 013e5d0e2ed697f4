// Where certkeeper 0.1 kept each thing in its state directory. Only read now (by the one-time copy
// into the storage layout, and by `doctor` on a folder not copied yet); nothing here writes.
//
//   <dir>/lock                                 the 0.1 state lock (taken by the copy, see migrate-file-layout.ts)
//   <dir>/history.jsonl                        one line per outcome, oldest first
//   <dir>/certs/<name>/live                    symlink to the current version folder
//   <dir>/certs/<name>/.live.versions/<v>/     cert.pem chain.pem fullchain.pem privkey.pem meta.json
//   <dir>/certs/<name>/record.json             deploy bookkeeping (CertRecord)
//   <dir>/certs/<name>/sinks/<sink>.json       a sink's own data for the certificate
//   <dir>/accounts/<id>/account.json           ACME account with its key; id = hash(directory, email)
//   <dir>/issuers/<id>.json                    per CA and account: rate-limit backoff; id = hash(key)

import { createHash } from 'node:crypto';
import path from 'node:path';
import { CertkeeperError } from '../../core/errors.js';

/** The files of one certificate version folder. */
export const VERSION_FILES = { cert: 'cert.pem', chain: 'chain.pem', fullchain: 'fullchain.pem', key: 'privkey.pem', meta: 'meta.json' } as const;
export type VersionFile = keyof typeof VERSION_FILES;

/** 0.1 used names as folder names: no separators, no dot-files, nothing that walks out of certs/. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isSafeName(name: string): boolean {
  return SAFE_NAME.test(name);
}

/** The paths of a 0.1 state directory. */
export class LegacyLayout {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  get certs(): string {
    return path.join(this.dir, 'certs');
  }

  get accounts(): string {
    return path.join(this.dir, 'accounts');
  }

  get issuers(): string {
    return path.join(this.dir, 'issuers');
  }

  get history(): string {
    return path.join(this.dir, 'history.jsonl');
  }

  get lock(): string {
    return path.join(this.dir, 'lock');
  }

  /** CONFIG_INVALID for a name that cannot be a folder name, as 0.1 refused it. */
  certDir(name: string): string {
    if (!isSafeName(name)) {
      throw new CertkeeperError('CONFIG_INVALID', `certificate name "${name}" cannot be used as a folder name (letters, digits, ".", "_", "-")`, {
        retryable: false,
      });
    }
    return path.join(this.certs, name);
  }

  live(name: string): string {
    return path.join(this.certDir(name), 'live');
  }

  record(name: string): string {
    return path.join(this.certDir(name), 'record.json');
  }

  sinkFolder(name: string): string {
    return path.join(this.certDir(name), 'sinks');
  }

  sinkState(name: string, sink: string): string {
    if (!isSafeName(sink)) throw new CertkeeperError('CONFIG_INVALID', `sink name "${sink}" cannot be used as a file name`, { retryable: false });
    return path.join(this.sinkFolder(name), `${sink}.json`);
  }

  /** One folder per directory URL and email: the same email at two CAs is two accounts. */
  account(directoryUrl: string, email: string | null): string {
    return path.join(this.accounts, hash16(`${directoryUrl}\n${email ?? ''}`), 'account.json');
  }

  issuerState(key: string): string {
    return path.join(this.issuers, `${hash16(key)}.json`);
  }
}

function hash16(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
