// Rehearsal alerts through the dispatcher: delivered by default, repeats suppressed, escalation
// to critical passes, and the recovery ends only the rehearsal alert.

import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import type { AgentEvent, AgentEventType, Severity } from '../../../src/observe/events.js';
import { singleAlert } from '../../../src/observe/notify/alert.js';
import type { Notifier } from '../../../src/observe/notify/contract.js';
import { Dispatcher } from '../../../src/observe/notify/dispatcher.js';
import { DEFAULT_NOTIFY_EVENTS, DEFAULT_REPEAT_AFTER_MS } from '../../../src/observe/notify/delivery-schema.js';
import { headline } from '../../../src/observe/notify/format.js';
import { AgentMetrics } from '../../../src/observe/metrics.js';
import { ManualClock } from '../../helpers/clock.js';

const clock = new ManualClock('2026-03-01T00:00:00Z');
const event = (type: AgentEventType, severity: Severity): AgentEvent => ({
  type,
  severity,
  at: clock.now().toISOString(),
  cert: 'www',
  domains: ['www.example.com'],
  message: type,
});

function setup() {
  const delivered: AgentEvent[] = [];
  const notifier: Notifier = { name: 'ops', type: 'fake', send: async (alert) => void delivered.push(...alert.events) };
  const dispatcher = new Dispatcher({
    targets: [
      {
        name: 'ops',
        notifier,
        policy: { events: DEFAULT_NOTIFY_EVENTS, minSeverity: 'warning', repeatAfterMs: DEFAULT_REPEAT_AFTER_MS, retries: 0, timeoutMs: 5_000 },
      },
    ],
    clock,
    logger: silentLogger,
  });
  return { dispatcher, delivered };
}

describe('rehearsal events in notify', () => {
  it('delivers a failed rehearsal by default, suppresses its repeat, passes its escalation, and sends the recovery', async () => {
    const { dispatcher, delivered } = setup();
    expect(dispatcher.dispatch(event('rehearsal_failed', 'warning'))[0]).toMatchObject({ action: 'queued' });
    await dispatcher.flush();
    expect(dispatcher.dispatch(event('rehearsal_failed', 'warning'))[0]).toMatchObject({ action: 'suppressed', reason: 'repeat' });
    expect(dispatcher.dispatch(event('rehearsal_failed', 'critical'))[0]).toMatchObject({ action: 'queued', reason: 'escalation' });
    await dispatcher.flush();
    expect(dispatcher.dispatch(event('rehearsal_recovered', 'info'))[0]).toMatchObject({ action: 'queued', reason: 'recovery' });
    await dispatcher.flush();
    expect(delivered.map((e) => `${e.type}/${e.severity}`)).toEqual(['rehearsal_failed/warning', 'rehearsal_failed/critical', 'rehearsal_recovered/info']);
    expect(headline(delivered[2]!)).toBe('[RESOLVED] www: rehearsal passes again');
    expect(singleAlert(delivered[2]!).certs).toEqual(['www']);
  });

  it('sends no recovery without a prior rehearsal alert, and a rehearsal recovery leaves a real failure open', async () => {
    const { dispatcher, delivered } = setup();
    expect(dispatcher.dispatch(event('rehearsal_recovered', 'info'))[0]).toMatchObject({ action: 'filtered', reason: 'no-prior-alert' });
    dispatcher.dispatch(event('failed', 'warning'));
    dispatcher.dispatch(event('rehearsal_failed', 'warning'));
    await dispatcher.flush();
    dispatcher.dispatch(event('rehearsal_recovered', 'info'));
    await dispatcher.flush();
    // The real failure is still remembered: its repeat is suppressed, and its recovery is sent.
    expect(dispatcher.dispatch(event('failed', 'warning'))[0]).toMatchObject({ action: 'suppressed' });
    expect(dispatcher.dispatch(event('recovered', 'info'))[0]).toMatchObject({ action: 'queued', reason: 'recovery' });
    await dispatcher.flush();
    expect(delivered.map((e) => e.type)).toEqual(['failed', 'rehearsal_failed', 'rehearsal_recovered', 'recovered']);
  });
});

describe('certkeeper_rehearsals_total', () => {
  it('counts rehearsals per certificate and result', async () => {
    const metrics = new AgentMetrics();
    metrics.rehearsal('www', 'success');
    metrics.rehearsal('www', 'failure');
    metrics.rehearsal('www', 'failure');
    const text = await metrics.registry.metrics();
    expect(text).toContain('certkeeper_rehearsals_total{name="www",result="success"} 1');
    expect(text).toContain('certkeeper_rehearsals_total{name="www",result="failure"} 2');
  });
});
