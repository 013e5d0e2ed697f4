// The one fan-out of the agent's event stream: every subscriber (metrics, notifiers, the served
// watch's verification metrics) is named once, with the sources it hears, and each source (the
// agent, its rehearsals, the endpoint watch) publishes through the same list.

import type { AgentEvent, AgentEventListener } from './events.js';

/** Where an event comes from: the agent's plans and batches, `rehearse:` dry runs, `watch:` endpoints. */
export type EventSource = 'agent' | 'rehearsal' | 'watch';

export interface EventSubscriber {
  name: string;
  /** The sources it hears; every source when absent. */
  sources?: readonly EventSource[];
  onEvent(event: AgentEvent): void;
}

/** The listener a source publishes through: every subscriber that hears it, in list order. */
export function fanOut(subscribers: readonly EventSubscriber[], source: EventSource): AgentEventListener {
  const listening = subscribers.filter((subscriber) => !subscriber.sources || subscriber.sources.includes(source));
  return (event) => {
    for (const subscriber of listening) subscriber.onEvent(event);
  };
}
