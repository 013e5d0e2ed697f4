// The `notify:` config section: named targets, each one of the kinds in the folders beside this
// file, discriminated by `type`. config/schema.ts composes `notifySchema`.

import { z } from 'zod';
import { defineRegistry } from '../../core/registry.js';
import type { NotifierKind } from './contract.js';
import { execNotifyKind } from './exec/schema.js';
import { slackNotifyKind } from './slack/schema.js';
import { teamsNotifyKind } from './teams/schema.js';
import { webhookNotifyKind } from './webhook/schema.js';

/** Every notifier kind's schema and config handling, by type (registry.ts adds the constructors). */
export const notifierKinds = defineRegistry({
  webhook: webhookNotifyKind,
  slack: slackNotifyKind,
  teams: teamsNotifyKind,
  exec: execNotifyKind,
});

const kinds = notifierKinds.entries;

/** One `notify.<name>` entry; zod reports an unknown `type` with the valid ones. */
export const notifyTargetSchema = z.discriminatedUnion('type', [kinds.webhook.schema, kinds.slack.schema, kinds.teams.schema, kinds.exec.schema]);

export type NotifyTargetConfig = z.infer<typeof notifyTargetSchema>;

/** Values of `config` to keep out of logs besides its secret fields, as its kind says. */
export function notifierSecretValues(config: NotifyTargetConfig): string[] {
  return notifierKinds.entryFor<NotifierKind<z.ZodType<NotifyTargetConfig, unknown>>>(config).secretValues?.(config) ?? [];
}

/** `notify:` — target name → target. Names appear in logs and metric labels. */
export const notifySchema = z.record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'names: letters, digits, "_" and "-"'), notifyTargetSchema);

export type NotifyConfig = z.infer<typeof notifySchema>;
