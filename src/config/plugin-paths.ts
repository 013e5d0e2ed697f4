// Relative paths in the plugin entries (`dns:`, `sinks:`, `notify:`) mean "beside the config
// file", wherever certkeeper is started from. Each plugin type resolves its own (its kind's
// resolvePaths, beside its schema), so the loader never switches on types.

import { dnsProviderKinds, type DnsProviderConfig } from '../dns/schema.js';
import { notifierKinds, notifierSecretValues, type NotifyConfig } from '../observe/notify/schema.js';
import { sinkKinds, type SinkConfig } from '../sinks/schema.js';

export interface PluginEntries {
  dns: Record<string, DnsProviderConfig>;
  sinks: Record<string, SinkConfig>;
  notify: NotifyConfig;
}

/** The entries with their relative paths made absolute against `baseDir` (names and order kept). */
export function resolvePluginPaths(raw: PluginEntries, baseDir: string): PluginEntries {
  return {
    dns: mapEntries(raw.dns, (entry) => dnsProviderKinds.resolvePaths(entry, baseDir)),
    sinks: mapEntries(raw.sinks, (entry) => sinkKinds.resolvePaths(entry, baseDir)),
    notify: mapEntries(raw.notify, (entry) => notifierKinds.resolvePaths(entry, baseDir)),
  };
}

/** Values the plugin entries hold that are secret besides their secret fields (webhook header values). */
export function pluginSecretValues(raw: Pick<PluginEntries, 'notify'>): string[] {
  return Object.values(raw.notify).flatMap(notifierSecretValues);
}

function mapEntries<T>(entries: Record<string, T>, resolve: (entry: T) => T): Record<string, T> {
  return Object.fromEntries(Object.entries(entries).map(([name, entry]) => [name, resolve(entry)]));
}
