// The `dns:` config section's entries: one schema per provider type (the folders under
// providers/), discriminated by `type`, and what each type can do. Schemas only: loading the
// config never loads a provider's code; registry.ts adds the constructors.

import { z } from 'zod';
import { resolveExecPaths } from '../core/exec-fields.js';
import { defineRegistry, type PluginEntry } from '../core/registry.js';
import type { DnsProviderCapabilities } from './contract.js';
import { execDnsCapabilities, execDnsSchema } from './providers/exec/schema.js';
import { rfc2136Schema } from './providers/rfc2136/schema.js';
import { route53Schema } from './providers/route53/schema.js';

/** What a provider type is without its code: its schema and what it can do. */
export interface DnsProviderKind<Schema extends z.ZodType> extends PluginEntry<Schema> {
  /** Fixed for the type, or depending on the entry (exec: `wildcard: false`). */
  capabilities: DnsProviderCapabilities | ((config: z.output<Schema>) => DnsProviderCapabilities);
}

/** Ties an entry's capabilities to its schema's output type. */
function dnsProviderKind<Schema extends z.ZodType>(entry: DnsProviderKind<Schema>): DnsProviderKind<Schema> {
  return entry;
}

export const dnsProviderKinds = defineRegistry({
  rfc2136: dnsProviderKind({ schema: rfc2136Schema, capabilities: { wildcard: true } }),
  exec: dnsProviderKind({ schema: execDnsSchema, capabilities: execDnsCapabilities, resolvePaths: resolveExecPaths }),
  route53: dnsProviderKind({ schema: route53Schema, capabilities: { wildcard: true } }),
});

type Kinds = typeof dnsProviderKinds.entries;

export type DnsProviderTypeName = keyof Kinds;

/** Each type's schema, by type. */
export const dnsProviderSchemas = dnsProviderKinds.schemas;

/** One validated `dns.<name>` entry, of any type (discriminated by `type`). */
export type DnsProviderConfig = { [K in DnsProviderTypeName]: z.output<Kinds[K]['schema']> }[DnsProviderTypeName];

/** The schema of one `dns.<name>` entry; zod reports an unknown `type` with the valid ones. */
export const dnsProviderConfigSchema = z.discriminatedUnion('type', [dnsProviderSchemas.rfc2136, dnsProviderSchemas.exec, dnsProviderSchemas.route53]);

export function isDnsProviderType(type: string): type is DnsProviderTypeName {
  return dnsProviderKinds.has(type);
}

export function dnsProviderCapabilities(config: DnsProviderConfig): DnsProviderCapabilities {
  const { capabilities } = dnsProviderKinds.entryFor<DnsProviderKind<z.ZodType<DnsProviderConfig, unknown>>>(config);
  return typeof capabilities === 'function' ? capabilities(config) : capabilities;
}
