// Where a sink's deploys count, among agents sharing one store. A `local` sink (files, exec)
// writes to the host the agent runs on, so every agent listing it deploys there and its deploy is
// recorded per agent (`web@host-a`); a `shared` sink (ACM, a Kubernetes Secret) is one place for
// all of them, deployed once by whichever agent holds the certificate's lock (recorded as `acm`).

import type { SinkScope } from './contract.js';
import { sinkCapabilities, type SinkConfig } from './schema.js';

export type { SinkScope } from './contract.js';

/** The entry's `scope:`, else its type's (each type declares one: sinks/schema.ts). */
export function sinkScope(config: SinkConfig): SinkScope {
  return config.scope ?? sinkCapabilities(config).scope;
}

/**
 * The name a sink's deploys are recorded under in a certificate's record (`deployed`): the sink's
 * own name when shared, `<sink>@<agent>` when local. A sink the config does not define keeps its name.
 */
export function deploymentKeys(sinks: Record<string, SinkConfig>, agentId: string): (sinkName: string) => string {
  return (sinkName) => {
    const config = Object.hasOwn(sinks, sinkName) ? sinks[sinkName] : undefined;
    return config && sinkScope(config) === 'local' ? `${sinkName}@${agentId}` : sinkName;
  };
}
