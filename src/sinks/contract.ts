// The Sink contract: a destination a certificate is deployed to (files, a reload command,
// later ACM or a Kubernetes Secret). Sinks run in the order the certificate lists them.

import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { CertificateMaterial, CertificatePaths } from '../core/types.js';

export interface DeployRequest {
  certName: string;
  domains: string[];
  serial: string;
  notAfter: Date;
  material: CertificateMaterial;
  /** Where the PEM files can be read: the state store's copy, or the last files sink's output. */
  paths: CertificatePaths;
}

export interface DeployResult {
  /** When the sink wrote files, where they are now (later sinks' hooks see these paths). */
  paths?: CertificatePaths;
  /** A short human note for logs and history, e.g. "wrote /etc/ssl/www". */
  detail?: string;
}

export interface Sink {
  /** The sink's config name. */
  readonly name: string;
  readonly type: string;
  /** Deploys; throws a CertkeeperError (SINK_FAILED, HOOK_FAILED, HOOK_TIMEOUT) on failure. */
  deploy(request: DeployRequest, signal?: AbortSignal): Promise<DeployResult>;
  /** Where this sink keeps a certificate's files, when it writes files (for later hooks' paths
   *  on a run that does not redeploy this sink). */
  locate?(certName: string): CertificatePaths | undefined;
}

/** What every sink type's constructor receives besides its own config. */
export interface SinkContext {
  /** The sink's config name, e.g. "web". */
  name: string;
  clock: Clock;
  logger: Logger;
  /** Where the sink keeps small data per certificate across runs (e.g. an ACM ARN). */
  state: SinkStateStore;
}

export interface SinkStateStore {
  /** The data kept for `certName`, as stored: the sink parses it with its own schema. */
  get(certName: string): Promise<Record<string, unknown> | undefined>;
  put(certName: string, data: Record<string, unknown>): Promise<void>;
  /** Where the data of `certName` is kept (its store key), for messages about it; absent: in memory. */
  where?(certName: string): string;
}

/** A SinkStateStore kept in memory (tests, dry runs). */
export function memorySinkState(): SinkStateStore {
  const data = new Map<string, Record<string, unknown>>();
  return {
    get: async (certName) => data.get(certName),
    put: async (certName, value) => {
      data.set(certName, value);
    },
  };
}
