import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { buildNotifyTargets, createNotifier, notifierTypes } from '../../../src/observe/notify/registry.js';
import { notifySchema, notifyTargetSchema } from '../../../src/observe/notify/schema.js';
import { DEFAULT_NOTIFY_EVENTS } from '../../../src/observe/notify/delivery-schema.js';

const NOTIFY_DIR = fileURLToPath(new URL('../../../src/observe/notify/', import.meta.url));

describe('notifier registry', () => {
  it('delivers problems by default, including endpoint checks (verify_failed)', () => {
    expect(DEFAULT_NOTIFY_EVENTS).toEqual(expect.arrayContaining(['failed', 'deploy_failed', 'expiring', 'recovered', 'verify_failed']));
  });

  it('has exactly one entry per folder under src/observe/notify/', () => {
    const folders = readdirSync(NOTIFY_DIR, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
    expect(Object.keys(notifierTypes).sort()).toEqual(folders);
    for (const folder of folders) {
      expect(existsSync(path.join(NOTIFY_DIR, folder, 'index.ts')), `${folder}/index.ts`).toBe(true);
      expect(existsSync(path.join(NOTIFY_DIR, folder, 'schema.ts')), `${folder}/schema.ts`).toBe(true);
    }
  });

  it('documents every kind in its own section of the notify README (the kinds share the delivery options above them)', () => {
    const readme = readFileSync(path.join(NOTIFY_DIR, 'README.md'), 'utf8');
    const sections = [...readme.matchAll(/^## `([a-z-]+)`$/gm)].map((match) => match[1]);
    expect(sections.sort()).toEqual(Object.keys(notifierTypes).sort());
  });

  it("keys each entry by its schema's type literal, and the union knows every kind", () => {
    for (const [type, entry] of Object.entries(notifierTypes)) {
      expect(entry.schema.shape.type.value).toBe(type);
      expect(notifyTargetSchema.options.map((option) => option.shape.type.value)).toContain(type);
    }
    expect(notifyTargetSchema.options).toHaveLength(Object.keys(notifierTypes).length);
  });

  it('fills the shared delivery defaults and builds one target per entry', () => {
    const config = notifySchema.parse({
      hook: { type: 'webhook', url: 'https://alerts.example.com/in', headers: { Authorization: 'Bearer x' } },
      chat: { type: 'slack', url: 'https://hooks.slack.com/services/T/B/secret', repeatAfter: '1h', minSeverity: 'critical' },
      teams: { type: 'teams', url: 'https://example.webhook.office.com/x', events: ['failed', 'recovered'] },
      page: { type: 'exec', command: ['/usr/local/bin/page'], timeout: '5s', retries: 0 },
    });
    expect(config.hook).toMatchObject({ events: [...DEFAULT_NOTIFY_EVENTS], minSeverity: 'warning', repeatAfter: 6 * 3_600_000, retries: 3, timeout: 10_000 });
    expect(config.chat).toMatchObject({ repeatAfter: 3_600_000, minSeverity: 'critical', blocks: true });
    expect(config.page).toMatchObject({ timeout: 5_000, retries: 0, env: {} });
    const targets = buildNotifyTargets(config, { logger: silentLogger });
    expect(targets.map((t) => [t.name, t.notifier.type, t.policy.timeoutMs])).toEqual([
      ['hook', 'webhook', 10_000],
      ['chat', 'slack', 10_000],
      ['teams', 'teams', 10_000],
      ['page', 'exec', 5_000],
    ]);
    expect(targets[1]!.policy).toEqual({
      events: [...DEFAULT_NOTIFY_EVENTS],
      minSeverity: 'critical',
      repeatAfterMs: 3_600_000,
      retries: 3,
      timeoutMs: 10_000,
      groupWindowMs: 30_000,
      minIntervalMs: 1_000,
      maxQueue: 100,
    });
    // Chat webhooks are paced to about one message a second by default; webhook and exec are not.
    expect(targets.map((t) => t.policy.minIntervalMs)).toEqual([0, 1_000, 1_000, 0]);
    const tuned = notifySchema.parse({ hook: { type: 'webhook', url: 'https://alerts.example.com/in', minInterval: '200ms', groupWindow: 0 } });
    expect(buildNotifyTargets(tuned, { logger: silentLogger })[0]!.policy).toMatchObject({ minIntervalMs: 200, groupWindowMs: 0 });
    expect(notifySchema.safeParse({ hook: { type: 'webhook', url: 'https://alerts.example.com/in', groupWindow: '2h' } }).success).toBe(false);
    expect(createNotifier(config.page!, { name: 'p', logger: silentLogger }).name).toBe('p');
  });

  it('bounds maxQueue, the outbox of one target: a whole number from 16 to 1000, 100 by default', () => {
    const hook = (maxQueue?: unknown): unknown => ({ type: 'webhook', url: 'https://alerts.example.com/in', ...(maxQueue === undefined ? {} : { maxQueue }) });
    expect(notifyTargetSchema.parse(hook())).toMatchObject({ maxQueue: 100 });
    for (const ok of [16, 250, 1000]) expect(notifyTargetSchema.parse(hook(ok))).toMatchObject({ maxQueue: ok });
    for (const bad of [0, 15, -1, 1001, 100.5, '200', null]) {
      const result = notifyTargetSchema.safeParse(hook(bad));
      expect(result.success, String(bad)).toBe(false);
      expect(result.error!.issues[0]!.path).toEqual(['maxQueue']);
    }
    // Every kind takes it, and it reaches the dispatcher's policy.
    const config = notifySchema.parse({
      chat: { type: 'slack', url: 'https://hooks.slack.com/services/T/B/secret', maxQueue: 40 },
      teams: { type: 'teams', url: 'https://example.webhook.office.com/x', maxQueue: 50 },
      page: { type: 'exec', command: ['/usr/local/bin/page'], maxQueue: 20 },
      hook: hook(),
    });
    expect(buildNotifyTargets(config, { logger: silentLogger }).map((t) => [t.name, t.policy.maxQueue])).toEqual([
      ['chat', 40],
      ['teams', 50],
      ['page', 20],
      ['hook', 100],
    ]);
  });

  it('rejects bad entries without repeating a URL', () => {
    const secretish = 'ftp://hooks.example.com/services/T000/B000/XXXXSECRET';
    const result = notifyTargetSchema.safeParse({ type: 'slack', url: secretish });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues.map((issue) => issue.message))).not.toContain('SECRET');
    expect(notifyTargetSchema.safeParse({ type: 'email', to: 'x' }).success).toBe(false);
    expect(notifyTargetSchema.safeParse({ type: 'webhook', url: 'https://x.example/', events: ['exploded'] }).success).toBe(false);
    expect(notifyTargetSchema.safeParse({ type: 'webhook', url: 'https://x.example/', surprise: 1 }).success).toBe(false);
    expect(notifyTargetSchema.safeParse({ type: 'exec', command: 'page-me --now' }).success).toBe(false);
    expect(notifyTargetSchema.safeParse({ type: 'webhook', url: 'https://x.example/', headers: { 'bad header': 'v' } }).success).toBe(false);
    expect(notifySchema.safeParse({ 'bad name': { type: 'webhook', url: 'https://x.example/' } }).success).toBe(false);
  });
});
