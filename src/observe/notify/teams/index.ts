// Microsoft Teams: an Adaptive Card (version 1.4) in a `message` envelope. That is the format the
// Workflows webhooks replacing Office 365 connectors accept, and the old incoming-webhook
// connectors accept it too; the legacy MessageCard works only on the retired connectors.

import type { AgentEvent } from '../../events.js';
import type { Notifier, NotifierContext } from '../contract.js';
import { facts, headline, truncate } from '../format.js';
import { postJson } from '../post.js';
import type { TeamsNotifyConfig } from './schema.js';

const COLOR = { info: 'Default', warning: 'Warning', critical: 'Attention' } as const;

export function teamsPayload(event: AgentEvent): Record<string, unknown> {
  const body: Record<string, unknown>[] = [
    {
      type: 'TextBlock',
      size: 'Medium',
      weight: 'Bolder',
      wrap: true,
      text: headline(event),
      color: event.type === 'recovered' ? 'Good' : COLOR[event.severity],
    },
    { type: 'TextBlock', wrap: true, text: event.message },
    { type: 'FactSet', facts: facts(event).map((fact) => ({ title: fact.title, value: fact.value })) },
  ];
  if (event.error) body.push({ type: 'TextBlock', wrap: true, fontType: 'Monospace', text: truncate(event.error, 2000) });
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
    send: (event: AgentEvent, signal: AbortSignal) => postJson(config.url, teamsPayload(event), { signal, label }),
  };
}
