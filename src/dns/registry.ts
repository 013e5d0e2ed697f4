// Every DNS provider type, by the `type` an operator writes in the config. Config code builds
// its schema from `dnsProviderConfigSchema`; the CLI builds providers with `createDnsProvider`.
// Adding a provider: a folder under providers/ with schema.ts and index.ts, and one entry here
// (a test checks that the folders and this map agree).

import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { DnsProvider, DnsProviderCapabilities } from './contract.js';
import { createExecDnsProvider, execDnsCapabilities } from './providers/exec/index.js';
import { execDnsSchema } from './providers/exec/schema.js';
import { createRfc2136Provider } from './providers/rfc2136/index.js';
import { rfc2136Schema } from './providers/rfc2136/schema.js';
import { createRoute53Provider } from './providers/route53/index.js';
import { route53Schema } from './providers/route53/schema.js';

/** What a provider gets besides its config: its config name, the clock and a logger. */
export interface DnsProviderContext {
  name: string;
  clock: Clock;
  logger: Logger;
}

export interface DnsProviderType<Schema extends z.ZodType> {
  /** Validates one `dns.<name>` entry, including its `type` literal. */
  schema: Schema;
  /** Fixed for the type, or depending on the entry (exec: `wildcard: false`). */
  capabilities: DnsProviderCapabilities | ((config: z.output<Schema>) => DnsProviderCapabilities);
  create(config: z.output<Schema>, ctx: DnsProviderContext): DnsProvider;
}

/** Ties an entry's functions to its schema's output type. */
function providerType<Schema extends z.ZodType>(entry: DnsProviderType<Schema>): DnsProviderType<Schema> {
  return entry;
}

export const dnsProviderTypes = {
  rfc2136: providerType({ schema: rfc2136Schema, capabilities: { wildcard: true }, create: createRfc2136Provider }),
  exec: providerType({ schema: execDnsSchema, capabilities: execDnsCapabilities, create: createExecDnsProvider }),
  route53: providerType({ schema: route53Schema, capabilities: { wildcard: true }, create: createRoute53Provider }),
};

export type DnsProviderTypeName = keyof typeof dnsProviderTypes;

/** One validated `dns.<name>` entry, of any type (discriminated by `type`). */
export type DnsProviderConfig = { [K in DnsProviderTypeName]: z.output<(typeof dnsProviderTypes)[K]['schema']> }[DnsProviderTypeName];

/** The schema of one `dns.<name>` entry; zod reports an unknown `type` with the valid ones. */
export const dnsProviderConfigSchema = z.discriminatedUnion('type', [
  dnsProviderTypes.rfc2136.schema,
  dnsProviderTypes.exec.schema,
  dnsProviderTypes.route53.schema,
]);

export function isDnsProviderType(type: string): type is DnsProviderTypeName {
  return Object.hasOwn(dnsProviderTypes, type);
}

// TypeScript cannot relate `config.type` to the entry it selects, so lookups go through this
// one widened view; the discriminated union guarantees they match at runtime.
type AnyProviderType = DnsProviderType<z.ZodType<DnsProviderConfig, unknown>>;

function entryFor(config: DnsProviderConfig): AnyProviderType {
  return dnsProviderTypes[config.type] as unknown as AnyProviderType;
}

export function dnsProviderCapabilities(config: DnsProviderConfig): DnsProviderCapabilities {
  const { capabilities } = entryFor(config);
  return typeof capabilities === 'function' ? capabilities(config) : capabilities;
}

export function createDnsProvider(config: DnsProviderConfig, ctx: DnsProviderContext): DnsProvider {
  return entryFor(config).create(config, ctx);
}
