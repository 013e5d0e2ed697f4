// What the dispatcher keeps across restarts and reloads, as one JSON document: per target, the
// outbox (alerts not yet delivered), the delivered alerts still open (repeat suppression,
// escalation and who gets a recovery read these), the grouping windows, and when the target last
// delivered. Behind a two-method store so the file can later become a state-store repository.

import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { CertkeeperError } from '../../core/errors.js';
import { atomicWriteFile } from '../../core/fs-atomic.js';
import { AGENT_EVENT_TYPES, SEVERITIES, type AgentEvent } from '../events.js';

/** A queued event, every field of AgentEvent checked (the annotation holds the codec to the type); fields of a newer version are kept. */
const eventSchema: z.ZodType<AgentEvent> = z
  .object({
    type: z.enum(AGENT_EVENT_TYPES),
    at: z.string(),
    cert: z.string(),
    domains: z.array(z.string()),
    severity: z.enum(SEVERITIES),
    message: z.string(),
    serial: z.string().nullable().optional(),
    notAfter: z.string().nullable().optional(),
    sink: z.string().optional(),
    error: z.string().optional(),
    code: z.string().optional(),
    provider: z.string().optional(),
    issuer: z.string().optional(),
    consecutiveFailures: z.number().optional(),
    daysLeft: z.number().nullable().optional(),
    action: z.string().optional(),
    serving: z.string().optional(),
    endpoint: z.string().optional(),
  })
  .passthrough();

const causeSchema = z.object({
  kind: z.enum(['dns', 'ca', 'sink', 'code', 'none']),
  key: z.string(),
  label: z.string(),
  provider: z.string().optional(),
  issuer: z.string().optional(),
  sink: z.string().optional(),
  code: z.string().optional(),
});

const outboxItemSchema = z.object({
  key: z.string(),
  type: z.enum(AGENT_EVENT_TYPES),
  cause: causeSchema.optional(),
  events: z.array(eventSchema).min(1),
  coalesced: z.number().int().min(0).default(0),
  /** Not before this time (a group waits for its window's end). */
  notBefore: z.string(),
  attempts: z.number().int().min(0).default(0),
});

const targetSnapshotSchema = z.object({
  /** When this target name was first seen: "nothing delivered since" counts from here. */
  since: z.string(),
  lastDeliveredAt: z.string().optional(),
  lastFailure: z.object({ at: z.string(), error: z.string() }).optional(),
  /** Nothing is sent before this (the retry backoff, or the receiver's Retry-After). */
  pausedUntil: z.string().optional(),
  /** When the last request to the target started: the pace (`minInterval`) counts from it. */
  lastAttemptAt: z.string().optional(),
  /** Per certificate: the delivered alerts not yet recovered, per family (stage, when), and their cause. */
  open: z
    .record(z.string(), z.object({ cause: causeSchema.optional(), families: z.record(z.string(), z.object({ at: z.string(), stage: z.number().int() })) }))
    .default({}),
  /** Grouping windows still running: merge key → end. */
  windows: z.record(z.string(), z.string()).default({}),
  queue: z.array(outboxItemSchema).default([]),
});

const snapshotSchema = z.object({ version: z.literal(2), targets: z.record(z.string(), targetSnapshotSchema) });

/** The format before the outbox (version 1, no version field): alerts counted as sent when queued. */
const legacySnapshotSchema = z.object({
  // A damaged version 2 is not read as version 1 (it was, losing its outbox without a word).
  version: z.undefined().optional(),
  targets: z.record(
    z.string(),
    z.object({
      openAlerts: z.array(z.string()).default([]),
      lastSent: z.record(z.string(), z.object({ at: z.string(), severity: z.enum(SEVERITIES) })).default({}),
    }),
  ),
});

export type DispatcherSnapshot = z.infer<typeof snapshotSchema>;
export type TargetSnapshot = z.infer<typeof targetSnapshotSchema>;
export type OutboxItemSnapshot = z.infer<typeof outboxItemSchema>;

const LEGACY_FAMILY: Record<string, string> = { deploy_failed: 'deploy', verify_failed: 'verify', rehearsal_failed: 'rehearsal' };
const LEGACY_STAGE = { info: 0, warning: 1, critical: 2 } as const;

/**
 * A snapshot from JSON: the current version, or version 1 converted (its remembered alerts become
 * open ones, so their recovery is still sent). Undefined when it is neither.
 */
export function parseSnapshot(value: unknown, now: Date): DispatcherSnapshot | undefined {
  return readSnapshot(value, now).snapshot;
}

/** parseSnapshot, with what is wrong (the first bad field of the current version) when it is neither. */
function readSnapshot(value: unknown, now: Date): { snapshot: DispatcherSnapshot; problem?: undefined } | { snapshot?: undefined; problem: string } {
  const current = snapshotSchema.safeParse(value);
  if (current.success) return { snapshot: current.data };
  const legacy = legacySnapshotSchema.safeParse(value);
  if (!legacy.success) {
    const issue = current.error.issues[0];
    return { problem: `${issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : ''}: ${issue?.message ?? 'unknown problem'}` };
  }
  const targets: DispatcherSnapshot['targets'] = {};
  for (const [name, old] of Object.entries(legacy.data.targets)) {
    const open: TargetSnapshot['open'] = {};
    for (const cert of old.openAlerts) open[cert] = { families: { renewal: { at: new Date(0).toISOString(), stage: 1 } } };
    for (const [key, sent] of Object.entries(old.lastSent)) {
      const [cert = '', type = '', sink = ''] = key.split('|');
      const base = LEGACY_FAMILY[type] ?? 'renewal';
      const family = base === 'deploy' ? `deploy:${sink}` : base === 'verify' ? 'verify:' : base;
      open[cert] ??= { families: {} };
      open[cert].families[family] = { at: sent.at, stage: LEGACY_STAGE[sent.severity] };
    }
    targets[name] = { since: now.toISOString(), open, windows: {}, queue: [] };
  }
  return { snapshot: { version: 2, targets } };
}

/** Where a dispatcher's snapshot lives. `load` is undefined when nothing was saved yet. */
export interface NotifyStateStore {
  load(): Promise<DispatcherSnapshot | undefined>;
  save(snapshot: DispatcherSnapshot): Promise<void>;
}

/** The file `certkeeper run` keeps the snapshot in, inside the state folder. */
export const NOTIFY_STATE_FILE = 'notify-state.json';

/** The snapshot in one file (`notify-state.json` in the state folder), replaced atomically, mode 0600. */
export function notifyStateFile(file: string, now: () => Date = () => new Date()): NotifyStateStore {
  return {
    async load() {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new CertkeeperError('STATE_IO', `cannot read ${file}: ${(error as Error).message}`, { cause: error });
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new CertkeeperError('STATE_CORRUPT', `${file} is not JSON`, { retryable: false });
      }
      const { snapshot, problem } = readSnapshot(json, now());
      if (!snapshot) throw new CertkeeperError('STATE_CORRUPT', `${file} is not a notification state this version understands${problem}`, { retryable: false });
      return snapshot;
    },
    async save(snapshot) {
      await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      await atomicWriteFile(file, JSON.stringify(snapshot), { mode: 0o600 });
    },
  };
}

/**
 * The snapshot in the state store, as this agent's own data (`agents/<id>/notify`). A snapshot
 * still in `notify-state.json` (written before the store kept it) is read from there until the
 * first save.
 */
export function notifyStateInStore(
  data: { get(name: string): Promise<unknown>; put(name: string, value: unknown): Promise<void> },
  legacyFile: string,
  now: () => Date = () => new Date(),
): NotifyStateStore {
  return {
    async load() {
      const value = await data.get('notify');
      if (value === undefined) return notifyStateFile(legacyFile, now).load();
      const { snapshot, problem } = readSnapshot(value, now());
      if (!snapshot)
        throw new CertkeeperError('STATE_CORRUPT', `the stored notification state (agent data "notify") is not one this version understands${problem}`, {
          retryable: false,
        });
      return snapshot;
    },
    async save(snapshot) {
      await data.put('notify', snapshot);
    },
  };
}

/** The agent's snapshot file in `stateDir`. */
export function notifyStateIn(stateDir: string, now: () => Date = () => new Date()): NotifyStateStore {
  return notifyStateFile(path.join(stateDir, NOTIFY_STATE_FILE), now);
}
