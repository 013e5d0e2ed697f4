// What one agent keeps for itself in the store (keys agents/<agent id>/<name>): the notification
// outbox and alert memory, the last watch round, when it last ran (`seen`, agent-seen.ts). Each
// agent has its own, so agents sharing a store never mix their alert memory. Values are JSON;
// whoever reads one parses it with its own codec (observe/notify/snapshot.ts, verify/watcher.ts).

import { z } from 'zod';
import { isCertkeeperError } from '../../core/errors.js';
import { agentSeenCodec, type AgentSeen } from '../agent-seen.js';
import { decodeJson, encodeJson } from '../codec.js';
import type { AgentData } from '../contract.js';
import type { Storage } from '../storage/contract.js';

const SEEN = 'seen';
const SEEN_KEY = /^agents\/([^/]+)\/seen$/;
const AGENT_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class AgentDataRepository implements AgentData {
  constructor(
    private readonly storage: Storage,
    private readonly agentId: string,
  ) {}

  async get(name: string): Promise<unknown> {
    const key = this.key(name);
    const stored = await this.storage.get(key);
    return stored === undefined ? undefined : decodeJson(z.unknown(), stored.value, key);
  }

  async put(name: string, value: unknown): Promise<void> {
    await this.storage.put(this.key(name), encodeJson(value));
  }

  /** Records that this agent runs at `now`; the first time is kept. */
  async markSeen(now: Date): Promise<void> {
    const key = this.key(SEEN);
    const stored = await this.storage.get(key);
    let firstSeenAt = now.toISOString();
    if (stored) {
      try {
        firstSeenAt = decodeJson(agentSeenCodec, stored.value, key).firstSeenAt;
      } catch (error) {
        if (!isCertkeeperError(error, 'STATE_CORRUPT')) throw error; // damaged: written afresh
      }
    }
    await this.storage.put(key, encodeJson({ firstSeenAt, lastSeenAt: now.toISOString() } satisfies AgentSeen));
  }

  private key(name: string): string {
    return `agents/${this.agentId}/${name}`;
  }
}

/**
 * When the agents sharing `storage` last ran, by agent id: all that have a seen record, or only
 * those of `agents`. A damaged record counts as seen at `now`: never a reason to drop an agent.
 */
export async function readAgentsSeen(storage: Storage, now: Date, agents?: readonly string[]): Promise<Map<string, AgentSeen>> {
  const keys = agents
    ? agents.filter((agent) => AGENT_SEGMENT.test(agent)).map((agent) => `agents/${agent}/${SEEN}`)
    : (await storage.list('agents/')).filter((key) => SEEN_KEY.test(key));
  const stored = await storage.getMany(keys);
  const seen = new Map<string, AgentSeen>();
  for (const [key, value] of stored) {
    const agent = SEEN_KEY.exec(key)![1]!;
    try {
      seen.set(agent, decodeJson(agentSeenCodec, value.value, key));
    } catch {
      seen.set(agent, { firstSeenAt: now.toISOString(), lastSeenAt: now.toISOString() });
    }
  }
  return seen;
}
