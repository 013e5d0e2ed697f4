// Every sink type, by the `type` an operator writes in the config: its schema and capabilities
// (schema.ts, which the config code uses without loading any sink) and its constructor. The CLI builds sinks with
// `createSink`, on first use (cli/deferred.ts).
// Adding a sink: a folder beside this file with schema.ts and index.ts, one entry in schema.ts
// and one here (a test checks that the folders and this map agree).

import type { z } from 'zod';
import { defineRegistry, type PluginType } from '../core/registry.js';
import { createAcmSink } from './acm/index.js';
import type { Sink, SinkContext, SinkKind } from './contract.js';
import { createExecSink } from './exec/index.js';
import { createFilesSink } from './files/index.js';
import { createKubernetesSecretSink } from './kubernetes-secret/index.js';
import { sinkKinds, type SinkConfig } from './schema.js';

export { isSinkType, sinkCapabilities, sinkConfigSchema, type SinkConfig, type SinkTypeName } from './schema.js';
export type { SinkContext } from './contract.js';

/** One sink type: its kind (schema.ts: schema and capabilities) and its constructor. */
export type SinkType<Schema extends z.ZodType> = SinkKind<Schema> & PluginType<Schema, SinkContext, Sink>;

/** Ties an entry's constructor to its schema's output type. */
function sinkType<Schema extends z.ZodType>(entry: SinkType<Schema>): SinkType<Schema> {
  return entry;
}

const kinds = sinkKinds.entries;

export const sinkRegistry = defineRegistry({
  files: sinkType({ ...kinds.files, create: createFilesSink }),
  exec: sinkType({ ...kinds.exec, create: createExecSink }),
  acm: sinkType({ ...kinds.acm, create: createAcmSink }),
  'kubernetes-secret': sinkType({ ...kinds['kubernetes-secret'], create: createKubernetesSecretSink }),
});

export const sinkTypes = sinkRegistry.entries;

/** Builds the sink `config` describes; it carries its type's `writesFiles` and `reloads` capabilities. */
export function createSink(config: SinkConfig, ctx: SinkContext): Sink {
  const entry = sinkRegistry.entryFor<SinkType<z.ZodType<SinkConfig, unknown>>>(config);
  const { writesFiles, reloads } = entry.capabilities;
  return Object.assign(entry.create(config, ctx), { writesFiles, reloads });
}
