import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { CertificatePaths, CertificateSpec } from '../../../src/core/types.js';
import { parseConfig, type Config } from '../../../src/config/load.js';
import type { DnsProvider } from '../../../src/dns/contract.js';
import type { EngineDeps } from '../../../src/engine/contracts.js';
import type { IssueRequest, Issuer } from '../../../src/issuers/contract.js';
import { isAgentEvent, type StreamEvent } from '../../../src/observe/stream.js';
import { renew } from '../../../src/engine/renew.js';
import { statusRows } from '../../../src/engine/status.js';
import type { DeployRequest, Sink } from '../../../src/sinks/contract.js';
import type { RepositoryStore } from '../../../src/state/repository-store.js';
import { openConfigStore } from '../../helpers/state.js';
import { makeCertificate } from '../../helpers/certs.js';
import { ManualClock } from '../../helpers/clock.js';

const DAY = 86_400_000;

class FakeIssuer implements Issuer {
  readonly directoryUrl = 'https://ca.test/directory';
  calls: IssueRequest[] = [];
  failWith: Error | undefined;
  constructor(private readonly clock: ManualClock) {}
  async issue(request: IssueRequest) {
    this.calls.push(request);
    if (this.failWith) throw this.failWith;
    request.onProgress?.({ step: 'ordering' });
    request.onProgress?.({ step: 'issued' });
    const notBefore = this.clock.now();
    return { material: makeCertificate({ domains: request.domains, notBefore, notAfter: new Date(notBefore.getTime() + 90 * DAY), keyType: request.keyType }) };
  }
}

class RecordingSink implements Sink {
  readonly type = 'fake';
  deploys: DeployRequest[] = [];
  failNext = 0;
  constructor(
    readonly name: string,
    private readonly writesTo?: string,
  ) {}
  get writesFiles(): boolean {
    return this.writesTo !== undefined;
  }
  async deploy(request: DeployRequest) {
    if (this.failNext > 0) {
      this.failNext--;
      throw new CertkeeperError('SINK_FAILED', `${this.name} is down`);
    }
    this.deploys.push(request);
    return this.writesTo ? { paths: this.locate(request.certName)! } : {};
  }
  locate(certName: string): CertificatePaths | undefined {
    if (!this.writesTo) return undefined;
    const dir = path.join(this.writesTo, certName);
    return { cert: `${dir}/cert.pem`, chain: `${dir}/chain.pem`, fullchain: `${dir}/fullchain.pem`, key: `${dir}/privkey.pem` };
  }
}

const dns: DnsProvider = { name: 'corp', presentTxt: async () => {}, cleanupTxt: async () => {} };

interface Harness {
  deps: EngineDeps;
  issuer: FakeIssuer;
  files: RecordingSink;
  reload: RecordingSink;
  clock: ManualClock;
  events: StreamEvent[];
  store: RepositoryStore;
  config: Config;
}

async function harness(): Promise<Harness> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-engine-'));
  const config = parseConfig(
    `
stateDir: ./state
acme: { directory: "https://ca.test/directory", email: ops@example.com }
dns: { corp: { type: exec, command: ["/bin/true"] } }
sinks:
  files: { type: exec, command: ["/bin/true"] }
  reload: { type: exec, command: ["/bin/true"] }
certificates:
  - { name: www, domains: [example.com, "*.example.com"], dns: corp, sinks: [files, reload] }
  - { name: api, domains: [api.example.com], dns: corp, sinks: [reload] }
`,
    path.join(dir, 'certkeeper.yaml'),
    { env: {} },
  );
  const clock = new ManualClock('2026-11-22T00:00:00Z');
  const store = await openConfigStore(config, clock);
  const issuer = new FakeIssuer(clock);
  const files = new RecordingSink('files', path.join(dir, 'out'));
  const reload = new RecordingSink('reload');
  const events: StreamEvent[] = [];
  const deps: EngineDeps = {
    config,
    store,
    clock,
    logger: silentLogger,
    issuer: async () => issuer,
    dnsProvider: () => dns,
    sink: (name) => (name === 'files' ? files : reload),
    onEvent: (event) => events.push(event),
  };
  return { deps, issuer, files, reload, clock, events, store, config };
}

describe('renew pipeline', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });

  it('issues what is missing, stores it, deploys to every sink in order and records history', async () => {
    const report = await renew({}, h.deps);
    expect(report).toMatchObject({ succeeded: 2, failed: 0, skipped: 0 });
    expect(h.issuer.calls.map((c) => c.certName).sort()).toEqual(['api', 'www']);
    const www = await h.store.getCertificate('www');
    expect(www?.info.domains.sort()).toEqual(['*.example.com', 'example.com']);
    expect(h.files.deploys[0]!.serial).toBe(www!.info.serial);
    // The reload hook of www sees the files sink's paths, not the state copy.
    const wwwReload = h.reload.deploys.find((d) => d.certName === 'www')!;
    expect(wwwReload.paths.key).toBe(path.join(path.dirname(h.config.stateDir), 'out/www/privkey.pem'));
    const history = await h.store.readHistory({ cert: 'www' });
    expect(history.map((e) => `${e.action}:${e.result}${e.sink ? `:${e.sink}` : ''}`)).toEqual([
      'deploy:success:reload',
      'deploy:success:files',
      'issue:success',
    ]);
    const steps = h.events.flatMap((e) =>
      e.type === 'cert_step' && e.cert === 'www' ? [e.step] : e.type === 'deployed' && e.cert === 'www' ? ['deployed'] : [],
    );
    expect(steps).toEqual(['ordering', 'issued', 'stored', 'deploying', 'deployed', 'deploying', 'deployed']);
  });

  describe("the engine's own alerts on the event stream, as they happen", () => {
    const cases: { name: string; before?: (h: Harness) => Promise<void>; events: { type: string; cert: string; sink?: string; action?: string }[] }[] = [
      {
        name: 'first run: obtaining per order, deployed per sink',
        events: [
          { type: 'obtaining', cert: 'www', action: 'issue' },
          { type: 'obtaining', cert: 'api', action: 'issue' },
          { type: 'deployed', cert: 'www', sink: 'files' },
          { type: 'deployed', cert: 'www', sink: 'reload' },
          { type: 'deployed', cert: 'api', sink: 'reload' },
        ],
      },
      {
        name: 'nothing due: none',
        before: async (h) => void (await renew({}, h.deps)),
        events: [],
      },
      {
        name: 'a deploy left pending: deployed only, no obtaining',
        before: async (h) => {
          h.reload.failNext = 2;
          await renew({}, h.deps);
        },
        events: [
          { type: 'deployed', cert: 'www', sink: 'reload' },
          { type: 'deployed', cert: 'api', sink: 'reload' },
        ],
      },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        await c.before?.(h);
        const from = h.events.length;
        await renew({}, h.deps);
        const run = h.events.slice(from);
        const alerts = run.filter(isAgentEvent).filter((e) => e.type === 'obtaining' || e.type === 'deployed');
        const key = (e: { cert: string; type: string; sink?: string }): string => `${e.cert}/${e.type}/${e.sink ?? ''}`;
        expect(alerts.map(key).sort()).toEqual(c.events.map(key).sort());
        const at = h.clock.now().toISOString();
        for (const expected of c.events) {
          const domains = h.config.certificates.find((spec) => spec.name === expected.cert)!.domains;
          const event = alerts.find((e) => key(e) === key(expected));
          if (expected.type === 'obtaining') {
            const planned = run.find((e) => e.type === 'cert_planned' && e.cert === expected.cert);
            const plan = planned?.type === 'cert_planned' ? planned.message : '?';
            expect(event).toEqual({
              type: 'obtaining',
              at,
              cert: expected.cert,
              domains,
              severity: 'info',
              message: `${expected.action} ${expected.cert}: ${plan}`,
              action: expected.action,
            });
          } else {
            expect(event).toEqual({
              type: 'deployed',
              at,
              cert: expected.cert,
              domains,
              severity: 'info',
              message: `${expected.cert} deployed to ${expected.sink}`,
              sink: expected.sink,
            });
          }
        }
      });
    }
  });

  it('orders nothing when nothing is due, and renews once the threshold passes', async () => {
    await renew({}, h.deps);
    h.clock.advance(59 * DAY);
    const quiet = await renew({}, h.deps);
    expect(quiet).toMatchObject({ succeeded: 0, skipped: 2 });
    expect(h.issuer.calls).toHaveLength(2);
    h.clock.advance(2 * DAY);
    const due = await renew({}, h.deps);
    expect(due.outcomes.map((o) => [o.cert, o.action, o.reason])).toEqual([
      ['www', 'renew', 'threshold'],
      ['api', 'renew', 'threshold'],
    ]);
    expect(h.issuer.calls).toHaveLength(4);
  });

  it('--force renews everything; --cert limits the run; unknown names are usage errors', async () => {
    await renew({}, h.deps);
    await renew({ force: true, certs: ['api'] }, h.deps);
    expect(h.issuer.calls.map((c) => c.certName).slice(2)).toEqual(['api']);
    await renew({ force: true }, h.deps);
    expect(h.issuer.calls).toHaveLength(5);
    await expect(renew({ certs: ['nope'] }, h.deps)).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('retries a failed deploy on the next run without ordering a new certificate', async () => {
    h.reload.failNext = 1;
    const first = await renew({ certs: ['www'] }, h.deps);
    expect(first.outcomes[0]).toMatchObject({ result: 'failure', failedSink: 'reload', code: 'SINK_FAILED' });
    const serial = (await h.store.getCertificate('www'))!.info.serial;
    const [row] = await statusRows(h.deps);
    expect(row).toMatchObject({ name: 'www', state: 'failing', pendingSinks: ['reload'] });

    const second = await renew({ certs: ['www'] }, h.deps);
    expect(second.outcomes[0]).toMatchObject({ result: 'success', action: 'deploy', deployed: ['reload'], serial });
    expect(h.issuer.calls).toHaveLength(1);
    expect(h.files.deploys).toHaveLength(1); // not redeployed
    expect(h.reload.deploys.at(-1)!.paths.fullchain).toContain('out/www/fullchain.pem');
    const [after] = await statusRows(h.deps);
    expect(after).toMatchObject({ state: 'valid', pendingSinks: [], consecutiveFailures: 0 });
  });

  it('--dry-run orders but stores nothing and deploys nothing', async () => {
    const report = await renew({ dryRun: true }, h.deps);
    expect(report.succeeded).toBe(2);
    expect(h.issuer.calls).toHaveLength(2);
    expect(await h.store.getCertificate('www')).toBeUndefined();
    expect(h.files.deploys).toHaveLength(0);
    expect(h.reload.deploys).toHaveLength(0);
    expect((await h.store.readHistory()).every((e) => e.action === 'dry-run')).toBe(true);
  });

  it('records an issuance failure and keeps going with the other certificates', async () => {
    h.issuer.failWith = new CertkeeperError('VALIDATION_FAILED', 'the CA saw no TXT record');
    const report = await renew({}, h.deps);
    expect(report.failed).toBe(2);
    expect(report.outcomes[0]).toMatchObject({ result: 'failure', code: 'VALIDATION_FAILED' });
    const rows = await statusRows(h.deps);
    expect(rows.map((r) => r.state)).toEqual(['failing', 'failing']);
    const [last] = await h.store.readHistory({ cert: 'www' });
    expect(last).toMatchObject({ action: 'issue', result: 'failure', error: 'the CA saw no TXT record', code: 'VALIDATION_FAILED' });
    expect(
      readFileSync(path.join(h.config.stateDir, 'store', 'logs', 'history.jsonl'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(2);
  });

  it('passes a reused key when reuseKey is set and the key type is unchanged', async () => {
    (h.config.certificates[1] as CertificateSpec).reuseKey = true;
    await renew({ certs: ['api'] }, h.deps);
    const keyPem = (await h.store.getCertificate('api'))!.material.keyPem;
    await renew({ certs: ['api'], force: true }, h.deps);
    expect(h.issuer.calls[1]!.keyPem).toBe(keyPem);
  });

  it('backs off after a failed order (1 min, 10 min, ...), unless named, forced, changed or in an emergency', async () => {
    h.issuer.failWith = new CertkeeperError('ACME_ERROR', 'CA is down');
    await renew({ certs: ['api'] }, h.deps);
    expect((await h.store.getRecord('api')).nextAttemptAt).toBe(new Date(h.clock.now().getTime() + 60_000).toISOString());
    const waiting = await renew({}, h.deps);
    expect(waiting.outcomes.find((o) => o.cert === 'api')).toMatchObject({ action: 'skip', reason: 'backoff' });
    expect(h.issuer.calls.filter((c) => c.certName === 'api')).toHaveLength(1);

    // `renew --cert api` lifts the backoff; the second failure waits 10 minutes.
    await renew({ certs: ['api'], overrideBackoff: true }, h.deps);
    expect(h.issuer.calls.filter((c) => c.certName === 'api')).toHaveLength(2);
    expect((await h.store.getRecord('api')).nextAttemptAt).toBe(new Date(h.clock.now().getTime() + 600_000).toISOString());

    // Once the backoff has passed, a plain run tries again.
    h.clock.advance(600_001);
    h.issuer.failWith = undefined;
    const later = await renew({ certs: ['api'] }, h.deps);
    expect(later.outcomes[0]).toMatchObject({ action: 'issue', result: 'success' });
    expect((await h.store.getRecord('api')).nextAttemptAt).toBeNull();
  });

  it("honours the CA's Retry-After and lifts the backoff when the certificate's config changes", async () => {
    h.issuer.failWith = new CertkeeperError('ACME_RATE_LIMITED', 'too many', { retryAfterSeconds: 7200 });
    await renew({ certs: ['api'] }, h.deps);
    expect((await h.store.getRecord('api')).nextAttemptAt).toBe(new Date(h.clock.now().getTime() + 7_200_000).toISOString());
    h.config.fingerprints.api = 'changed';
    h.issuer.failWith = undefined;
    const changed = await renew({ certs: ['api'] }, h.deps);
    expect(changed.outcomes[0]).toMatchObject({ action: 'issue', result: 'success' });
  });

  it('ignores the backoff in an emergency (less than 1/20 of the lifetime left)', async () => {
    await renew({ certs: ['api'] }, h.deps);
    h.clock.advance(86 * DAY); // 4 of 90 days left: below 1/20
    h.issuer.failWith = new CertkeeperError('ACME_ERROR', 'CA is down');
    await renew({ certs: ['api'] }, h.deps);
    await renew({ certs: ['api'] }, h.deps);
    expect(h.issuer.calls.filter((c) => c.certName === 'api')).toHaveLength(3);
  });

  it('stops the sinks after a failed files sink (their hooks would read old files), and keeps it pending', async () => {
    h.files.failNext = 1;
    const report = await renew({ certs: ['www'] }, h.deps);
    expect(report.outcomes[0]).toMatchObject({ result: 'failure', failedSink: 'files', deployed: [] });
    expect(h.reload.deploys).toHaveLength(0);
    const record = await h.store.getRecord('www');
    expect(record.deployed).toEqual({});
    expect(record.nextAttemptAt).not.toBeNull(); // deploy retries back off in the daemon too
    const again = await renew({ certs: ['www'] }, h.deps);
    expect(again.outcomes[0]).toMatchObject({ action: 'deploy', result: 'success', deployed: ['files', 'reload'] });
    expect(h.issuer.calls).toHaveLength(1);
  });

  it('a deploy cancelled at shutdown is not counted as a failure and stays pending', async () => {
    const controller = new AbortController();
    h.reload.deploy = async () => {
      controller.abort();
      throw new CertkeeperError('CANCELLED', 'cancelled');
    };
    const report = await renew({ certs: ['www'], signal: controller.signal }, h.deps);
    expect(report.outcomes[0]).toMatchObject({ result: 'failure', code: 'CANCELLED', failedSink: 'reload' });
    const record = await h.store.getRecord('www');
    expect(record.consecutiveFailures).toBe(0);
    expect(record.deployed.reload).toBeUndefined();
  });

  it('plans from the recorded details alone, and reads and checks the PEM only to deploy or reuse it', async () => {
    await renew({}, h.deps);
    let fullReads = 0;
    const getCertificate = h.store.getCertificate.bind(h.store);
    h.store.getCertificate = async (name) => {
      fullReads++;
      return getCertificate(name);
    };
    const quiet = await renew({}, h.deps);
    expect(quiet).toMatchObject({ skipped: 2, failed: 0 });
    expect(fullReads).toBe(0);

    // A pending deploy reads the whole certificate; a key that no longer matches is caught there
    // and the certificate is issued afresh instead of deploying a broken pair.
    await replaceStoredKey(h.store, 'api', makeCertificate({ domains: ['other.example'] }).keyPem);
    await h.store.putRecord('api', { ...(await h.store.getRecord('api')), deployed: {} });
    const repaired = await renew({ certs: ['api'] }, h.deps);
    expect(fullReads).toBe(1);
    expect(repaired.outcomes[0]).toMatchObject({ action: 'issue', reason: 'stored-unreadable', result: 'success', deployed: ['reload'] });
    expect(h.issuer.calls.filter((c) => c.certName === 'api')).toHaveLength(2);
    const fresh = await getCertificate('api');
    expect(h.reload.deploys.at(-1)!.serial).toBe(fresh!.info.serial);
  });
});

/** Swaps the private key stored beside a certificate, as damage behind certkeeper's back would. */
async function replaceStoredKey(store: RepositoryStore, name: string, keyPem: string): Promise<void> {
  const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
  const current = JSON.parse(text((await store.storage.get(`certs/${name}/current`))!.value)) as { version: string };
  const key = `certs/${name}/versions/${current.version}`;
  const material = JSON.parse(text((await store.storage.get(key))!.value)) as Record<string, string>;
  await store.storage.put(key, new TextEncoder().encode(JSON.stringify({ ...material, keyPem })));
}
