// Every sink type, by the `type` an operator writes in the config: its schema (schema.ts, which
// the config code uses without loading any sink) and its constructor. The CLI builds sinks with
// `createSink`, on first use (cli/deferred.ts).
// Adding a sink: a folder beside this file with schema.ts and index.ts, one entry in schema.ts
// and one here (a test checks that the folders and this map agree).

import type { z } from 'zod';
import { defineRegistry, type PluginType } from '../core/registry.js';
import { createAcmSink } from './acm/index.js';
import type { Sink, SinkContext } from './contract.js';
import { createExecSink } from './exec/index.js';
import { createFilesSink } from './files/index.js';
import { createKubernetesSecretSink } from './kubernetes-secret/index.js';
import { sinkSchemas, type SinkConfig } from './schema.js';

export { isSinkType, sinkConfigSchema, type SinkConfig, type SinkTypeName } from './schema.js';
export type { SinkContext } from './contract.js';

/** One sink type: `schema` validates one `sinks.<name>` entry, including its `type` literal. */
export type SinkType<Schema extends z.ZodType> = PluginType<Schema, SinkContext, Sink>;

/** Ties an entry's constructor to its schema's output type. */
function sinkType<Schema extends z.ZodType>(entry: SinkType<Schema>): SinkType<Schema> {
  return entry;
}

export const sinkRegistry = defineRegistry({
  files: sinkType({ schema: sinkSchemas.files, create: createFilesSink }),
  exec: sinkType({ schema: sinkSchemas.exec, create: createExecSink }),
  acm: sinkType({ schema: sinkSchemas.acm, create: createAcmSink }),
  'kubernetes-secret': sinkType({ schema: sinkSchemas['kubernetes-secret'], create: createKubernetesSecretSink }),
});

export const sinkTypes = sinkRegistry.entries;

export function createSink(config: SinkConfig, ctx: SinkContext): Sink {
  return sinkRegistry.entryFor<SinkType<z.ZodType<SinkConfig, unknown>>>(config).create(config, ctx);
}
