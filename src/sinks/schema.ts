// The `sinks:` config section's entries: one schema per sink type (the folders beside this
// file), discriminated by `type`. Schemas only: loading the config never loads a sink's code;
// registry.ts adds the constructors.

import { z } from 'zod';
import { acmSinkSchema } from './acm/schema.js';
import { execSinkSchema } from './exec/schema.js';
import { filesSinkSchema } from './files/schema.js';
import { kubernetesSecretSinkSchema } from './kubernetes-secret/schema.js';

export const sinkSchemas = {
  files: filesSinkSchema,
  exec: execSinkSchema,
  acm: acmSinkSchema,
  'kubernetes-secret': kubernetesSecretSinkSchema,
};

export type SinkTypeName = keyof typeof sinkSchemas;

/** One validated `sinks.<name>` entry, of any type (discriminated by `type`). */
export type SinkConfig = { [K in SinkTypeName]: z.output<(typeof sinkSchemas)[K]> }[SinkTypeName];

/** The schema of one `sinks.<name>` entry; zod reports an unknown `type` with the valid ones. */
export const sinkConfigSchema = z.discriminatedUnion('type', [sinkSchemas.files, sinkSchemas.exec, sinkSchemas.acm, sinkSchemas['kubernetes-secret']]);

export function isSinkType(type: string): type is SinkTypeName {
  return Object.hasOwn(sinkSchemas, type);
}
