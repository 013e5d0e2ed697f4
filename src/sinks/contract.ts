// The Sink contract: a destination a certificate is deployed to (files, a reload command,
// later ACM or a Kubernetes Secret). Sinks run in the order the certificate lists them.

import type { z } from 'zod';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { PluginEntry } from '../core/registry.js';
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
  /**
   * The sink writes the certificate's files on this host (its type's `writesFiles` capability,
   * set by createSink and the CLI's stand-ins): a failed deploy stops the sinks after it, whose
   * hooks would read the old files. Absent: false.
   */
  readonly writesFiles?: boolean;
  /**
   * The sink reloads what serves the certificate (its type's `reloads` capability): when an
   * endpoint still serves the old certificate after a deploy, verification runs it once more.
   * Absent: false.
   */
  readonly reloads?: boolean;
  /** Deploys; throws a CertkeeperError (SINK_FAILED, HOOK_FAILED, HOOK_TIMEOUT) on failure. */
  deploy(request: DeployRequest, signal?: AbortSignal): Promise<DeployResult>;
  /** Where this sink keeps a certificate's files, when it writes files (for later hooks' paths
   *  on a run that does not redeploy this sink). */
  locate?(certName: string): CertificatePaths | undefined;
}

/**
 * Where a sink's deploys count, among agents sharing one store: `local` on the host of each agent
 * listing it, `shared` once for all of them (sinks/scope.ts).
 */
export type SinkScope = 'local' | 'shared';

/** What a sink type can do, declared by the type (sinks/schema.ts) so nobody guesses from its code. */
export interface SinkCapabilities {
  /**
   * Writes the certificate's files on this host. Such a type says where (`locate`) from its entry
   * alone, synchronously, so later hooks get the paths without the sink being built or redeployed;
   * and its failed deploy stops the sinks after it.
   */
  writesFiles: boolean;
  /** Runs something that reloads the servers using the certificate (a hook): verification runs it again when an endpoint still serves the old one. */
  reloads: boolean;
  /** Where its deploys count when the entry does not say (`scope:`). */
  scope: SinkScope;
}

/** A sink type without its code: what loading the config and the CLI's stand-ins need. */
export interface SinkKind<Schema extends z.ZodType> extends PluginEntry<Schema> {
  capabilities: SinkCapabilities;
  /** Where a sink that writes files (capabilities.writesFiles) keeps a certificate's files. */
  locate?(config: z.output<Schema>, certName: string): CertificatePaths;
}

/** Ties an entry's functions to its schema's output type. */
export function sinkKind<Schema extends z.ZodType>(entry: SinkKind<Schema>): SinkKind<Schema> {
  return entry;
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
