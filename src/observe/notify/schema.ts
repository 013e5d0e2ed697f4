// The `notify:` config section: named targets, each one of the kinds in the folders beside this
// file, discriminated by `type`. config/schema.ts composes `notifySchema`.

import { z } from 'zod';
import { execNotifySchema } from './exec/schema.js';
import { slackNotifySchema } from './slack/schema.js';
import { teamsNotifySchema } from './teams/schema.js';
import { webhookNotifySchema } from './webhook/schema.js';

/** One `notify.<name>` entry; zod reports an unknown `type` with the valid ones. */
export const notifyTargetSchema = z.discriminatedUnion('type', [webhookNotifySchema, slackNotifySchema, teamsNotifySchema, execNotifySchema]);

export type NotifyTargetConfig = z.infer<typeof notifyTargetSchema>;

/** `notify:` — target name → target. Names appear in logs and metric labels. */
export const notifySchema = z.record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'names: letters, digits, "_" and "-"'), notifyTargetSchema);

export type NotifyConfig = z.infer<typeof notifySchema>;
