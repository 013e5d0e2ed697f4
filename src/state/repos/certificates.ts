// The certificates repository: each name's current certificate with its key, and the archive of
// earlier ones, on any Storage. Layout (keys):
//
//   certs/<name>/current             small JSON: which version is live, and its recorded details
//   certs/<name>/versions/<version>  the PEM material of one issued certificate (sealed when configured)
//   certs/<name>/revoked/<serial>    material taken out of the live path by `revoke`
//
// A new certificate is written to a fresh version first and becomes current by one put of
// `current`: the storage-level form of the file store's symlink switch, so no reader ever pairs a
// certificate with another version's key. `current` records the details planning needs, so a
// fleet is planned with one small read per certificate (peek); the full read parses the PEM and
// checks the key and the recorded details before anything is ordered or deployed from them.

import { z } from 'zod';
import type { Clock } from '../../core/clock.js';
import { CertkeeperError, isCertkeeperError, toCertkeeperError } from '../../core/errors.js';
import type { CertificateInfo, CertificateMaterial } from '../../core/types.js';
import { keyMatchesCertificate, parseCertificate } from '../../core/x509.js';
import { decodeJson, encodeJson } from '../codec.js';
import type { Sealer } from '../seal.js';
import type { Storage } from '../storage/contract.js';

/** A certificate name as a key segment: the same rule the file store applied to folder names. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const KEY_TYPES = ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'unknown'] as const;

const currentCodec = z.object({
  version: z.string().min(1),
  directoryUrl: z.string(),
  issuedAt: z.iso.datetime(),
  serial: z.string().min(1),
  notBefore: z.iso.datetime(),
  notAfter: z.iso.datetime(),
  domains: z.array(z.string()),
  keyType: z.enum(KEY_TYPES),
  issuer: z.string(),
});
type Current = z.infer<typeof currentCodec>;

const materialCodec = z.object({ certPem: z.string().min(1), chainPem: z.string(), fullchainPem: z.string().min(1), keyPem: z.string().min(1) });

export interface CertificateDetails {
  name: string;
  info: CertificateInfo;
  issuedAt: Date;
  directoryUrl: string;
}

export interface CertificateWithMaterial extends CertificateDetails {
  material: CertificateMaterial;
  /** Where the live version is kept, for messages (`certs/www/versions/...`). */
  version: string;
}

export interface CertificatesOptions {
  storage: Storage;
  sealer: Sealer;
  clock: Clock;
  /** Earlier versions kept per name (default 10). */
  archiveVersions?: number;
}

export class CertificateRepository {
  private readonly storage: Storage;
  private readonly sealer: Sealer;
  private readonly clock: Clock;
  private readonly archiveVersions: number;

  constructor(options: CertificatesOptions) {
    this.storage = options.storage;
    this.sealer = options.sealer;
    this.clock = options.clock;
    this.archiveVersions = options.archiveVersions ?? 10;
  }

  /** The recorded details of the current certificate, from one small read; undefined when there is none. */
  async peek(name: string): Promise<CertificateDetails | undefined> {
    const current = await this.readCurrent(name);
    return current && detailsOf(name, current);
  }

  /**
   * `peek` for many names in one batched read. A name with nothing stored is absent; one whose
   * details cannot be read maps to the error `peek` would throw, so one damaged entry spoils no other.
   */
  async peekMany(names: readonly string[]): Promise<Map<string, CertificateDetails | CertkeeperError>> {
    const result = new Map<string, CertificateDetails | CertkeeperError>();
    const keys = new Map<string, string>();
    for (const name of names) {
      try {
        checkName(name);
        keys.set(currentKey(name), name);
      } catch (error) {
        result.set(name, toCertkeeperError(error));
      }
    }
    const stored = await this.storage.getMany([...keys.keys()]);
    for (const [key, name] of keys) {
      const value = stored.get(key);
      if (!value) continue;
      try {
        result.set(name, detailsOf(name, decodeJson(currentCodec, value.value, key)));
      } catch (error) {
        result.set(name, toCertkeeperError(error));
      }
    }
    return result;
  }

  /** The current certificate with its key, checked: the key belongs to it and the recorded details agree. */
  async get(name: string): Promise<CertificateWithMaterial | undefined> {
    const current = await this.readCurrent(name);
    if (!current) return undefined;
    const key = versionKey(name, current.version);
    const stored = await this.storage.get(key);
    if (!stored) throw new CertkeeperError('STATE_CORRUPT', `stored certificate "${name}": ${key} is missing`, { retryable: false });
    const material = decodeJson(materialCodec, this.sealer.open(key, stored.value), key);
    let info: CertificateInfo;
    try {
      info = parseCertificate(material.certPem);
    } catch (error) {
      throw new CertkeeperError('STATE_CORRUPT', `stored certificate "${name}": the certificate in ${key} does not parse`, { cause: error, retryable: false });
    }
    const disagrees = disagreement(current, info);
    if (disagrees) throw new CertkeeperError('STATE_CORRUPT', `stored certificate "${name}": the record says ${disagrees}`, { retryable: false });
    if (!keyMatchesCertificate(material.certPem, material.keyPem)) {
      throw new CertkeeperError('STATE_CORRUPT', `stored certificate "${name}": the private key in ${key} does not belong to its certificate`, {
        retryable: false,
      });
    }
    return { ...detailsOf(name, current), info, material, version: key };
  }

  /** Stores a new current certificate (checked first), keeping the previous ones as the archive. */
  async put(name: string, material: CertificateMaterial, meta: { directoryUrl: string; issuedAt: Date }): Promise<CertificateWithMaterial> {
    checkName(name);
    let info: CertificateInfo;
    try {
      info = parseCertificate(material.certPem);
    } catch (error) {
      throw new CertkeeperError('INTERNAL', `refusing to store certificate "${name}": it does not parse`, { cause: error, retryable: false });
    }
    if (!keyMatchesCertificate(material.certPem, material.keyPem)) {
      throw new CertkeeperError('INTERNAL', `refusing to store certificate "${name}": the private key does not belong to it`, { retryable: false });
    }
    // Millisecond stamps sort versions by age, so pruning keeps the newest.
    const stamp = this.clock.now().toISOString().replace(/[-:.]/g, '');
    const version = `${stamp}-${info.serial.replace(/[^A-Za-z0-9]/g, '').slice(0, 64)}`;
    const key = versionKey(name, version);
    const plain = { certPem: material.certPem, chainPem: material.chainPem, fullchainPem: material.fullchainPem, keyPem: material.keyPem };
    await this.storage.put(key, this.sealer.seal(key, encodeJson(plain)));
    const current: Current = {
      version,
      directoryUrl: meta.directoryUrl,
      issuedAt: meta.issuedAt.toISOString(),
      serial: info.serial,
      notBefore: info.notBefore.toISOString(),
      notAfter: info.notAfter.toISOString(),
      domains: info.domains,
      keyType: info.keyType,
      issuer: info.issuer,
    };
    await this.storage.put(currentKey(name), encodeJson(current));
    await this.prune(name, version);
    return { ...detailsOf(name, current), material, version: key };
  }

  /**
   * Takes the current certificate out of the live path (revoked or compromised key): its
   * material moves to `revoked/<serial>` and `current` goes. Returns where it went.
   */
  async quarantine(name: string): Promise<string | undefined> {
    const current = await this.readCurrent(name);
    if (!current) return undefined;
    const from = versionKey(name, current.version);
    const stored = await this.storage.get(from);
    const serial = current.serial.replace(/[^A-Za-z0-9]/g, '') || current.version;
    let to = `certs/${name}/revoked/${serial}`;
    // A second quarantine of the same serial (a retried command) keeps both.
    if (await this.storage.get(to)) to = `${to}-${this.clock.now().getTime()}`;
    if (stored) await this.storage.put(to, this.sealer.seal(to, this.sealer.open(from, stored.value)));
    await this.storage.delete(currentKey(name));
    if (stored) await this.storage.delete(from);
    return to;
  }

  /** Names with a current certificate, sorted. */
  async names(): Promise<string[]> {
    const keys = await this.storage.list('certs/');
    return keys
      .map((key) => /^certs\/([^/]+)\/current$/.exec(key)?.[1])
      .filter((name): name is string => name !== undefined)
      .sort();
  }

  private async readCurrent(name: string): Promise<Current | undefined> {
    checkName(name);
    const key = currentKey(name);
    const stored = await this.storage.get(key);
    return stored && decodeJson(currentCodec, stored.value, key);
  }

  /** Deletes versions beyond the archive limit, oldest first; never the current one. */
  private async prune(name: string, keepVersion: string): Promise<void> {
    const prefix = `certs/${name}/versions/`;
    const versions = (await this.storage.list(prefix)).map((key) => key.slice(prefix.length)).filter((v) => !v.includes('/'));
    const older = versions
      .filter((v) => v !== keepVersion)
      .sort()
      .reverse();
    for (const version of older.slice(this.archiveVersions)) {
      try {
        await this.storage.delete(`${prefix}${version}`);
      } catch (error) {
        if (!isCertkeeperError(error, 'STATE_CONFLICT')) throw error;
      }
    }
  }
}

function checkName(name: string): void {
  if (!SAFE_NAME.test(name)) {
    throw new CertkeeperError('CONFIG_INVALID', `certificate name "${name}" cannot be used as a storage key (letters, digits, ".", "_", "-")`, {
      retryable: false,
    });
  }
}

function currentKey(name: string): string {
  return `certs/${name}/current`;
}

function versionKey(name: string, version: string): string {
  return `certs/${name}/versions/${version}`;
}

function detailsOf(name: string, current: Current): CertificateDetails {
  return {
    name,
    info: {
      serial: current.serial,
      notBefore: new Date(current.notBefore),
      notAfter: new Date(current.notAfter),
      domains: current.domains,
      keyType: current.keyType,
      issuer: current.issuer,
    },
    issuedAt: new Date(current.issuedAt),
    directoryUrl: current.directoryUrl,
  };
}

/** The first recorded detail that differs from the certificate itself, as "field X, the certificate Y". */
function disagreement(current: Current, info: CertificateInfo): string | undefined {
  const pairs: [string, string, string][] = [
    ['serial', current.serial, info.serial],
    ['notAfter', new Date(current.notAfter).toISOString(), info.notAfter.toISOString()],
    ['notBefore', new Date(current.notBefore).toISOString(), info.notBefore.toISOString()],
    ['domains', current.domains.join(','), info.domains.join(',')],
    ['keyType', current.keyType, info.keyType],
    ['issuer', current.issuer, info.issuer],
  ];
  for (const [field, recorded, actual] of pairs) if (recorded !== actual) return `${field} ${recorded}, the certificate ${actual}`;
  return undefined;
}
