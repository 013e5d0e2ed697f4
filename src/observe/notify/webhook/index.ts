// The generic webhook: POSTs the AgentEvent itself as JSON (the README documents its fields), so
// any receiver (Alertmanager bridges, ticket systems, a script) can branch on `type` and `severity`.

import type { AgentEvent } from '../../events.js';
import type { Notifier, NotifierContext } from '../contract.js';
import { postJson } from '../post.js';
import type { WebhookNotifyConfig } from './schema.js';

export function createWebhookNotifier(config: WebhookNotifyConfig, ctx: NotifierContext): Notifier {
  const label = `notify target "${ctx.name}" (webhook)`;
  return {
    name: ctx.name,
    type: 'webhook',
    send: (event: AgentEvent, signal: AbortSignal) => postJson(config.url, event, { headers: config.headers, signal, label }),
  };
}
