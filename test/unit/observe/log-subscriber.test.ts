// The log as a subscriber of the event stream: one row per case, event → level, message, fields.
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../../src/core/logger.js';
import type { AgentEvent } from '../../../src/observe/events.js';
import type { CertOutcome, StreamEvent } from '../../../src/observe/stream.js';
import { eventLogLine, logSubscriber, runLogLine, type EventLogLine } from '../../../src/observe/log-subscriber.js';
import { fanOut, type EventSource } from '../../../src/observe/subscribers.js';

const AT = '2026-11-22T00:00:00.000Z';
const alert = (fields: Partial<AgentEvent> & Pick<AgentEvent, 'type' | 'severity' | 'message'>): AgentEvent => ({
  at: AT,
  cert: 'www',
  domains: ['www.example.test'],
  ...fields,
});

describe('eventLogLine: the line each event writes', () => {
  const cases: { name: string; event: StreamEvent; source?: EventSource; line: EventLogLine | undefined }[] = [
    {
      name: 'obtaining: info',
      event: alert({ type: 'obtaining', severity: 'info', message: 'renew www: due', action: 'renew' }),
      line: { level: 'info', message: 'renew www: due', fields: { event: 'obtaining', cert: 'www', severity: 'info', sink: undefined, code: undefined } },
    },
    {
      name: 'deployed: info, with its sink',
      event: alert({ type: 'deployed', severity: 'info', message: 'www deployed to nginx', sink: 'nginx' }),
      line: { level: 'info', message: 'www deployed to nginx', fields: { event: 'deployed', cert: 'www', severity: 'info', sink: 'nginx', code: undefined } },
    },
    {
      name: 'failed, a warning: warn, with its code',
      event: alert({ type: 'failed', severity: 'warning', message: 'www: renew failed (1x): no TXT', error: 'no TXT', code: 'DNS_UPDATE_FAILED' }),
      line: {
        level: 'warn',
        message: 'www: renew failed (1x): no TXT',
        fields: { event: 'failed', cert: 'www', severity: 'warning', sink: undefined, code: 'DNS_UPDATE_FAILED' },
      },
    },
    {
      name: 'deploy_failed, critical: error, with sink and code',
      event: alert({ type: 'deploy_failed', severity: 'critical', message: 'www: deploy to acm failed (3x): denied', sink: 'acm', code: 'SINK_FAILED' }),
      line: {
        level: 'error',
        message: 'www: deploy to acm failed (3x): denied',
        fields: { event: 'deploy_failed', cert: 'www', severity: 'critical', sink: 'acm', code: 'SINK_FAILED' },
      },
    },
    {
      name: 'expired, critical: error',
      event: alert({ type: 'expired', severity: 'critical', message: 'www expired' }),
      line: { level: 'error', message: 'www expired', fields: { event: 'expired', cert: 'www', severity: 'critical', sink: undefined, code: undefined } },
    },
    {
      name: 'a watched endpoint failing: names the endpoint, under the watch component',
      source: 'watch',
      event: alert({ type: 'verify_failed', cert: 'shop.example.test:443', severity: 'critical', message: 'shop: name mismatch', code: 'NAME_MISMATCH' }),
      line: {
        level: 'error',
        message: 'shop: name mismatch',
        fields: { event: 'verify_failed', endpoint: 'shop.example.test:443', severity: 'critical' },
        component: 'watch',
      },
    },
    {
      name: 'a watched endpoint expiring, a warning: warn',
      source: 'watch',
      event: alert({ type: 'expiring', cert: 'shop.example.test:443', severity: 'warning', message: 'expires in 5 days' }),
      line: {
        level: 'warn',
        message: 'expires in 5 days',
        fields: { event: 'expiring', endpoint: 'shop.example.test:443', severity: 'warning' },
        component: 'watch',
      },
    },
    {
      name: "a run's plan: no line (the engine logs its steps)",
      event: { type: 'cert_planned', cert: 'www', action: 'renew', reason: 'due', message: 'due' },
      line: undefined,
    },
    { name: 'a step: no line', event: { type: 'cert_step', cert: 'www', step: 'stored', detail: 'aa01' }, line: undefined },
    { name: 'waiting for a lock: no line', event: { type: 'lock_wait', holder: 'other-host' }, line: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(eventLogLine(c.event, c.source ?? 'agent')).toEqual(c.line);
    });
  }
});

describe('logSubscriber', () => {
  function recordingLogger(lines: string[], component = ''): Logger {
    const write = (level: string) => (obj: Record<string, unknown> | string, msg?: string) =>
      lines.push(`${component}${level}:${typeof obj === 'string' ? obj : `${msg} ${JSON.stringify(obj)}`}`);
    return {
      trace: write('trace'),
      debug: write('debug'),
      info: write('info'),
      warn: write('warn'),
      error: write('error'),
      child: (bindings) => recordingLogger(lines, `${String(bindings.component)}/`),
    };
  }

  it("writes each alert once, to the agent's logger or the watch's, on every replica; rehearsals log their own", () => {
    const lines: string[] = [];
    const subscribers = [logSubscriber(recordingLogger(lines))];
    const following = () => false;
    fanOut(subscribers, 'agent')(alert({ type: 'obtained', severity: 'info', message: 'www: renewed' }));
    fanOut(
      subscribers,
      'agent',
    )({
      type: 'cert_done',
      outcome: { cert: 'www', action: 'renew', result: 'success', reason: 'due', message: '', serial: 'aa', notAfter: null, durationMs: 1, deployed: [] },
    });
    fanOut(subscribers, 'watch', following)(alert({ type: 'recovered', cert: 'shop:443', severity: 'info', message: 'shop:443: healthy again' }));
    fanOut(subscribers, 'rehearsal')(alert({ type: 'rehearsal_failed', severity: 'warning', message: 'www: rehearsal failed' }));
    expect(lines).toEqual([
      'info:www: renewed {"event":"obtained","cert":"www","severity":"info"}',
      'watch/info:shop:443: healthy again {"event":"recovered","endpoint":"shop:443","severity":"info"}',
    ]);
  });
});

describe("runLogLine: renew's line for each event of its run, without a terminal", () => {
  const outcome = (fields: Partial<CertOutcome> = {}): CertOutcome => ({
    cert: 'www',
    action: 'renew',
    result: 'success',
    reason: 'due',
    message: 'due',
    serial: 'bb02',
    notAfter: AT,
    durationMs: 12,
    deployed: ['files'],
    ...fields,
  });
  const done = { cert: 'www', action: 'renew', serial: 'bb02', notAfter: AT, durationMs: 12, deployed: ['files'] };
  const cases: { name: string; event: StreamEvent; failuresOnly?: boolean; line: EventLogLine | undefined }[] = [
    {
      name: 'a renewal planned: info',
      event: { type: 'cert_planned', cert: 'www', action: 'renew', reason: 'due', message: 'due since today' },
      line: { level: 'info', message: 'renew: due since today', fields: { cert: 'www', action: 'renew', reason: 'due' } },
    },
    {
      name: 'nothing to do: debug',
      event: { type: 'cert_planned', cert: 'www', action: 'skip', reason: 'not-due', message: 'renews on 2027-01-01' },
      line: { level: 'debug', message: 'not due: renews on 2027-01-01', fields: { cert: 'www', action: 'skip', reason: 'not-due' } },
    },
    {
      name: 'backing off after failures: warn',
      event: { type: 'cert_planned', cert: 'www', action: 'skip', reason: 'backoff', message: 'backing off until 12:00' },
      line: { level: 'warn', message: 'backing off until 12:00', fields: { cert: 'www', action: 'skip', reason: 'backoff' } },
    },
    {
      name: 'a step with its detail',
      event: { type: 'cert_step', cert: 'www', step: 'stored', detail: 'bb02' },
      line: { level: 'info', message: 'stored', fields: { cert: 'www', step: 'stored', detail: 'bb02' } },
    },
    {
      name: 'a step without detail',
      event: { type: 'cert_step', cert: 'www', step: 'ordering' },
      line: { level: 'info', message: 'ordering', fields: { cert: 'www', step: 'ordering' } },
    },
    {
      name: 'deployed: the deployed step, naming the sink',
      event: alert({ type: 'deployed', severity: 'info', message: 'www deployed to files', sink: 'files' }),
      line: { level: 'info', message: 'deployed', fields: { cert: 'www', step: 'deployed', detail: 'files' } },
    },
    { name: 'obtaining: no line (the plan said it)', event: alert({ type: 'obtaining', severity: 'info', message: 'renew www: due' }), line: undefined },
    { name: 'a verdict: no line (the outcome carries it)', event: alert({ type: 'verified', severity: 'info', message: 'www: served' }), line: undefined },
    { name: 'waiting for a lock: no line (the engine logs it)', event: { type: 'lock_wait', holder: 'other-host' }, line: undefined },
    {
      name: 'renewed: info',
      event: { type: 'cert_done', outcome: outcome() },
      line: { level: 'info', message: 'renew done', fields: { ...done, result: 'success' } },
    },
    {
      name: 'failed: error, with code, sink and error',
      event: { type: 'cert_done', outcome: outcome({ result: 'failure', code: 'SINK_FAILED', failedSink: 'acm', error: 'denied' }) },
      line: { level: 'error', message: 'renew failed', fields: { ...done, result: 'failure', code: 'SINK_FAILED', sink: 'acm', err: 'denied' } },
    },
    { name: 'skipped: no line', event: { type: 'cert_done', outcome: outcome({ result: 'skipped', action: 'skip' }) }, line: undefined },
    {
      name: 'a fleet run: a failure, without the run fields',
      failuresOnly: true,
      event: { type: 'cert_done', outcome: outcome({ result: 'failure', code: 'DNS_UPDATE_FAILED', error: 'no TXT' }) },
      line: {
        level: 'error',
        message: 'renew failed',
        fields: { cert: 'www', action: 'renew', result: 'failure', code: 'DNS_UPDATE_FAILED', sink: undefined, err: 'no TXT' },
      },
    },
    { name: 'a fleet run: a success, no line', failuresOnly: true, event: { type: 'cert_done', outcome: outcome() }, line: undefined },
    {
      name: 'a fleet run: a step, no line',
      failuresOnly: true,
      event: { type: 'cert_planned', cert: 'www', action: 'renew', reason: 'due', message: 'due' },
      line: undefined,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(runLogLine(c.event, c.failuresOnly ? { failuresOnly: true } : {})).toEqual(c.line);
    });
  }
});
