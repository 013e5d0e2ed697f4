// The pipeline's verify step against real loopback TLS servers: the reload hook is a sink that
// switches what the server serves (or, when broken, does nothing).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { parseConfig } from '../../../src/config/load.js';
import type { EngineDeps } from '../../../src/engine/contracts.js';
import type { IssueRequest, Issuer } from '../../../src/issuers/contract.js';
import type { AgentEvent } from '../../../src/observe/events.js';
import type { StreamEvent } from '../../../src/observe/stream.js';
import { renew } from '../../../src/engine/renew.js';
import { statusRows } from '../../../src/engine/status.js';
import type { DeployRequest, Sink } from '../../../src/sinks/contract.js';
import { makeCertificate } from '../../helpers/certs.js';
import { ManualClock } from '../../helpers/clock.js';
import { openConfigStore } from '../../helpers/state.js';
import { startTlsServer, type TestTlsServer } from '../../helpers/tls-server.js';

const DAY = 86_400_000;

/** A deploy verification's verdict on the event stream (verify/events.ts). */
const isVerdict = (event: StreamEvent): event is AgentEvent => event.type === 'verified' || event.type === 'verify_failed' || event.type === 'recovered';

class FakeIssuer implements Issuer {
  readonly directoryUrl = 'https://ca.test/directory';
  constructor(private readonly clock: ManualClock) {}
  async issue(request: IssueRequest) {
    const notBefore = this.clock.now();
    return { material: makeCertificate({ domains: request.domains, notBefore, notAfter: new Date(notBefore.getTime() + 90 * DAY) }) };
  }
}

/** An exec-type sink standing in for "systemctl reload": it makes the server serve the new certificate, from its `worksFrom`-th call on. */
class ReloadSink implements Sink {
  readonly type = 'exec';
  readonly reloads = true;
  calls: DeployRequest[] = [];
  constructor(
    readonly name: string,
    private readonly server: TestTlsServer,
    private readonly worksFrom: number,
  ) {}
  async deploy(request: DeployRequest) {
    this.calls.push(request);
    if (this.calls.length >= this.worksFrom) this.server.serve(request.material);
    return {};
  }
}

const servers: TestTlsServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function harness(options: { reloadWorksFrom: number; verify?: string }) {
  const old = makeCertificate({ domains: ['www.example.com'], serial: '01D0' });
  const server = await startTlsServer(old);
  servers.push(server);
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-verify-'));
  const verify = options.verify ?? `[{ address: "${server.address}", sni: www.example.com, settle: 30s }]`;
  const config = parseConfig(
    `
stateDir: ./state
acme: { directory: "https://ca.test/directory" }
dns: { corp: { type: exec, command: ["/bin/true"] } }
sinks:
  files: { type: files, dir: "./out/{cert}" }
  reload: { type: exec, command: ["/bin/true"] }
certificates:
  - name: www
    domains: [www.example.com]
    dns: corp
    sinks: [files, reload]
    verify: ${verify}
`,
    path.join(dir, 'certkeeper.yaml'),
    { env: {} },
  );
  const clock = new ManualClock('2026-11-22T00:00:00Z');
  const store = await openConfigStore(config, clock);
  const reload = new ReloadSink('reload', server, options.reloadWorksFrom);
  const files: Sink = { name: 'files', type: 'files', deploy: async () => ({}) };
  const events: StreamEvent[] = [];
  const deps: EngineDeps = {
    config,
    store,
    clock,
    logger: silentLogger,
    issuer: async () => new FakeIssuer(clock),
    dnsProvider: () => ({ name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} }),
    sink: (name) => (name === 'reload' ? reload : files),
    onEvent: (event) => events.push(event),
  };
  return { deps, store, clock, reload, events, server };
}

describe('verify step after a deploy', () => {
  it('passes when the endpoint serves the new serial (old before the reload, new after)', async () => {
    const h = await harness({ reloadWorksFrom: 1 });
    const report = await renew({}, h.deps);
    const outcome = report.outcomes[0]!;
    const serial = (await h.store.getCertificate('www'))!.info.serial;
    expect(outcome).toMatchObject({ result: 'success', verify: { ok: true, serving: 'new', serial, redeployed: [] } });
    expect(outcome.verify!.endpoints[0]).toMatchObject({ serving: 'new', servedSerial: serial, trusted: false, nameMatch: true });
    const [last] = await h.store.readHistory({ cert: 'www' });
    expect(last).toMatchObject({ action: 'verify', result: 'success', serial, reason: 'serving: new' });
    expect((await statusRows(h.deps))[0]).toMatchObject({ serving: 'new', state: 'valid' });
    expect(h.events.filter(isVerdict)).toEqual([expect.objectContaining({ type: 'verified', cert: 'www', serial, serving: 'new', severity: 'info' })]);
  });

  it('a reload hook that does nothing: caught, the hooks re-run once, then reported — the certificate is kept', async () => {
    const h = await harness({ reloadWorksFrom: Infinity });
    const report = await renew({}, h.deps);
    const outcome = report.outcomes[0]!;
    const stored = (await h.store.getCertificate('www'))!.info.serial;
    expect(outcome.result).toBe('success'); // no rollback: the new certificate stays stored and deployed
    expect(outcome.verify).toMatchObject({ ok: false, serving: 'old', serial: stored, redeployed: ['reload'] });
    expect(outcome.verify!.endpoints[0]!.servedSerial).toBe('1D0');
    expect(outcome.verify!.attempts).toBeGreaterThan(2); // retried through the settle time, twice
    expect(h.reload.calls).toHaveLength(2);
    const history = await h.store.readHistory({ cert: 'www' });
    expect(history[0]).toMatchObject({ action: 'verify', result: 'failure', code: 'VERIFY_FAILED', reason: 'serving: old' });
    expect(history[0]!.error).toContain('serves 1D0');
    expect(history[1]).toMatchObject({ action: 'deploy', sink: 'reload', result: 'success', reason: 'verify-retry' });
    expect((await statusRows(h.deps))[0]).toMatchObject({ serving: 'old', state: 'valid', pendingSinks: [] });
    // On the event stream: a verify_failed alert (delivered by default).
    expect(h.events.filter(isVerdict).map((e) => e.type)).toEqual(['verify_failed']);
  });

  it('a reload that only lands when re-run passes after the re-run', async () => {
    const h = await harness({ reloadWorksFrom: 2 });
    const report = await renew({}, h.deps);
    expect(report.outcomes[0]!.verify).toMatchObject({ ok: true, serving: 'new', redeployed: ['reload'] });
    expect(h.reload.calls).toHaveLength(2);
  });

  it('an endpoint that is down: serving unreachable', async () => {
    const h = await harness({ reloadWorksFrom: 1, verify: '["127.0.0.1:1"]' });
    const report = await renew({}, h.deps);
    expect(report.outcomes[0]!.verify).toMatchObject({ ok: false, serving: 'unreachable' });
    expect((await statusRows(h.deps))[0]!.serving).toBe('unreachable');
  });

  it('no verify when nothing was deployed in the run, and none without endpoints', async () => {
    const h = await harness({ reloadWorksFrom: 1 });
    await renew({}, h.deps);
    const again = await renew({}, h.deps);
    expect(again.outcomes[0]).toMatchObject({ result: 'skipped' });
    expect(again.outcomes[0]!.verify).toBeUndefined();
  });

  it('recovered follows a failed verification once endpoints serve the current certificate', async () => {
    const h = await harness({ reloadWorksFrom: 3 });
    await renew({}, h.deps); // fails (calls 1 and 2)
    const before = h.events.length;
    await renew({ force: true }, h.deps); // call 3 works
    expect(
      h.events
        .slice(before)
        .filter(isVerdict)
        .map((e) => e.type),
    ).toEqual(['verified', 'recovered']);
  });
});
