// Who an agent is among those sharing one store: shown by `status`, in lock holders, and in the
// per-agent record of local deploys.

import os from 'node:os';

/** CERTKEEPER_AGENT_ID wins over `agent.id`; the host name otherwise. */
export function agentIdOf(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return env.CERTKEEPER_AGENT_ID || configured || os.hostname();
}
