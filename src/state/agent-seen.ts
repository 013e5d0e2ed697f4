// Which agents sharing a store are still around, and the deploy records of those that are not.
//
// A local sink's deploys are recorded per agent in each certificate's record (`web@host-a`,
// sinks/scope.ts). An agent that is gone for good (a host retired or renamed) would leave its
// entries there forever. So every agent records when it last ran (`agents/<id>/seen`, at most
// once per SEEN_REFRESH_MS), and whoever writes a record next drops the entries of agents not
// seen for AGENT_GONE_AFTER_MS. An agent that comes back after that deploys its local sinks once
// more, as a new agent would: harmless, the same certificate written again.
//
// An agent with no seen record at all (gone before its store tracked this, or an older
// certkeeper still running) counts as seen when tracking began in that store: the earliest
// `firstSeenAt` of any agent. So a rolling upgrade has the whole period to finish, and an agent
// retired before it is dropped one period after the first agent upgraded.

import { z } from 'zod';

const DAY_MS = 86_400_000;
/** An agent unseen this long is gone: its per-agent deploy records are dropped. */
export const AGENT_GONE_AFTER_MS = 30 * DAY_MS;
/** How often an agent records that it runs, and how long a reader trusts what it read of the others. */
export const SEEN_REFRESH_MS = 3_600_000;

export const agentSeenCodec = z.object({ firstSeenAt: z.iso.datetime(), lastSeenAt: z.iso.datetime() });
export type AgentSeen = z.infer<typeof agentSeenCodec>;

/** The agent a deploy record belongs to (`web@host-a` → `host-a`); undefined for a shared sink's (`acm`). */
export function agentOfDeployment(key: string): string | undefined {
  const at = key.lastIndexOf('@');
  return at > 0 && at < key.length - 1 ? key.slice(at + 1) : undefined;
}

/**
 * The agents among `agents` that are gone at `now`: not `self`, and last seen (or, without a seen
 * record, since tracking began) more than AGENT_GONE_AFTER_MS ago. With no seen record at all
 * nothing is known, and nobody is gone.
 */
export function goneAgents(agents: Iterable<string>, seen: ReadonlyMap<string, AgentSeen>, now: Date, self: string): Set<string> {
  const gone = new Set<string>();
  let since = Number.POSITIVE_INFINITY;
  for (const record of seen.values()) since = Math.min(since, Date.parse(record.firstSeenAt));
  if (!Number.isFinite(since)) return gone;
  for (const agent of agents) {
    if (agent === self) continue;
    const record = seen.get(agent);
    const last = record ? Date.parse(record.lastSeenAt) : since;
    if (now.getTime() - last > AGENT_GONE_AFTER_MS) gone.add(agent);
  }
  return gone;
}

/** `deployed` without the entries of the `gone` agents (the same object when none goes). */
export function withoutAgents(deployed: Record<string, string>, gone: ReadonlySet<string>): Record<string, string> {
  if (gone.size === 0) return deployed;
  const kept = Object.entries(deployed).filter(([key]) => {
    const agent = agentOfDeployment(key);
    return agent === undefined || !gone.has(agent);
  });
  return kept.length === Object.keys(deployed).length ? deployed : Object.fromEntries(kept);
}
