// The certificates of a 0.1 state directory: the current version of each name, read through its
// `live` link. The whole read goes through the resolved version folder, so a certificate is never
// paired with another version's key. Every read is checked: the key belongs to the certificate,
// and meta.json agrees with it; else STATE_CORRUPT.

import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CertkeeperError } from '../../core/errors.js';
import type { CertificateInfo, CertificateMaterial } from '../../core/types.js';
import { keyMatchesCertificate, parseCertificate } from '../../core/x509.js';
import { errnoOf, folderNames, ioError, readOptional } from './files.js';
import { isSafeName, VERSION_FILES, type LegacyLayout, type VersionFile } from './layout.js';
import { infoFromMeta, metaDisagreement, parseMeta, type CertificateMeta } from './meta.js';

export interface LegacyCertificate {
  name: string;
  info: CertificateInfo;
  issuedAt: Date;
  directoryUrl: string;
}

export interface LegacyCertificateWithMaterial extends LegacyCertificate {
  material: CertificateMaterial;
  /** The version folder it was read from. */
  versionDir: string;
}

export class LegacyCertificates {
  constructor(private readonly layout: LegacyLayout) {}

  /** Names that have a current certificate (a `live` entry), sorted. */
  async names(): Promise<string[]> {
    const names: string[] = [];
    for (const name of await folderNames(this.layout.certs)) {
      if (isSafeName(name) && (await fs.lstat(this.layout.live(name)).catch(() => undefined))) names.push(name);
    }
    return names.sort();
  }

  /** The current certificate with its key, checked; undefined when there is none. */
  async get(name: string): Promise<LegacyCertificateWithMaterial | undefined> {
    const read = await this.readCurrent(name, ['cert', 'chain', 'fullchain', 'key', 'meta']);
    if (!read) return undefined;
    const { versionDir, files, meta, info } = read;
    if (!keyMatchesCertificate(files.cert!, files.key!)) {
      throw new CertkeeperError('STATE_CORRUPT', `stored certificate "${name}": the private key in ${versionDir} does not belong to its certificate`, {
        retryable: false,
      });
    }
    return {
      name,
      info,
      issuedAt: new Date(meta.issuedAt),
      directoryUrl: meta.directoryUrl,
      material: { certPem: files.cert!, chainPem: files.chain!, fullchainPem: files.fullchain!, keyPem: files.key! },
      versionDir,
    };
  }

  /**
   * The current certificate's details from meta.json alone (one read through `live`), without its
   * key; cert.pem is parsed only when meta.json predates the recorded details.
   */
  async peek(name: string): Promise<LegacyCertificate | undefined> {
    const text = await readOptional(path.join(this.layout.live(name), VERSION_FILES.meta));
    const meta = text === undefined ? undefined : parseMeta(text);
    const info = meta && infoFromMeta(meta);
    if (meta && info) return { name, info, issuedAt: new Date(meta.issuedAt), directoryUrl: meta.directoryUrl };
    const read = await this.readCurrent(name, ['cert', 'meta']);
    return read && { name, info: read.info, issuedAt: new Date(read.meta.issuedAt), directoryUrl: read.meta.directoryUrl };
  }

  /**
   * Reads `wanted` from the current version folder, cert.pem and meta.json always among them.
   * STATE_CORRUPT when `live` dangles, a file is missing, meta.json is invalid, cert.pem does not
   * parse or disagrees with meta.json.
   */
  private async readCurrent(
    name: string,
    wanted: VersionFile[],
  ): Promise<{ versionDir: string; files: Partial<Record<VersionFile, string>>; meta: CertificateMeta; info: CertificateInfo } | undefined> {
    const live = this.layout.live(name);
    let versionDir: string;
    try {
      versionDir = await fs.realpath(live);
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw ioError('read', live, error);
      if (!(await fs.lstat(live).catch(() => undefined))) return undefined;
      throw new CertkeeperError('STATE_CORRUPT', `${live} points to a version folder that no longer exists`, { cause: error, retryable: false });
    }
    const texts = await Promise.all(
      wanted.map(async (file) => {
        const full = path.join(versionDir, VERSION_FILES[file]);
        const text = await readOptional(full);
        if (text === undefined)
          throw new CertkeeperError('STATE_CORRUPT', `stored certificate "${name}" is incomplete: ${full} is missing`, { retryable: false });
        return text;
      }),
    );
    const files = Object.fromEntries(wanted.map((file, i) => [file, texts[i]!])) as Partial<Record<VersionFile, string>>;

    const metaFile = path.join(versionDir, VERSION_FILES.meta);
    const meta = parseMeta(files.meta!);
    if (!meta) throw new CertkeeperError('STATE_CORRUPT', `stored certificate "${name}": ${metaFile} is not valid`, { retryable: false });
    let info: CertificateInfo;
    try {
      info = parseCertificate(files.cert!);
    } catch (error) {
      throw new CertkeeperError('STATE_CORRUPT', `stored certificate "${name}": ${path.join(versionDir, VERSION_FILES.cert)} does not parse`, {
        cause: error,
        retryable: false,
      });
    }
    // A hand-edited meta.json that disagrees with the certificate is refused, so nothing is copied or checked on its word.
    const disagrees = metaDisagreement(meta, info);
    if (disagrees)
      throw new CertkeeperError(
        'STATE_CORRUPT',
        `stored certificate "${name}": ${metaFile} says ${disagrees.field} ${disagrees.meta}, cert.pem says ${disagrees.cert}`,
        { retryable: false },
      );
    return { versionDir, files, meta, info };
  }
}
