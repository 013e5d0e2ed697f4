// Deploy verification, the pipeline's `verify` step: after a deploy, connect to each of the
// certificate's `verify:` endpoints and require the leaf's serial to be the one just issued,
// retrying for the endpoint's settle time (default 60 s, on the injected clock) to let reloads
// land. If an endpoint still serves something else, the certificate's exec sinks (the reload
// hooks) run once more and verification repeats; only then is it a failure. A failure never rolls
// back the certificate: it is recorded (history action `verify`, the per-certificate verify state
// read by `status`) and reported on the event stream: verified or verify_failed, and recovered
// after a failed one (verify/events.ts).

import type { Clock } from '../core/clock.js';
import { describeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { CertificatePaths, CertificateSpec, EndpointSpec, HistoryEntry, StoredCertificate } from '../core/types.js';
import { readCertificateData } from '../state/codec.js';
import type { StateStore } from '../state/contract.js';
import type { Sink } from '../sinks/contract.js';
import type { StreamEvent } from '../observe/stream.js';
import { overallServing, servingOf } from './checks.js';
import type { Serving } from '../core/endpoint-results.js';
import type { ProbeFn, ProbeOptions } from './probe.js';
import { verifyEvents } from './events.js';
import { endpointName } from './schema.js';
import { verifyReportCodec, type EndpointVerdict, type VerifyReport } from '../core/verify-report.js';

export type { EndpointVerdict, VerifyReport };

/** Pause between probes while waiting for a reload. */
export const VERIFY_INTERVAL_MS = 5_000;
/** Where the last verification of a certificate is kept (a name no sink can have: sink names have no dots). */
export const VERIFY_STATE_KEY = 'verify.last';

/** What verification needs of the pipeline (the engine's deps have all of it). */
export interface VerifyDeps {
  store: StateStore;
  clock: Clock;
  logger: Logger;
  sink(name: string): Sink;
  onEvent?: ((event: StreamEvent) => void) | undefined;
}

export interface VerifyRequest {
  spec: CertificateSpec;
  current: StoredCertificate;
  deps: VerifyDeps;
  signal?: AbortSignal | undefined;
  /** Re-run the exec sinks once when verification fails (the pipeline does; `certkeeper verify` does not). */
  redeploy?: boolean;
  /** Wait for each endpoint's settle time (the pipeline does; `certkeeper verify` probes once unless asked). */
  settle?: boolean;
  probe?: ProbeFn;
  probeOptions?: ProbeOptions;
}

/** Verifies one certificate's endpoints; records and reports the outcome. Never throws except when cancelled. */
export async function verifyCertificate(request: VerifyRequest): Promise<VerifyReport | undefined> {
  const { spec, current, deps } = request;
  const endpoints = spec.verify ?? [];
  if (endpoints.length === 0) return undefined;
  const serial = current.info.serial;
  const started = performance.now();
  deps.onEvent?.({ type: 'cert_step', cert: spec.name, step: 'verifying', detail: endpoints.map(endpointName).join(', ') });
  let round = await settle(endpoints, serial, request);
  let attempts = round.attempts;
  const redeployed: string[] = [];
  if (round.serving !== 'new' && request.redeploy) {
    deps.logger.warn({ cert: spec.name, serial, serving: round.serving }, 'the new certificate is not served yet; running the deploy hooks once more');
    redeployed.push(...(await rerunHooks(spec, current, deps, request.signal)));
    round = await settle(endpoints, serial, request);
    attempts += round.attempts;
  }
  const failed = round.verdicts.filter((v) => v.serving !== 'new');
  const report: VerifyReport = {
    cert: spec.name,
    serial,
    ok: failed.length === 0,
    serving: round.serving,
    endpoints: round.verdicts,
    redeployed,
    attempts,
    at: deps.clock.now().toISOString(),
    error:
      failed.length === 0
        ? null
        : failed
            .map((v) => `${v.endpoint}: ${v.serving === 'unreachable' ? `unreachable (${v.error ?? 'no answer'})` : `serves ${v.servedSerial}, not ${serial}`}`)
            .join('; '),
  };
  const previous = await readVerification(deps.store, spec.name);
  await record(report, deps, Math.round(performance.now() - started));
  for (const event of verifyEvents(report, previous?.ok ?? null, spec.domains, deps.clock.now().toISOString())) deps.onEvent?.(event);
  return report;
}

/** The pipeline's hook (engine/renew.ts): verifies after a deploy that wrote something; extra outcome fields. */
export async function verifyAfterDeploy(
  spec: CertificateSpec,
  current: StoredCertificate,
  deployed: readonly string[],
  deps: VerifyDeps,
  signal: AbortSignal | undefined,
): Promise<{ verify?: VerifyReport }> {
  if (deployed.length === 0 || !spec.verify?.length) return {};
  try {
    const report = await verifyCertificate({ spec, current, deps, signal, redeploy: true, settle: true });
    return report ? { verify: report } : {};
  } catch (error) {
    // Cancelled (shutdown) while waiting for a reload: the deploy itself stands.
    deps.logger.warn({ cert: spec.name, err: describeError(error) }, 'verification abandoned');
    return {};
  }
}

interface Round {
  verdicts: EndpointVerdict[];
  serving: Serving;
  attempts: number;
}

/** Probes until every endpoint serves `serial` or its settle time has passed. */
async function settle(endpoints: readonly EndpointSpec[], serial: string, request: VerifyRequest): Promise<Round> {
  const { clock } = request.deps;
  const wait = request.settle ?? false;
  const start = clock.now().getTime();
  const verdicts: EndpointVerdict[] = new Array(endpoints.length);
  let pending = endpoints.map((_endpoint, index) => index);
  let attempts = 0;
  // The TLS prober loads only when something is verified: a run that deploys nothing skips it.
  const { probeAll } = await import('./probe.js');
  for (;;) {
    attempts++;
    const results = await probeAll(
      pending.map((index) => endpoints[index]!),
      { ...request.probeOptions, now: () => clock.now(), ...(request.probe ? { probe: request.probe } : {}) },
    );
    results.forEach((result, i) => {
      verdicts[pending[i]!] = {
        endpoint: result.endpoint,
        address: result.address,
        serving: servingOf(result, serial),
        servedSerial: result.leaf?.serial ?? null,
        error: result.error,
        trusted: result.trusted,
        nameMatch: result.nameMatch,
      };
    });
    const now = clock.now().getTime();
    pending = pending.filter((index) => verdicts[index]!.serving !== 'new' && wait && now < start + endpoints[index]!.settleMs);
    if (pending.length === 0) break;
    const until = Math.max(...pending.map((index) => start + endpoints[index]!.settleMs));
    await clock.sleep(Math.min(VERIFY_INTERVAL_MS, until - now), request.signal);
  }
  return { verdicts, serving: overallServing(verdicts.map((v) => v.serving)), attempts };
}

/** Runs the certificate's reloading sinks (exec hooks) again, with the paths the last files sink wrote. */
async function rerunHooks(spec: CertificateSpec, current: StoredCertificate, deps: VerifyDeps, signal: AbortSignal | undefined): Promise<string[]> {
  let paths: CertificatePaths = current.paths;
  const ran: string[] = [];
  for (const sinkName of spec.sinks) {
    const sink = deps.sink(sinkName);
    paths = sink.locate?.(spec.name) ?? paths;
    if (sink.reloads !== true) continue;
    const started = performance.now();
    const entry = {
      cert: spec.name,
      action: 'deploy' as const,
      serial: current.info.serial,
      notAfter: current.info.notAfter.toISOString(),
      sink: sinkName,
      reason: 'verify-retry',
    };
    try {
      await sink.deploy(
        { certName: spec.name, domains: current.info.domains, serial: current.info.serial, notAfter: current.info.notAfter, material: current.material, paths },
        signal,
      );
      ran.push(sinkName);
      await append(deps, { ...entry, result: 'success', error: null, durationMs: Math.round(performance.now() - started) });
    } catch (error) {
      const message = describeError(error);
      deps.logger.error({ cert: spec.name, sink: sinkName, err: message }, 'deploy hook failed on the verification retry');
      await append(deps, { ...entry, result: 'failure', error: message, durationMs: Math.round(performance.now() - started) });
    }
  }
  return ran;
}

async function record(report: VerifyReport, deps: VerifyDeps, durationMs: number): Promise<void> {
  try {
    await deps.store.putSinkState(report.cert, VERIFY_STATE_KEY, report);
  } catch (error) {
    deps.logger.error({ cert: report.cert, err: describeError(error) }, 'could not store the verification result');
  }
  await append(deps, {
    cert: report.cert,
    action: 'verify',
    result: report.ok ? 'success' : 'failure',
    serial: report.serial,
    notAfter: null,
    durationMs,
    error: report.error,
    reason: `serving: ${report.serving}`,
    ...(report.ok ? {} : { code: 'VERIFY_FAILED' }),
  });
  const log = report.ok ? deps.logger.info.bind(deps.logger) : deps.logger.error.bind(deps.logger);
  log(
    { cert: report.cert, serial: report.serial, serving: report.serving, attempts: report.attempts, redeployed: report.redeployed },
    report.ok ? 'verified: every endpoint serves the new certificate' : `verification failed: ${report.error}`,
  );
}

async function append(deps: VerifyDeps, entry: Omit<HistoryEntry, 'at'>): Promise<void> {
  try {
    await deps.store.appendHistory({ at: deps.clock.now().toISOString(), ...entry });
  } catch (error) {
    deps.logger.error({ cert: entry.cert, err: describeError(error) }, 'could not append to history');
  }
}

/** The last verification of a certificate, if any (for `status`); one that cannot be read is none: serving unknown. */
export async function readVerification(store: Pick<StateStore, 'getSinkState'>, cert: string): Promise<VerifyReport | undefined> {
  try {
    return await readCertificateData(store, cert, VERIFY_STATE_KEY, verifyReportCodec);
  } catch {
    return undefined;
  }
}

/** `status`'s serving column: the last verification, judged against the stored serial. */
export function servingStatus(report: VerifyReport | undefined, storedSerial: string | null): Serving | null {
  if (!report || storedSerial === null) return null;
  if (report.serial !== storedSerial) return report.serving === 'unreachable' ? 'unreachable' : 'old';
  return report.serving;
}
