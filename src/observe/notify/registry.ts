// Every notifier kind, by the `type` an operator writes under `notify:`. The daemon builds its
// targets with `buildNotifyTargets`. Adding a kind: a folder beside this file with schema.ts and
// index.ts, one entry here and one in schema.ts (a test checks that folders and map agree).

import type { z } from 'zod';
import { defineRegistry, type PluginType } from '../../core/registry.js';
import type { Notifier, NotifierContext, NotifierKind } from './contract.js';
import type { DeliveryPolicy, NotifyTarget } from './dispatcher.js';
import { createExecNotifier } from './exec/index.js';
import { notifierKinds, type NotifyConfig, type NotifyTargetConfig } from './schema.js';
import { createSlackNotifier } from './slack/index.js';
import { createTeamsNotifier } from './teams/index.js';
import { createWebhookNotifier } from './webhook/index.js';

export type { Notifier, NotifierContext } from './contract.js';

/** One notifier kind: its schema and config handling (schema.ts) and its constructor. */
export type NotifierType<Schema extends z.ZodType> = NotifierKind<Schema> & PluginType<Schema, NotifierContext, Notifier>;

/** Ties an entry's constructor to its schema's output type. */
function notifierType<Schema extends z.ZodType>(entry: NotifierType<Schema>): NotifierType<Schema> {
  return entry;
}

const kinds = notifierKinds.entries;

export const notifierRegistry = defineRegistry({
  webhook: notifierType({ ...kinds.webhook, create: createWebhookNotifier }),
  slack: notifierType({ ...kinds.slack, create: createSlackNotifier }),
  teams: notifierType({ ...kinds.teams, create: createTeamsNotifier }),
  exec: notifierType({ ...kinds.exec, create: createExecNotifier }),
});

export const notifierTypes = notifierRegistry.entries;

export type NotifierTypeName = keyof typeof notifierTypes;

export function isNotifierType(type: string): type is NotifierTypeName {
  return notifierRegistry.has(type);
}

export function createNotifier(config: NotifyTargetConfig, ctx: NotifierContext): Notifier {
  return notifierRegistry.entryFor<NotifierType<z.ZodType<NotifyTargetConfig, unknown>>>(config).create(config, ctx);
}

/** The delivery options every kind shares, as the Dispatcher reads them. */
export function deliveryPolicy(config: NotifyTargetConfig): DeliveryPolicy {
  return {
    events: config.events,
    minSeverity: config.minSeverity,
    repeatAfterMs: config.repeatAfter,
    retries: config.retries,
    timeoutMs: config.timeout,
    groupWindowMs: config.groupWindow,
    minIntervalMs: config.minInterval,
    maxQueue: config.maxQueue,
  };
}

/** One Dispatcher target per `notify.<name>` entry, in config order. */
export function buildNotifyTargets(config: NotifyConfig, ctx: Omit<NotifierContext, 'name'>): NotifyTarget[] {
  return Object.entries(config).map(([name, target]) => ({
    name,
    notifier: createNotifier(target, { ...ctx, name, logger: ctx.logger.child({ notify: name }) }),
    policy: deliveryPolicy(target),
  }));
}
