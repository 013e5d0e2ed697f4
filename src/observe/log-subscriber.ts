// The log as a subscriber of the event stream (observe/subscribers.ts), beside metrics and the
// notifiers: one line per alert event, at the level its severity says. A run's progress events
// write no line here: the engine logs its own steps as it takes them.

import type { Logger } from '../core/logger.js';
import { isAgentEvent, type Severity, type StreamEvent } from './events.js';
import type { EventSource, EventSubscriber } from './subscribers.js';

export interface EventLogLine {
  level: 'info' | 'warn' | 'error';
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
