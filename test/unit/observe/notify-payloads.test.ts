import { describe, expect, it } from 'vitest';
import type { AgentEvent } from '../../../src/observe/events.js';
import { execNotifyEnv } from '../../../src/observe/notify/exec/index.js';
import { facts, headline } from '../../../src/observe/notify/format.js';
import { slackPayload } from '../../../src/observe/notify/slack/index.js';
import { teamsPayload } from '../../../src/observe/notify/teams/index.js';
import { readiness } from '../../../src/observe/readiness.js';

const failed: AgentEvent = {
  type: 'failed',
  at: '2026-03-01T00:00:00.000Z',
  cert: 'www',
  domains: ['www.example.com', 'example.com'],
  severity: 'critical',
  message: 'renewal of www failed: the CA saw no TXT record <_acme-challenge> & gave up',
  serial: '0ABC',
  notAfter: '2026-03-04T00:00:00.000Z',
  error: 'urn:ietf:params:acme:error:unauthorized: no TXT record',
  code: 'VALIDATION_FAILED',
  consecutiveFailures: 6,
  daysLeft: 3,
};

describe('notification rendering', () => {
  it('headlines say severity, certificate and what happened', () => {
    expect(headline(failed)).toBe('[CRITICAL] www: renewal failed');
    expect(headline({ ...failed, type: 'deploy_failed', severity: 'warning', sink: 'nginx' })).toBe('[WARNING] www: deploy failed (sink nginx)');
    expect(headline({ ...failed, type: 'recovered', severity: 'info' })).toBe('[RESOLVED] www: recovered');
    expect(facts(failed).map((fact) => fact.title)).toEqual(['Certificate', 'Domains', 'Event', 'Severity', 'Not after', 'Days left', 'Serial', 'Failures in a row', 'Error code', 'At']);
  });

  it('slack: text always, escaped for mrkdwn, blocks within Block Kit limits', () => {
    const payload = slackPayload({ ...failed, error: 'x'.repeat(5000) }, true) as { text: string; blocks: { type: string; fields?: unknown[]; text?: { text: string } }[] };
    expect(payload.text).toContain(':rotating_light: [CRITICAL] www: renewal failed');
    expect(payload.text).toContain('&lt;_acme-challenge&gt; &amp; gave up');
    expect(payload.blocks.map((block) => block.type)).toEqual(['header', 'section', 'section', 'section', 'context']);
    expect(payload.blocks[2]!.fields!.length).toBeLessThanOrEqual(10);
    for (const block of payload.blocks) if (block.text) expect(block.text.text.length).toBeLessThanOrEqual(3000);
    expect(slackPayload(failed, false)).toEqual({ text: payload.text });
    expect((slackPayload({ ...failed, type: 'recovered', severity: 'info' }, false) as { text: string }).text).toMatch(/^:white_check_mark: \[RESOLVED\]/);
  });

  it('teams: an Adaptive Card in a message envelope', () => {
    const payload = teamsPayload(failed) as { type: string; attachments: { contentType: string; content: { type: string; version: string; body: { type: string; color?: string; facts?: unknown[] }[] } }[] };
    expect(payload.type).toBe('message');
    expect(payload.attachments).toHaveLength(1);
    const card = payload.attachments[0]!;
    expect(card.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(card.content).toMatchObject({ type: 'AdaptiveCard', version: '1.4' });
    expect(card.content.body[0]).toMatchObject({ type: 'TextBlock', color: 'Attention' });
    expect(card.content.body.find((block) => block.type === 'FactSet')!.facts).toContainEqual({ title: 'Serial', value: '0ABC' });
    const recovered = teamsPayload({ ...failed, type: 'recovered', severity: 'info' }) as typeof payload;
    expect(recovered.attachments[0]!.content.body[0]!.color).toBe('Good');
  });

  it('exec: the CERTKEEPER_* environment contract, empty strings for absent values', () => {
    const env = execNotifyEnv(failed);
    expect(env).toMatchObject({
      CERTKEEPER_EVENT: 'failed',
      CERTKEEPER_SEVERITY: 'critical',
      CERTKEEPER_CERT_NAME: 'www',
      CERTKEEPER_DOMAINS: 'www.example.com example.com',
      CERTKEEPER_MESSAGE: failed.message,
      CERTKEEPER_SERIAL: '0ABC',
      CERTKEEPER_NOT_AFTER: '2026-03-04T00:00:00.000Z',
      CERTKEEPER_ERROR: failed.error,
      CERTKEEPER_SINK: '',
    });
    expect(JSON.parse(env.CERTKEEPER_EVENT_JSON!)).toEqual(failed);
    const bare = execNotifyEnv({ type: 'recovered', at: failed.at, cert: 'api', domains: [], severity: 'info', message: 'ok' });
    expect([bare.CERTKEEPER_SERIAL, bare.CERTKEEPER_NOT_AFTER, bare.CERTKEEPER_ERROR]).toEqual(['', '', '']);
  });
});

describe('readiness', () => {
  const now = new Date('2026-03-01T12:00:00Z');

  it('is ready with config, a writable state dir and a recent plan', () => {
    expect(readiness({ configLoaded: true, stateDirWritable: true, lastPlanAt: new Date('2026-03-01T11:00:00Z'), now, maxPlanAgeMs: 13 * 3_600_000 })).toEqual({ ready: true, reasons: [] });
  });

  it('lists every unmet condition', () => {
    expect(readiness({ configLoaded: false, stateDirWritable: 'EACCES', lastPlanAt: null, now }).reasons).toEqual(['config not loaded', 'state dir not writable: EACCES', 'no plan has run yet']);
    const stale = readiness({ configLoaded: true, stateDirWritable: true, lastPlanAt: new Date('2026-02-28T00:00:00Z'), now, maxPlanAgeMs: 13 * 3_600_000 });
    expect(stale.ready).toBe(false);
    expect(stale.reasons[0]).toMatch(/^last plan ran at 2026-02-28T00:00:00.000Z/);
  });
});
