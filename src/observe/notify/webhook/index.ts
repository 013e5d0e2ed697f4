// The generic webhook: POSTs the alert as JSON (the README documents its fields): one
// certificate's alert is the AgentEvent itself plus `certs`; a group carries `group: true`,
// `certs`, `count`, `cause` and the per-certificate events. Any receiver (Alertmanager bridges,
// ticket systems, a script) can branch on `type` and `severity`.

import { alertDocument, type Alert } from '../alert.js';
import type { Notifier, NotifierContext } from '../contract.js';
import { postJson } from '../post.js';
import type { WebhookNotifyConfig } from './schema.js';

export function createWebhookNotifier(config: WebhookNotifyConfig, ctx: NotifierContext): Notifier {
  const label = `notify target "${ctx.name}" (webhook)`;
  return {
    name: ctx.name,
    type: 'webhook',
    send: (alert: Alert, signal: AbortSignal) => postJson(config.url, alertDocument(alert), { headers: config.headers, signal, label, clock: ctx.clock }),
  };
}
