// Microsoft Teams: an Adaptive Card (version 1.4) in a `message` envelope. That is the format the
// Workflows webhooks replacing Office 365 connectors accept, and the old incoming-webhook
// connectors accept it too; the legacy MessageCard works only on the retired connectors. A group
// names its certificates in a compact list.

import type { Alert } from '../alert.js';
import type { Notifier, NotifierContext } from '../contract.js';
import { alertError, alertFacts, alertHeadline, truncate } from '../format.js';
import { postJson } from '../post.js';
import type { TeamsNotifyConfig } from './schema.js';

const COLOR = { info: 'Default', warning: 'Warning', critical: 'Attention' } as const;

export function teamsPayload(alert: Alert): Record<string, unknown> {
  const body: Record<string, unknown>[] = [
    {
      type: 'TextBlock',
      size: 'Medium',
      weight: 'Bolder',
      wrap: true,
      text: alertHeadline(alert),
      color: alert.type === 'recovered' || alert.type === 'rehearsal_recovered' ? 'Good' : alert.type === 'test' ? 'Accent' : COLOR[alert.severity],
    },
    { type: 'TextBlock', wrap: true, text: truncate(alert.message, 2000) },
    { type: 'FactSet', facts: alertFacts(alert, 2000).map((fact) => ({ title: fact.title, value: fact.value })) },
  ];
  const error = alertError(alert);
  if (error) body.push({ type: 'TextBlock', wrap: true, fontType: 'Monospace', text: truncate(error, 2000) });
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          msteams: { width: 'Full' },
          body,
        },
      },
    ],
  };
}

export function createTeamsNotifier(config: TeamsNotifyConfig, ctx: NotifierContext): Notifier {
  const label = `notify target "${ctx.name}" (teams)`;
  return {
    name: ctx.name,
    type: 'teams',
    send: (alert: Alert, signal: AbortSignal) => postJson(config.url, teamsPayload(alert), { signal, label, clock: ctx.clock }),
  };
}
