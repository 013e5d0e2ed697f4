// Slack incoming webhooks: `text` (what the notification and old clients show) plus optional
// Block Kit blocks with the details. Slack answers 200 "ok", or 4xx with a reason like
// "invalid_token"; 429 carries Retry-After.

import type { AgentEvent } from '../../events.js';
import type { Notifier, NotifierContext } from '../contract.js';
import { facts, headline, truncate } from '../format.js';
import { postJson } from '../post.js';
import type { SlackNotifyConfig } from './schema.js';

const EMOJI = { info: ':information_source:', warning: ':warning:', critical: ':rotating_light:' } as const;

/** Slack mrkdwn treats &, < and > as markup. */
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function slackPayload(event: AgentEvent, withBlocks: boolean): Record<string, unknown> {
  const emoji = event.type === 'recovered' ? ':white_check_mark:' : EMOJI[event.severity];
  const text = `${emoji} ${escape(headline(event))}: ${escape(event.message)}`;
  if (!withBlocks) return { text };
  // Block Kit limits: header 150 characters, section text 3000, at most 10 fields of 2000.
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(headline(event), 150), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: truncate(`${emoji} ${escape(event.message)}`, 3000) } },
    {
      type: 'section',
      fields: facts(event)
        .slice(0, 10)
        .map((fact) => ({ type: 'mrkdwn', text: truncate(`*${fact.title}*\n${escape(fact.value)}`, 2000) })),
    },
  ];
  if (event.error) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(`*Error*\n\`\`\`${escape(event.error)}\`\`\``, 3000) } });
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `certkeeper · ${event.at}` }] });
  return { text, blocks };
}

export function createSlackNotifier(config: SlackNotifyConfig, ctx: NotifierContext): Notifier {
  const label = `notify target "${ctx.name}" (slack)`;
  return {
    name: ctx.name,
    type: 'slack',
    send: (event: AgentEvent, signal: AbortSignal) => postJson(config.url, slackPayload(event, config.blocks), { signal, label }),
  };
}
