// The `sinks:` config section's entries: one schema per sink type (the folders beside this
// file), discriminated by `type`. Schemas only: loading the config never loads a sink's code;
// registry.ts adds the constructors.

import { z } from 'zod';
import { defineRegistry } from '../core/registry.js';
import type { CertificatePaths } from '../core/types.js';
import { acmSinkKind } from './acm/schema.js';
import type { SinkCapabilities, SinkKind } from './contract.js';
import { execSinkKind } from './exec/schema.js';
import { filesSinkKind } from './files/schema.js';
import { kubernetesSecretSinkKind } from './kubernetes-secret/schema.js';

/** Every sink type's schema and capabilities, by type (registry.ts adds the constructors). */
export const sinkKinds = defineRegistry({
  files: filesSinkKind,
  exec: execSinkKind,
  acm: acmSinkKind,
  'kubernetes-secret': kubernetesSecretSinkKind,
});

type Kinds = typeof sinkKinds.entries;

export type SinkTypeName = keyof Kinds;

/** Each type's schema, by type. */
export const sinkSchemas = sinkKinds.schemas;

/** One validated `sinks.<name>` entry, of any type (discriminated by `type`). */
export type SinkConfig = { [K in SinkTypeName]: z.output<Kinds[K]['schema']> }[SinkTypeName];

/** The schema of one `sinks.<name>` entry; zod reports an unknown `type` with the valid ones. */
export const sinkConfigSchema = z.discriminatedUnion('type', [sinkSchemas.files, sinkSchemas.exec, sinkSchemas.acm, sinkSchemas['kubernetes-secret']]);

export function isSinkType(type: string): type is SinkTypeName {
  return sinkKinds.has(type);
}

type AnySinkKind = SinkKind<z.ZodType<SinkConfig, unknown>>;

/** What the entry's type declares it can do. */
export function sinkCapabilities(config: SinkConfig): SinkCapabilities {
  return sinkKinds.entryFor<AnySinkKind>(config).capabilities;
}

/**
 * Where a sink that writes files (sinkCapabilities) keeps `certName`'s files, from its entry
 * alone; undefined for a sink that writes none.
 */
export function locateSinkFiles(config: SinkConfig, certName: string): CertificatePaths | undefined {
  return sinkKinds.entryFor<AnySinkKind>(config).locate?.(config, certName);
}
