import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { loadConfigFile, type Config } from '../../../src/config/load.js';
import type { EngineDeps } from '../../../src/engine/contracts.js';
import type { IssueRequest, Issuer } from '../../../src/issuers/contract.js';
import { dryRunTarget, rehearsalBatch, Rehearser } from '../../../src/engine/rehearse.js';
import { statusRows } from '../../../src/engine/status.js';
import type { AgentEvent } from '../../../src/observe/events.js';
import { rehearsalOffsetMs } from '../../../src/plan/rehearsal.js';
import type { RepositoryStore } from '../../../src/state/repository-store.js';
import { openConfigStore } from '../../helpers/state.js';
import { makeCertificate } from '../../helpers/certs.js';
import { realTick, TimerClock } from '../../helpers/timer-clock.js';

const DAY = 86_400_000;
const WEEK = 7 * DAY;

class FakeIssuer implements Issuer {
  calls: { name: string; at: number; dryRun: boolean }[] = [];
  fail: Error | undefined;
  inFlight = 0;
  maxInFlight = 0;
  constructor(
    private readonly clock: TimerClock,
    readonly directoryUrl: string,
    private readonly dryRun: boolean,
  ) {}
  async issue(request: IssueRequest) {
    this.calls.push({ name: request.certName, at: this.clock.now().getTime(), dryRun: this.dryRun });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      // Let a second rehearsal start here if the Rehearser allowed one: each reaches its issuer
      // after a few store reads and a lock of its own, so give it real time, not one tick.
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (this.fail) throw this.fail;
      const notBefore = this.clock.now();
      return { material: makeCertificate({ domains: request.domains, notBefore, notAfter: new Date(notBefore.getTime() + 90 * DAY) }) };
    } finally {
      this.inFlight--;
    }
  }
}

interface Harness {
  rehearser: Rehearser;
  clock: TimerClock;
  production: FakeIssuer;
  staging: FakeIssuer;
  events: AgentEvent[];
  results: [string, string][];
  config: Config;
  store: () => RepositoryStore;
}

const running: Rehearser[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});

function harness(certs: string, every = '7d'): Harness {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-rehearse-'));
  const file = path.join(dir, 'certkeeper.yaml');
  writeFileSync(
    file,
    `stateDir: ./state
acme: { directory: "https://ca.test/directory", stagingDirectory: "https://staging.ca.test/directory" }
rehearse: { every: ${every} }
dns: { corp: { type: exec, command: ["/bin/true"] } }
certificates:
${certs}
`,
  );
  const config = loadConfigFile(file, { env: {} });
  const clock = new TimerClock('2026-11-22T00:00:00Z');
  const production = new FakeIssuer(clock, 'https://ca.test/directory', false);
  const staging = new FakeIssuer(clock, 'https://staging.ca.test/directory', true);
  const events: AgentEvent[] = [];
  const results: [string, string][] = [];
  let store: RepositoryStore | undefined;
  const rehearser = new Rehearser({
    clock,
    logger: silentLogger,
    config: () => config,
    wire: async (c): Promise<EngineDeps> => {
      store ??= await openConfigStore(c, clock);
      return {
        config: c,
        store,
        clock,
        logger: silentLogger,
        issuer: async (options) => (options?.dryRun ? staging : production),
        dnsProvider: () => ({ name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} }),
        sink: () => {
          throw new Error('a rehearsal deploys nothing');
        },
      };
    },
    onEvent: (event) => events.push(event),
    onResult: (cert, result) => results.push([cert, result]),
  });
  running.push(rehearser);
  return { rehearser, clock, production, staging, events, results, config, store: () => store! };
}

const settle = (h: Harness) => async (): Promise<void> => {
  for (let i = 0; i < 3; i++) {
    await realTick();
    await h.rehearser.idle();
  }
};
const advance = (h: Harness, ms: number) => h.clock.advance(ms, settle(h));

describe('Rehearser', () => {
  it('rehearses each certificate once per period at its own offset, against staging, one at a time', async () => {
    const h = harness(
      '  - { name: www, domains: [www.example.com], dns: corp }\n  - { name: api, domains: [api.example.com], dns: corp }\n  - { name: mail, domains: [mail.example.com], dns: corp }',
    );
    h.rehearser.start();
    await advance(h, 0);
    expect(h.staging.calls).toEqual([]); // nothing at start: spread over the first period
    const offsets = ['www', 'api', 'mail'].map((name) => rehearsalOffsetMs(WEEK, name));
    await advance(h, WEEK);
    expect(h.staging.calls.map((c) => c.name).sort()).toEqual(['api', 'mail', 'www']);
    // Each went at its own offset after start, not all at once.
    const start = Date.parse('2026-11-22T00:00:00Z');
    for (const call of h.staging.calls) expect(call.at).toBe(start + rehearsalOffsetMs(WEEK, call.name));
    expect(new Set(offsets).size).toBe(3);
    expect(h.production.calls).toEqual([]);
    expect(h.staging.maxInFlight).toBe(1);
    expect(h.results.every(([, r]) => r === 'success')).toBe(true);
    expect(h.events).toEqual([]); // success is quiet

    await advance(h, WEEK);
    expect(h.staging.calls).toHaveLength(6); // one more each, a period after the last
  });

  it('alerts a failed rehearsal as a warning, critical once the real renewal is due, and reports the recovery', async () => {
    const h = harness('  - { name: www, domains: [www.example.com], dns: corp }');
    // A current certificate, issued now: 90 days, renewal due at 2/3 of the lifetime (day 60).
    await h.rehearser.idle();
    const store = await openConfigStore(h.config, h.clock);
    await store.putCertificate(
      'www',
      makeCertificate({ domains: ['www.example.com'], notBefore: h.clock.now(), notAfter: new Date(h.clock.now().getTime() + 90 * DAY) }),
      {
        directoryUrl: 'https://ca.test/directory',
        issuedAt: h.clock.now(),
      },
    );
    h.staging.fail = new CertkeeperError('DNS_UPDATE_FAILED', 'the DNS credentials were rotated');
    h.rehearser.start();
    await advance(h, WEEK);
    expect(h.events).toHaveLength(1);
    expect(h.events[0]).toMatchObject({
      type: 'rehearsal_failed',
      cert: 'www',
      severity: 'warning',
      action: 'dry-run',
      error: expect.stringContaining('credentials were rotated'),
    });
    expect(h.events[0]!.message).toContain('https://staging.ca.test/directory');
    expect(h.results).toEqual([['www', 'failure']]);
    // status shows it
    const [row] = await statusRows({ config: h.config, store: h.store(), clock: h.clock, logger: silentLogger });
    expect(row!.lastRehearsal).toMatchObject({ result: 'failure', error: expect.stringContaining('credentials were rotated') });

    // Still failing when the real renewal is due (day 60+): critical.
    await advance(h, 60 * DAY);
    const last = h.events[h.events.length - 1]!;
    expect(last).toMatchObject({ type: 'rehearsal_failed', severity: 'critical' });
    expect(h.events.filter((e) => e.severity === 'warning').length).toBeGreaterThan(0);

    h.staging.fail = undefined;
    await advance(h, WEEK);
    expect(h.events[h.events.length - 1]).toMatchObject({ type: 'rehearsal_recovered', cert: 'www', severity: 'info' });
    expect(h.events.filter((e) => e.type === 'rehearsal_recovered')).toHaveLength(1);
    const [after] = await statusRows({ config: h.config, store: h.store(), clock: h.clock, logger: silentLogger });
    expect(after!.lastRehearsal).toMatchObject({ result: 'success', error: null });
    // Rehearsals never touched the stored certificate or production.
    expect(h.production.calls).toEqual([]);
    expect((await h.store().getCertificate('www'))!.directoryUrl).toBe('https://ca.test/directory');
  });

  it('picks up after a restart from history instead of rehearsing everything again', async () => {
    const first = harness('  - { name: www, domains: [www.example.com], dns: corp }');
    first.rehearser.start();
    await advance(first, WEEK);
    expect(first.staging.calls).toHaveLength(1);
    const lastAt = first.staging.calls[0]!.at;
    await first.rehearser.stop();

    // A new Rehearser on the same state, started a day later.
    const second = new Rehearser({
      clock: first.clock,
      logger: silentLogger,
      config: () => first.config,
      wire: async (c) => ({
        config: c,
        store: first.store(),
        clock: first.clock,
        logger: silentLogger,
        issuer: async () => first.staging,
        dnsProvider: () => ({ name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} }),
        sink: () => {
          throw new Error('no sink');
        },
      }),
    });
    running.push(second);
    second.start();
    await first.clock.advance(0, async () => {
      await realTick();
      await second.idle();
    });
    expect(second.schedule().get('www')!.getTime()).toBe(lastAt + WEEK);
  });

  it('does nothing (and arms no timer) without `rehearse:`', async () => {
    const h = harness('  - { name: www, domains: [www.example.com], dns: corp }');
    const off = new Rehearser({
      clock: h.clock,
      logger: silentLogger,
      config: () => ({ ...h.config, daemon: { ...h.config.daemon, rehearseEveryMs: undefined } }),
      wire: async () => {
        throw new Error('not wired');
      },
    });
    running.push(off);
    off.start();
    await h.clock.advance(30 * DAY, realTick);
    expect(h.clock.pending).toEqual([]);
  });

  it('caps rehearsals per CA: two certificates on one CA never overlap, while one on another CA runs alongside', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ck-rehearse-ca-'));
    const file = path.join(dir, 'certkeeper.yaml');
    writeFileSync(
      file,
      `stateDir: ./state
issuers:
  - { name: a, directory: "https://ca-a.test/directory" }
  - { name: b, directory: "https://ca-b.test/directory" }
rehearse: { every: 7d }
dns: { corp: { type: exec, command: ["/bin/true"] } }
certificates:
  - { name: a1, domains: [a1.example.com], dns: corp }
  - { name: a2, domains: [a2.example.com], dns: corp, issuers: [a, b] }
  - { name: b1, domains: [b1.example.com], dns: corp, issuers: [b] }
`,
    );
    const config = loadConfigFile(file, { env: {} });
    const clock = new TimerClock('2026-11-22T00:00:00Z');
    // The daemon was down for more than a period: all three are overdue at once when it starts.
    const store = await openConfigStore(config, clock);
    for (const cert of ['a1', 'a2', 'b1']) {
      await store.appendHistory({
        at: new Date(clock.now().getTime() - 8 * DAY).toISOString(),
        cert,
        action: 'dry-run',
        result: 'success',
        serial: null,
        notAfter: null,
        durationMs: 1,
        error: null,
      });
    }
    const cas = new Map(['https://ca-a.test/directory', 'https://ca-b.test/directory'].map((url) => [url, new FakeIssuer(clock, url, true)]));
    // Who was in flight together, as pairs of certificate names.
    const inFlight = new Set<string>();
    const together = new Set<string>();
    const track = (issuer: FakeIssuer): Issuer => ({
      directoryUrl: issuer.directoryUrl,
      async issue(request) {
        for (const other of inFlight) together.add([other, request.certName].sort().join('+'));
        inFlight.add(request.certName);
        try {
          return await issuer.issue(request);
        } finally {
          inFlight.delete(request.certName);
        }
      },
    });
    const rehearser = new Rehearser({
      clock,
      logger: silentLogger,
      config: () => config,
      wire: async (c): Promise<EngineDeps> => ({
        config: c,
        store,
        clock,
        logger: silentLogger,
        issuer: async (options) => {
          if (!options?.dryRun) throw new Error('a rehearsal orders nothing from production');
          return track(cas.get(dryRunTarget(c, options.cert).directoryUrl)!);
        },
        dnsProvider: () => ({ name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} }),
        sink: () => {
          throw new Error('a rehearsal deploys nothing');
        },
      }),
    });
    running.push(rehearser);
    rehearser.start();
    await clock.advance(0, async () => {
      for (let i = 0; i < 5; i++) {
        await realTick();
        await rehearser.idle();
      }
    });

    const a = cas.get('https://ca-a.test/directory')!;
    const b = cas.get('https://ca-b.test/directory')!;
    // a2 lists CA b second, but its dry run goes to its first issuer, CA a.
    expect(a.calls.map((c) => c.name).sort()).toEqual(['a1', 'a2']);
    expect(b.calls.map((c) => c.name)).toEqual(['b1']);
    expect(a.maxInFlight).toBe(1);
    expect(b.maxInFlight).toBe(1);
    expect(together.has('a1+a2')).toBe(false);
    // b1 ran alongside whichever of a1, a2 was most overdue (ties: by name, so a1).
    expect([...together]).toEqual(['a1+b1']);
    // And each is scheduled a period after its own rehearsal.
    const schedule = rehearser.schedule();
    for (const name of ['a1', 'a2', 'b1']) expect(schedule.get(name)!.getTime()).toBe(clock.now().getTime() + WEEK);
  });
});

describe('rehearsalBatch', () => {
  it('takes the first due certificate of each CA and leaves the rest for the next pass', () => {
    expect(
      rehearsalBatch([
        { name: 'x', ca: 'https://a/dir' },
        { name: 'y', ca: 'https://a/dir' },
        { name: 'z', ca: 'https://b/dir' },
        { name: 'w', ca: 'https://c/dir' },
      ]),
    ).toEqual(['x', 'z', 'w']);
    expect(rehearsalBatch([])).toEqual([]);
  });
});
