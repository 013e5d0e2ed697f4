// One shape for the plugin registries (DNS providers, sinks, notifiers): a map from the `type` an
// operator writes in the config to that type's entry, looked up by that type. Each registry says
// what its entries hold besides the schema (capabilities, a constructor); an entry resolves its own
// relative paths, so the config loader never switches on types; its
// test compares the types with the plugin folders.

import type { z } from 'zod';

/** What every plugin entry holds: the schema of one config entry, its `type` literal included. */
export interface PluginEntry<Schema extends z.ZodType = z.ZodType> {
  schema: Schema;
  /**
   * The entry with its relative paths made absolute against `baseDir`, the config file's folder
   * (files sink folders, hook working directories, kubeconfigs). Absent: the entry has none.
   */
  resolvePaths?(config: z.output<Schema>, baseDir: string): z.output<Schema>;
}

/** An entry that also builds the plugin: `create` takes its schema's output and a context. */
export interface PluginType<Schema extends z.ZodType, Context, Instance> extends PluginEntry<Schema> {
  create(config: z.output<Schema>, ctx: Context): Instance;
}

export interface Registry<Entries extends Record<string, PluginEntry>> {
  /** The entries by type, as declared. */
  readonly entries: Entries;
  /** The types, in the order declared. */
  readonly types: readonly (keyof Entries & string)[];
  /** Each type's schema, by type. */
  readonly schemas: { readonly [K in keyof Entries]: Entries[K]['schema'] };
  /** Whether `type` is registered (own keys only: "constructor" is not a type). */
  has(type: string): type is keyof Entries & string;
  get<K extends keyof Entries>(type: K): Entries[K];
  /**
   * The entry `config.type` selects, seen as `Entry`. TypeScript cannot relate `config.type` to
   * the entry it selects; the discriminated union of the entries' schemas guarantees they match.
   */
  entryFor<Entry>(config: { type: string }): Entry;
  /** `config` with its relative paths resolved by its entry (unchanged when the entry has none). */
  resolvePaths<Config extends { type: string }>(config: Config, baseDir: string): Config;
}

export function defineRegistry<Entries extends Record<string, PluginEntry>>(entries: Entries): Registry<Entries> {
  const types = Object.freeze(Object.keys(entries)) as readonly (keyof Entries & string)[];
  const entryFor = <Entry>(config: { type: string }): Entry => {
    if (!Object.hasOwn(entries, config.type)) throw new Error(`no plugin of type "${config.type}"`);
    return entries[config.type] as unknown as Entry;
  };
  const schemas = Object.fromEntries(types.map((type) => [type, entries[type]!.schema])) as { [K in keyof Entries]: Entries[K]['schema'] };
  return {
    entries,
    types,
    schemas,
    has: (type: string): type is keyof Entries & string => Object.hasOwn(entries, type),
    get: (type) => entries[type],
    entryFor,
    resolvePaths: <Config extends { type: string }>(config: Config, baseDir: string): Config => {
      const entry = entryFor<{ resolvePaths?: (config: Config, baseDir: string) => Config }>(config);
      return entry.resolvePaths ? entry.resolvePaths(config, baseDir) : config;
    },
  };
}
