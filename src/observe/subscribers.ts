// The one fan-out of the event stream (observe/stream.ts): every subscriber (the log, metrics,
// notifiers, the served watch's verification metrics) is named once, with the sources it hears,
// and each source (the agent with its engine, its rehearsals, the endpoint watch) publishes
// through the same list.

import type { AgentEvent } from './events.js';
import { isAgentEvent, type StreamEvent, type StreamListener } from './stream.js';

/** Where an event comes from: the agent's plans and batches, `rehearse:` dry runs, `watch:` endpoints. */
export type EventSource = 'agent' | 'rehearsal' | 'watch';

export interface EventSubscriber {
  name: string;
  /** The sources it hears; every source when absent. */
  sources?: readonly EventSource[];
  /**
   * Hears events on every replica (the log). Others hear them only while this replica leads
   * (src/ha/): a follower's watch probes for its own metrics, but only the leader alerts.
   */
  everyReplica?: boolean;
  onEvent(event: StreamEvent, source: EventSource): void;
}

/** The listener a source publishes through: every subscriber that hears it, in list order. */
export function fanOut(subscribers: readonly EventSubscriber[], source: EventSource, isLeader?: () => boolean): StreamListener {
  const listening = subscribers.filter((subscriber) => !subscriber.sources || subscriber.sources.includes(source));
  return (event) => {
    const leading = isLeader?.() !== false;
    for (const subscriber of listening) if (leading || subscriber.everyReplica) subscriber.onEvent(event, source);
  };
}

/** A subscriber's listener that hears only the alert vocabulary (metrics, notifiers): a run's progress passes it by. */
export function alertsOnly(listener: (event: AgentEvent) => void): (event: StreamEvent) => void {
  return (event) => {
    if (isAgentEvent(event)) listener(event);
  };
}
