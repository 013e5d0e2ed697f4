import { describe, expect, it } from 'vitest';
import type { AgentEvent } from '../../../src/observe/events.js';
import { alertDocument, causeOf, compactList, groupAlert, singleAlert, testAlert } from '../../../src/observe/notify/alert.js';
import { execNotifyEnv } from '../../../src/observe/notify/exec/index.js';
import { alertHeadline, facts, headline } from '../../../src/observe/notify/format.js';
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
    expect(facts(failed).map((fact) => fact.title)).toEqual([
      'Certificate',
      'Domains',
      'Event',
      'Severity',
      'Not after',
      'Days left',
      'Serial',
      'Failures in a row',
      'Error code',
      'At',
    ]);
  });

  it('slack: text always, escaped for mrkdwn, blocks within Block Kit limits', () => {
    const payload = slackPayload(singleAlert({ ...failed, error: 'x'.repeat(5000) }), true) as {
      text: string;
      blocks: { type: string; fields?: unknown[]; text?: { text: string } }[];
    };
    expect(payload.text).toContain(':rotating_light: [CRITICAL] www: renewal failed');
    expect(payload.text).toContain('&lt;_acme-challenge&gt; &amp; gave up');
    expect(payload.blocks.map((block) => block.type)).toEqual(['header', 'section', 'section', 'section', 'context']);
    expect(payload.blocks[2]!.fields!.length).toBeLessThanOrEqual(10);
    for (const block of payload.blocks) if (block.text) expect(block.text.text.length).toBeLessThanOrEqual(3000);
    expect(slackPayload(singleAlert(failed), false)).toEqual({ text: payload.text });
    expect((slackPayload(singleAlert({ ...failed, type: 'recovered', severity: 'info' }), false) as { text: string }).text).toMatch(
      /^:white_check_mark: \[RESOLVED\]/,
    );
  });

  it('teams: an Adaptive Card in a message envelope', () => {
    const payload = teamsPayload(singleAlert(failed)) as {
      type: string;
      attachments: { contentType: string; content: { type: string; version: string; body: { type: string; color?: string; facts?: unknown[] }[] } }[];
    };
    expect(payload.type).toBe('message');
    expect(payload.attachments).toHaveLength(1);
    const card = payload.attachments[0]!;
    expect(card.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(card.content).toMatchObject({ type: 'AdaptiveCard', version: '1.4' });
    expect(card.content.body[0]).toMatchObject({ type: 'TextBlock', color: 'Attention' });
    expect(card.content.body.find((block) => block.type === 'FactSet')!.facts).toContainEqual({ title: 'Serial', value: '0ABC' });
    const recovered = teamsPayload(singleAlert({ ...failed, type: 'recovered', severity: 'info' })) as typeof payload;
    expect(recovered.attachments[0]!.content.body[0]!.color).toBe('Good');
  });

  it('exec: the CERTKEEPER_* environment contract, empty strings for absent values', () => {
    const env = execNotifyEnv(singleAlert(failed));
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
    expect(JSON.parse(env.CERTKEEPER_EVENT_JSON!)).toEqual({ ...failed, certs: ['www'] });
    expect([env.CERTKEEPER_CERTS, env.CERTKEEPER_CERT_COUNT, env.CERTKEEPER_GROUP, env.CERTKEEPER_TEST]).toEqual(['www', '1', '', '']);
    const bare = execNotifyEnv(singleAlert({ type: 'recovered', at: failed.at, cert: 'api', domains: [], severity: 'info', message: 'ok' }));
    expect([bare.CERTKEEPER_SERIAL, bare.CERTKEEPER_NOT_AFTER, bare.CERTKEEPER_ERROR]).toEqual(['', '', '']);
  });
});

describe('group alerts', () => {
  const outage = Array.from({ length: 130 }, (_, i): AgentEvent => ({
    ...failed,
    cert: `site-${String(i).padStart(3, '0')}`,
    domains: [`site-${i}.example.com`],
    severity: i === 7 ? 'critical' : 'warning',
    code: 'DNS_UPDATE_FAILED',
    provider: 'corp',
    issuer: 'default',
    error: 'DNS API said 401',
  }));
  const group = groupAlert('failed', outage, causeOf(outage[0]!));

  it('causes: DNS provider and code, CA and code, sink; else the code', () => {
    expect(causeOf(outage[0]!)).toMatchObject({ kind: 'dns', key: 'dns:corp:DNS_UPDATE_FAILED' });
    expect(causeOf({ ...failed, code: 'ACME_UNREACHABLE', issuer: 'le,zerossl', provider: 'corp' })).toMatchObject({
      kind: 'ca',
      key: 'ca:le,zerossl:ACME_UNREACHABLE',
    });
    expect(causeOf({ ...failed, type: 'deploy_failed', sink: 'nginx', code: 'SINK_FAILED' })).toMatchObject({ kind: 'sink', key: 'sink:nginx' });
    expect(causeOf({ ...failed, code: 'STATE_IO' })).toMatchObject({ kind: 'code', key: 'code:STATE_IO' });
  });

  it("webhook: one document naming every certificate in `certs`, the cause, and each certificate's event", () => {
    const doc = alertDocument(group) as {
      type: string;
      group: boolean;
      certs: string[];
      count: number;
      severity: string;
      cause: { provider: string };
      code: string;
      events: AgentEvent[];
    };
    expect(doc).toMatchObject({
      type: 'failed',
      group: true,
      count: 130,
      severity: 'critical',
      code: 'DNS_UPDATE_FAILED',
      cause: { kind: 'dns', provider: 'corp' },
    });
    expect(doc.certs).toEqual(outage.map((e) => e.cert));
    expect(doc.events[7]).toEqual(outage[7]);
    expect(alertDocument(singleAlert(failed))).toEqual({ ...failed, certs: ['www'] });
  });

  it('slack and teams: a compact list within their limits', () => {
    expect(alertHeadline(group)).toBe('[CRITICAL] 130 certificates: renewal failed (DNS provider "corp" (DNS_UPDATE_FAILED))');
    const slack = slackPayload(group, true) as { text: string; blocks: { type: string; fields?: { text: string }[] }[] };
    const listed = slack.blocks[2]!.fields!.find((field) => field.text.startsWith('*Certificates*'))!.text;
    expect(listed).toContain('130: site-000, site-001');
    expect(listed).toContain('site-129');
    // A fleet-wide outage: the list stops within Block Kit's field limit and says how many more.
    const fleet = groupAlert(
      'failed',
      Array.from({ length: 1000 }, (_, i) => ({ ...outage[0]!, cert: `fleet-${i}` })),
      causeOf(outage[0]!),
    );
    const fleetSlack = slackPayload(fleet, true) as typeof slack;
    const fleetList = fleetSlack.blocks[2]!.fields!.find((field) => field.text.startsWith('*Certificates*'))!.text;
    expect(fleetList).toMatch(/^\*Certificates\*\n1000: fleet-0, fleet-1, .* … and \d+ more$/s);
    for (const field of [...slack.blocks[2]!.fields!, ...fleetSlack.blocks[2]!.fields!]) expect(field.text.length).toBeLessThanOrEqual(2000);
    expect(fleetSlack.text.length).toBeLessThanOrEqual(3000);
    const teams = JSON.stringify(teamsPayload(group));
    expect(teams).toContain('130 certificates');
    expect(teams).toContain('site-129'); // Teams cards take the whole list within 2,000 characters
    expect(compactList(['a', 'b', 'c'], 100)).toBe('a, b, c');
    expect(compactList(['alpha', 'beta', 'gamma'], 18)).toBe('alpha, beta, gamma');
    expect(compactList(['alpha', 'beta', 'gamma', 'delta'], 20)).toBe('alpha … and 3 more');
  });

  it('exec: every name, a count, and JSON that fits one environment variable', () => {
    const env = execNotifyEnv(group);
    expect(env.CERTKEEPER_CERT_COUNT).toBe('130');
    expect(env.CERTKEEPER_GROUP).toBe('1');
    expect(env.CERTKEEPER_CERTS!.split(' ')).toHaveLength(130);
    expect(env.CERTKEEPER_CAUSE).toBe('DNS provider "corp" (DNS_UPDATE_FAILED)');
    const huge = groupAlert(
      'failed',
      Array.from({ length: 5000 }, (_, i) => ({ ...outage[0]!, cert: `c${i}`, message: 'x'.repeat(200) })),
      causeOf(outage[0]!),
    );
    const hugeEnv = execNotifyEnv(huge);
    expect(hugeEnv.CERTKEEPER_EVENT_JSON!.length).toBeLessThanOrEqual(100 * 1024);
    expect(JSON.parse(hugeEnv.CERTKEEPER_EVENT_JSON!)).toMatchObject({ group: true, count: 5000 });
  });

  it('a test alert says so, in every format', () => {
    const alert = testAlert('ops-slack', new Date('2026-03-01T00:00:00Z'));
    expect(alertDocument(alert)).toMatchObject({ type: 'test', test: true, target: 'ops-slack', certs: [] });
    expect((slackPayload(alert, false) as { text: string }).text).toContain('[TEST] certkeeper: test alert');
    expect(JSON.stringify(teamsPayload(alert))).toContain('[TEST]');
    expect(execNotifyEnv(alert)).toMatchObject({ CERTKEEPER_EVENT: 'test', CERTKEEPER_TEST: '1', CERTKEEPER_CERT_COUNT: '0' });
  });
});

describe('readiness', () => {
  const now = new Date('2026-03-01T12:00:00Z');

  it('is ready with config, a writable state dir and a recent plan', () => {
    expect(readiness({ configLoaded: true, stateDirWritable: true, lastPlanAt: new Date('2026-03-01T11:00:00Z'), now, maxPlanAgeMs: 13 * 3_600_000 })).toEqual({
      ready: true,
      reasons: [],
    });
  });

  it('lists every unmet condition', () => {
    expect(readiness({ configLoaded: false, stateDirWritable: 'EACCES', lastPlanAt: null, now }).reasons).toEqual([
      'config not loaded',
      'state dir not writable: EACCES',
      'no plan has run yet',
    ]);
    const stale = readiness({ configLoaded: true, stateDirWritable: true, lastPlanAt: new Date('2026-02-28T00:00:00Z'), now, maxPlanAgeMs: 13 * 3_600_000 });
    expect(stale.ready).toBe(false);
    expect(stale.reasons[0]).toMatch(/^last plan ran at 2026-02-28T00:00:00.000Z/);
  });
});
