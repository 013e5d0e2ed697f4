// The `dns:` config section's entries: one schema per provider type (the folders under
// providers/), discriminated by `type`, and what each type can do. Schemas only: loading the
// config never loads a provider's code; registry.ts adds the constructors.

import { z } from 'zod';
import type { DnsProviderCapabilities } from './contract.js';
import { execDnsCapabilities, execDnsSchema } from './providers/exec/schema.js';
import { rfc2136Schema } from './providers/rfc2136/schema.js';
import { route53Schema } from './providers/route53/schema.js';

export const dnsProviderSchemas = {
  rfc2136: rfc2136Schema,
  exec: execDnsSchema,
  route53: route53Schema,
};

export type DnsProviderTypeName = keyof typeof dnsProviderSchemas;

/** One validated `dns.<name>` entry, of any type (discriminated by `type`). */
export type DnsProviderConfig = { [K in DnsProviderTypeName]: z.output<(typeof dnsProviderSchemas)[K]> }[DnsProviderTypeName];

/** Fixed for the type, or depending on the entry (exec: `wildcard: false`). */
export const dnsProviderCapabilitiesByType: {
  [K in DnsProviderTypeName]: DnsProviderCapabilities | ((config: z.output<(typeof dnsProviderSchemas)[K]>) => DnsProviderCapabilities);
} = {
  rfc2136: { wildcard: true },
  exec: execDnsCapabilities,
  route53: { wildcard: true },
};

/** The schema of one `dns.<name>` entry; zod reports an unknown `type` with the valid ones. */
export const dnsProviderConfigSchema = z.discriminatedUnion('type', [dnsProviderSchemas.rfc2136, dnsProviderSchemas.exec, dnsProviderSchemas.route53]);

export function isDnsProviderType(type: string): type is DnsProviderTypeName {
  return Object.hasOwn(dnsProviderSchemas, type);
}

export function dnsProviderCapabilities(config: DnsProviderConfig): DnsProviderCapabilities {
  // TypeScript cannot relate `config.type` to the entry it selects; the union guarantees it.
  const capabilities = dnsProviderCapabilitiesByType[config.type] as DnsProviderCapabilities | ((config: DnsProviderConfig) => DnsProviderCapabilities);
  return typeof capabilities === 'function' ? capabilities(config) : capabilities;
}
