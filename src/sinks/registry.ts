// Every sink type, by the `type` an operator writes in the config. Config code builds its schema
// from `sinkConfigSchema`; the CLI builds sinks with `createSink` (or `sinkTypes[type].create`).
// Adding a sink: a folder beside this file with schema.ts and index.ts, and one entry here
// (a test checks that the folders and this map agree).

import { z } from 'zod';
import { createAcmSink } from './acm/index.js';
import { acmSinkSchema } from './acm/schema.js';
import type { Sink, SinkContext } from './contract.js';
import { createExecSink } from './exec/index.js';
import { execSinkSchema } from './exec/schema.js';
import { createFilesSink } from './files/index.js';
import { filesSinkSchema } from './files/schema.js';
import { createKubernetesSecretSink } from './kubernetes-secret/index.js';
import { kubernetesSecretSinkSchema } from './kubernetes-secret/schema.js';

export type { SinkContext } from './contract.js';

export interface SinkType<Schema extends z.ZodType> {
  /** Validates one `sinks.<name>` entry, including its `type` literal. */
  schema: Schema;
  create(config: z.output<Schema>, ctx: SinkContext): Sink;
}

/** Ties an entry's constructor to its schema's output type. */
function sinkType<Schema extends z.ZodType>(entry: SinkType<Schema>): SinkType<Schema> {
  return entry;
}

export const sinkTypes = {
  files: sinkType({ schema: filesSinkSchema, create: createFilesSink }),
  exec: sinkType({ schema: execSinkSchema, create: createExecSink }),
  acm: sinkType({ schema: acmSinkSchema, create: createAcmSink }),
  'kubernetes-secret': sinkType({ schema: kubernetesSecretSinkSchema, create: createKubernetesSecretSink }),
};

export type SinkTypeName = keyof typeof sinkTypes;

/** One validated `sinks.<name>` entry, of any type (discriminated by `type`). */
export type SinkConfig = { [K in SinkTypeName]: z.output<(typeof sinkTypes)[K]['schema']> }[SinkTypeName];

/** The schema of one `sinks.<name>` entry; zod reports an unknown `type` with the valid ones. */
export const sinkConfigSchema = z.discriminatedUnion('type', [sinkTypes.files.schema, sinkTypes.exec.schema, sinkTypes.acm.schema, sinkTypes['kubernetes-secret'].schema]);

export function isSinkType(type: string): type is SinkTypeName {
  return Object.hasOwn(sinkTypes, type);
}

// TypeScript cannot relate `config.type` to the entry it selects, so the lookup goes through
// one widened view; the discriminated union guarantees they match at runtime.
type AnySinkType = SinkType<z.ZodType<SinkConfig, unknown>>;

export function createSink(config: SinkConfig, ctx: SinkContext): Sink {
  return (sinkTypes[config.type] as unknown as AnySinkType).create(config, ctx);
}
