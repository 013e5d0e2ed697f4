// The event fan-out: each source reaches exactly the subscribers that hear it, in list order.
import { expect, it } from 'vitest';
import type { AgentEvent } from '../../../src/observe/events.js';
import { alertsOnly, fanOut, type EventSource, type EventSubscriber } from '../../../src/observe/subscribers.js';

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
    { name: 'served', sources: ['agent'], onEvent: alertsOnly((e) => calls.push(`served:${e.cert}`)) },
    { name: 'metrics', onEvent: alertsOnly((e) => calls.push(`metrics:${e.cert}`)) },
    { name: 'notify', onEvent: alertsOnly((e) => calls.push(`notify:${e.cert}`)) },
  ];
  fanOut(subscribers, source)(event);
  expect(calls).toEqual(heard.map((name) => `${name}:www`));
});

it("a run's progress reaches every subscriber, and passes by those that hear only alerts", () => {
  const calls: string[] = [];
  const subscribers: EventSubscriber[] = [
    { name: 'progress', onEvent: (e, source) => calls.push(`progress:${e.type}:${source}`) },
    { name: 'metrics', onEvent: alertsOnly((e) => calls.push(`metrics:${e.type}`)) },
  ];
  const publish = fanOut(subscribers, 'agent');
  publish({ type: 'cert_planned', cert: 'www', action: 'renew', reason: 'due', message: 'due' });
  publish(event);
  expect(calls).toEqual(['progress:cert_planned:agent', 'progress:obtained:agent', 'metrics:obtained']);
});

it.each<[boolean | undefined, string[]]>([
  [undefined, ['log', 'notify']],
  [true, ['log', 'notify']],
  [false, ['log']],
])('leading %s: a follower reaches only the subscribers that hear every replica', (leading, heard) => {
  const calls: string[] = [];
  const subscribers: EventSubscriber[] = [
    { name: 'log', everyReplica: true, onEvent: () => calls.push('log') },
    { name: 'notify', onEvent: () => calls.push('notify') },
  ];
  fanOut(subscribers, 'watch', leading === undefined ? undefined : () => leading)(event);
  expect(calls).toEqual(heard);
});
