// The event fan-out: each source reaches exactly the subscribers that hear it, in list order.
import { expect, it } from 'vitest';
import type { AgentEvent } from '../../../src/observe/events.js';
import { fanOut, type EventSource, type EventSubscriber } from '../../../src/observe/subscribers.js';

const event: AgentEvent = {
  type: 'obtained',
  at: '2026-11-22T00:00:00.000Z',
  cert: 'www',
  domains: ['www.example.test'],
  severity: 'info',
  message: 'www: renewed',
};

it.each<[EventSource, string[]]>([
  ['agent', ['served', 'metrics', 'notify']],
  ['rehearsal', ['metrics', 'notify']],
  ['watch', ['metrics', 'notify']],
])('%s events reach %j', (source, heard) => {
  const calls: string[] = [];
  const subscribers: EventSubscriber[] = [
    { name: 'served', sources: ['agent'], onEvent: (e) => calls.push(`served:${e.cert}`) },
    { name: 'metrics', onEvent: (e) => calls.push(`metrics:${e.cert}`) },
    { name: 'notify', onEvent: (e) => calls.push(`notify:${e.cert}`) },
  ];
  fanOut(subscribers, source)(event);
  expect(calls).toEqual(heard.map((name) => `${name}:www`));
});
