// The log as a subscriber of the event stream (observe/stream.ts): what line each event writes.
// In the agent (one of the subscribers in observe/subscribers.ts, beside metrics and the
// notifiers): one line per alert, at the level its severity says; its runs' progress writes none
// (the engine logs its own steps). In `renew` without a terminal: one line per step of the run.

import type { Logger } from '../core/logger.js';
import type { Severity } from './events.js';
import { isAgentEvent, type StreamEvent } from './stream.js';
import type { EventSource, EventSubscriber } from './subscribers.js';

export interface EventLogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: Record<string, unknown>;
  /** The child logger it goes to (`component`), when not the agent's own. */
  component?: string;
}

const LEVEL: Record<Severity, EventLogLine['level']> = { info: 'info', warning: 'warn', critical: 'error' };

/** The line an event writes, or none. A watched endpoint's event names the endpoint, under the watch's component. */
export function eventLogLine(event: StreamEvent, source: EventSource): EventLogLine | undefined {
  if (!isAgentEvent(event)) return undefined;
  const level = LEVEL[event.severity];
  if (source === 'watch')
    return { level, message: event.message, fields: { event: event.type, endpoint: event.cert, severity: event.severity }, component: 'watch' };
  return { level, message: event.message, fields: { event: event.type, cert: event.cert, severity: event.severity, sink: event.sink, code: event.code } };
}

/**
 * Logs the agent's and the watch's events, on every replica. Rehearsals log their own result
 * (engine/rehearse.ts: the directory tried, and every pass, which is no event).
 */
export function logSubscriber(logger: Logger): EventSubscriber {
  const children = new Map<string, Logger>();
  const loggerFor = (component: string | undefined): Logger => {
    if (component === undefined) return logger;
    let child = children.get(component);
    if (!child) children.set(component, (child = logger.child({ component })));
    return child;
  };
  return {
    name: 'log',
    sources: ['agent', 'watch'],
    everyReplica: true,
    onEvent(event, source) {
      const line = eventLogLine(event, source);
      if (line) loggerFor(line.component)[line.level](line.fields, line.message);
    },
  };
}

/**
 * The line `renew` writes for an event of its run when no terminal shows the progress: every step
 * (nothing to do is debug, a backoff a warning), or with `failuresOnly` (a fleet run, summed up at
 * the end) only a failed certificate. Alerts other than `deployed` write none: the steps say it.
 */
export function runLogLine(event: StreamEvent, options: { failuresOnly?: boolean } = {}): EventLogLine | undefined {
  if (options.failuresOnly) {
    if (event.type !== 'cert_done' || event.outcome.result !== 'failure') return undefined;
    const o = event.outcome;
    return {
      level: 'error',
      message: `${o.action} failed`,
      fields: { cert: o.cert, action: o.action, result: o.result, code: o.code, sink: o.failedSink, err: o.error },
    };
  }
  switch (event.type) {
    case 'cert_planned': {
      const fields = { cert: event.cert, action: event.action, reason: event.reason };
      if (event.action !== 'skip') return { level: 'info', message: `${event.action}: ${event.message}`, fields };
      // Nothing to do is not news (debug); backing off after failures is (warn: it still fails).
      return event.reason === 'backoff' ? { level: 'warn', message: event.message, fields } : { level: 'debug', message: `not due: ${event.message}`, fields };
    }
    case 'cert_step':
      return { level: 'info', message: event.step, fields: { cert: event.cert, step: event.step, ...(event.detail ? { detail: event.detail } : {}) } };
    case 'deployed': // a step of the run here, as the progress view shows it
      return { level: 'info', message: 'deployed', fields: { cert: event.cert, step: 'deployed', ...(event.sink ? { detail: event.sink } : {}) } };
    case 'cert_done': {
      const o = event.outcome;
      if (o.result === 'skipped') return undefined;
      const fields = {
        cert: o.cert,
        action: o.action,
        result: o.result,
        serial: o.serial,
        notAfter: o.notAfter,
        durationMs: o.durationMs,
        deployed: o.deployed,
      };
      if (o.result === 'failure')
        return { level: 'error', message: `${o.action} failed`, fields: { ...fields, code: o.code, sink: o.failedSink, err: o.error } };
      return { level: 'info', message: `${o.action} done`, fields };
    }
    default:
      return undefined; // lock_wait: the engine logs it; other alerts: the steps say it
  }
}

/** `renew`'s listener when no terminal shows the progress: each event's line (runLogLine) to `logger`. */
export function runLog(logger: Logger, options: { failuresOnly?: boolean } = {}): (event: StreamEvent) => void {
  return (event) => {
    const line = runLogLine(event, options);
    if (line) logger[line.level](line.fields, line.message);
  };
}
