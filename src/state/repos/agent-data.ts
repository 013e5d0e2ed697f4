// What one agent keeps for itself in the store (keys agents/<agent id>/<name>): the notification
// outbox and alert memory, the last watch round. Each agent has its own, so agents sharing a
// store never mix their alert memory. Values are JSON; whoever reads one parses it with its own
// codec (observe/notify/snapshot.ts, verify/watcher.ts).

import { z } from 'zod';
import { decodeJson, encodeJson } from '../codec.js';
import type { AgentData } from '../contract.js';
import type { Storage } from '../storage/contract.js';

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

  private key(name: string): string {
    return `agents/${this.agentId}/${name}`;
  }
}
