// Slack incoming webhooks: `text` (what the notification and old clients show) plus optional
// Block Kit blocks with the details; a group names its certificates in a compact list. Slack
// answers 200 "ok", or 4xx with a reason like "invalid_token"; 429 carries Retry-After (and takes
// about one message per second per webhook: the dispatcher paces to that by default).

import type { Alert } from '../alert.js';
import type { Notifier, NotifierContext } from '../contract.js';
import { alertError, alertFacts, alertHeadline, truncate } from '../format.js';
import { postJson } from '../post.js';
import type { SlackNotifyConfig } from './schema.js';

const EMOJI = { info: ':information_source:', warning: ':warning:', critical: ':rotating_light:' } as const;

/** Slack mrkdwn treats &, < and > as markup. */
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function slackPayload(alert: Alert, withBlocks: boolean): Record<string, unknown> {
  const emoji =
    alert.type === 'test' ? ':test_tube:' : alert.type === 'recovered' || alert.type === 'rehearsal_recovered' ? ':white_check_mark:' : EMOJI[alert.severity];
  const head = alertHeadline(alert);
  // `text` is what the push notification shows: bounded, the list of names is in the blocks.
  const text = truncate(`${emoji} ${escape(head)}: ${escape(alert.message)}`, 3000);
  if (!withBlocks) return { text };
  // Block Kit limits: header 150 characters, section text 3000, at most 10 fields of 2000.
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(head, 150), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: truncate(`${emoji} ${escape(alert.message)}`, 3000) } },
    {
      type: 'section',
      fields: alertFacts(alert, 1800)
        .slice(0, 10)
        .map((fact) => ({ type: 'mrkdwn', text: truncate(`*${fact.title}*\n${escape(fact.value)}`, 2000) })),
    },
  ];
  const error = alertError(alert);
  if (error) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(`*Error*\n\`\`\`${escape(error)}\`\`\``, 3000) } });
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `certkeeper · ${alert.at}` }] });
  return { text, blocks };
}

export function createSlackNotifier(config: SlackNotifyConfig, ctx: NotifierContext): Notifier {
  const label = `notify target "${ctx.name}" (slack)`;
  return {
    name: ctx.name,
    type: 'slack',
    send: (alert: Alert, signal: AbortSignal) => postJson(config.url, slackPayload(alert, config.blocks), { signal, label, clock: ctx.clock }),
  };
}
