// The alerts the agent adds to the event stream, one row per case: a batch's outcome with the
// status before and after, and a plan's expiry finding. (The engine's own, obtaining and deployed,
// are checked where it emits them: test/unit/engine/renew.test.ts.)
import { describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/load.js';
import { expiryEvents, outcomeEvents } from '../../../src/engine/agent-events.js';
import type { StatusRow } from '../../../src/engine/status.js';
import type { AgentEvent } from '../../../src/observe/events.js';
import type { CertOutcome } from '../../../src/observe/stream.js';

const DAY = 86_400_000;
const NOW = new Date('2026-11-22T00:00:00Z');
const AT = NOW.toISOString();
const iso = (days: number): string => new Date(NOW.getTime() + days * DAY).toISOString();

const config = {
  certificates: [
    { name: 'www', domains: ['www.example.test'], dns: 'corp', issuers: ['le', 'zerossl'] },
    { name: 'api', domains: ['api.example.test'], dns: 'corp' },
  ],
  issuers: [{ name: 'le' }],
  daemon: {},
} as unknown as Config;

function row(overrides: Partial<StatusRow> = {}): StatusRow {
  return {
    name: 'www',
    domains: ['www.example.test'],
    serial: 'aa01',
    notBefore: iso(-80),
    notAfter: iso(5),
    daysLeft: 5,
    renewAt: iso(-20),
    renewReason: 'due',
    renewMessage: '',
    state: 'valid',
    pendingSinks: [],
    lastResult: null,
    consecutiveFailures: 0,
    nextAttemptAt: null,
    configChanged: false,
    ...overrides,
  } as StatusRow;
}

function outcome(overrides: Partial<CertOutcome> = {}): CertOutcome {
  return {
    cert: 'www',
    action: 'renew',
    result: 'success',
    reason: 'due',
    message: '',
    serial: 'bb02',
    notAfter: iso(90),
    durationMs: 1,
    deployed: [],
    ...overrides,
  };
}

/** The fields a row's expectation names; the rest of each event is checked by the shared base below. */
type Expected = Pick<AgentEvent, 'type' | 'severity' | 'message'> & Partial<AgentEvent>;

describe('outcomeEvents: a batch outcome, with the status before and after', () => {
  const cases: { name: string; outcome: CertOutcome; before?: StatusRow; after?: StatusRow; events: Expected[] }[] = [
    { name: 'skipped: nothing happened', outcome: outcome({ result: 'skipped', action: 'skip' }), events: [] },
    { name: 'cancelled at shutdown: no alert', outcome: outcome({ result: 'failure', code: 'CANCELLED', error: 'stopping' }), events: [] },
    {
      name: 'renewed',
      outcome: outcome(),
      before: row(),
      after: row({ serial: 'bb02', daysLeft: 90 }),
      events: [{ type: 'obtained', severity: 'info', message: `www: renewed bb02, valid until ${iso(90)}`, daysLeft: 90 }],
    },
    {
      name: 'issued, the first time',
      outcome: outcome({ action: 'issue' }),
      after: row({ daysLeft: 90 }),
      events: [{ type: 'obtained', severity: 'info', message: `www: issued bb02, valid until ${iso(90)}`, action: 'issue' }],
    },
    {
      name: 'renewed after failures: obtained, then recovered',
      outcome: outcome(),
      before: row({ consecutiveFailures: 3 }),
      after: row({ daysLeft: 90 }),
      events: [
        { type: 'obtained', severity: 'info', message: `www: renewed bb02, valid until ${iso(90)}` },
        { type: 'recovered', severity: 'info', message: 'www recovered after 3 failure(s)', consecutiveFailures: 0 },
      ],
    },
    {
      name: 'a redeploy that succeeds after failures: recovered only',
      outcome: outcome({ action: 'deploy' }),
      before: row({ consecutiveFailures: 1 }),
      after: row(),
      events: [{ type: 'recovered', severity: 'info', message: 'www recovered after 1 failure(s)', action: 'deploy' }],
    },
    {
      name: 'a failed renewal inside the alert window: critical, with its cause',
      outcome: outcome({ result: 'failure', serial: null, notAfter: null, error: 'no TXT record', code: 'DNS_TIMEOUT' }),
      after: row({ consecutiveFailures: 2 }),
      events: [
        {
          type: 'failed',
          severity: 'critical',
          message: 'www: renew failed (2x): no TXT record',
          provider: 'corp',
          issuer: 'le,zerossl',
          code: 'DNS_TIMEOUT',
          error: 'no TXT record',
          consecutiveFailures: 2,
        },
      ],
    },
    {
      name: 'a failed renewal far from expiry: a warning',
      outcome: outcome({ result: 'failure', serial: null, notAfter: null, error: 'rate limited' }),
      after: row({ notAfter: iso(60), daysLeft: 60, consecutiveFailures: 1 }),
      events: [{ type: 'failed', severity: 'warning', message: 'www: renew failed (1x): rate limited', consecutiveFailures: 1 }],
    },
    {
      name: 'a failure with no status after: a warning, the first',
      outcome: outcome({ cert: 'api', result: 'failure', serial: null, notAfter: null, error: 'boom' }),
      events: [
        {
          type: 'failed',
          severity: 'warning',
          message: 'api: renew failed (1x): boom',
          provider: 'corp',
          issuer: 'le',
          error: 'boom',
          consecutiveFailures: 1,
          domains: [],
        },
      ],
    },
    {
      name: 'a failure past notAfter: expired, not failed',
      outcome: outcome({ result: 'failure', serial: null, notAfter: null, error: 'CA down' }),
      after: row({ notAfter: iso(-1), daysLeft: 0, consecutiveFailures: 4 }),
      events: [
        {
          type: 'expired',
          severity: 'critical',
          message: `www expired at ${iso(-1)} and its renew failed (4x): CA down`,
          provider: 'corp',
          consecutiveFailures: 4,
        },
      ],
    },
    {
      name: 'a sink that failed: deploy_failed, naming the sink',
      outcome: outcome({ action: 'deploy', result: 'failure', failedSink: 'nginx', error: 'reload failed', code: 'SINK_FAILED' }),
      after: row({ consecutiveFailures: 1 }),
      events: [
        {
          type: 'deploy_failed',
          severity: 'critical',
          message: 'www: deploy to nginx failed (1x): reload failed',
          sink: 'nginx',
          code: 'SINK_FAILED',
          error: 'reload failed',
        },
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const events = outcomeEvents(c.outcome, c.before, c.after, NOW, config);
      expect(events).toHaveLength(c.events.length);
      const base = {
        at: AT,
        cert: c.outcome.cert,
        domains: c.after?.domains ?? c.before?.domains ?? [],
        serial: c.outcome.serial,
        notAfter: c.outcome.notAfter,
        daysLeft: c.after?.daysLeft ?? null,
        action: c.outcome.action,
      };
      events.forEach((event, i) => expect(event).toEqual(expect.objectContaining({ ...base, ...c.events[i] })));
    });
  }
});

describe('expiryEvents: what a plan finds', () => {
  const cases: { name: string; row: StatusRow; events: Expected[] }[] = [
    { name: 'no certificate yet: nothing', row: row({ notBefore: null, notAfter: null, serial: null, daysLeft: null }), events: [] },
    { name: 'far from expiry: nothing', row: row({ notAfter: iso(60), daysLeft: 60 }), events: [] },
    {
      name: 'inside the alert window: expiring',
      row: row({ consecutiveFailures: 2 }),
      events: [{ type: 'expiring', severity: 'critical', message: `www expires at ${iso(5)} (in 120 h) and was not renewed`, consecutiveFailures: 2 }],
    },
    {
      name: 'past notAfter: expired',
      row: row({ notAfter: iso(-1), daysLeft: 0 }),
      events: [{ type: 'expired', severity: 'critical', message: `www expired at ${iso(-1)} and was not renewed` }],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const events = expiryEvents(c.row, NOW, config);
      expect(events).toHaveLength(c.events.length);
      const base = { at: AT, cert: c.row.name, domains: c.row.domains, serial: c.row.serial, notAfter: c.row.notAfter, daysLeft: c.row.daysLeft };
      events.forEach((event, i) => expect(event).toEqual(expect.objectContaining({ ...base, ...c.events[i] })));
    });
  }
});
