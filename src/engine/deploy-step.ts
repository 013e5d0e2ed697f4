// The deploy step of the pipeline: the stored certificate to every sink of the certificate that
// lacks it, in the listed order, each success recorded at once; then the `verify` step.

import { describeError, toCertkeeperError } from '../core/errors.js';
import type { CertificatePaths, StoredCertificate } from '../core/types.js';
import { recordSuccess } from '../plan/record.js';
import type { CertRecord } from '../state/contract.js';
import type { CertOutcome } from '../observe/stream.js';
import { verifyAfterDeploy } from '../verify/deploy.js';
import { deploymentKeys } from '../sinks/scope.js';
import type { EngineDeps } from './contracts.js';
import { appendHistory, elapsed, failed, finish, type OutcomeFields, type Plan } from './outcome.js';

/** Deploys `current` to every sink that lacks it, in the listed order; stops at the first failure. */
export async function deploy(
  current: StoredCertificate,
  record: CertRecord,
  plan: Plan,
  started: number,
  deps: EngineDeps,
  signal: AbortSignal | undefined,
): Promise<CertOutcome> {
  const name = plan.spec.name;
  const serial = current.info.serial;
  const notAfter = current.info.notAfter.toISOString();
  let paths: CertificatePaths = current.paths;
  const deployed: string[] = [];
  const done = (partial: OutcomeFields): CertOutcome => finish(plan, started, deps, { serial, notAfter, deployed, ...partial });
  let failure: { message: string; code: string; sink: string; stopsLater: boolean } | undefined;
  // A local sink's deploy is this agent's (`web@host-a`), a shared one's everybody's (`acm`).
  const keyOf = deploymentKeys(deps.config.sinks, deps.config.agentId);
  for (const sinkName of plan.spec.sinks) {
    const sink = deps.sink(sinkName);
    if (record.deployed[keyOf(sinkName)] === serial) {
      paths = sink.locate?.(name) ?? paths; // later hooks still see this sink's files
      continue;
    }
    if (failure?.stopsLater) break;
    if (deps.canDeploy?.() === false) {
      // Lost the leader lease mid-order: the new leader deploys; no failure is counted here.
      deps.logger.warn({ cert: name, sink: sinkName, serial }, 'not the leader any more: stopping before deploying');
      if (!failure) return done({ result: 'skipped', reason: 'not-leader', message: 'lost the leader lease before deploying; left to the leader' });
      break;
    }
    deps.onEvent?.({ type: 'cert_step', cert: name, step: 'deploying', detail: sinkName });
    const sinkStarted = performance.now();
    try {
      const result = await sink.deploy(
        { certName: name, domains: current.info.domains, serial, notAfter: current.info.notAfter, material: current.material, paths },
        signal,
      );
      if (result.paths) paths = result.paths;
      deployed.push(sinkName);
      record = { ...record, deployed: { ...record.deployed, [keyOf(sinkName)]: serial } };
      await deps.store.putRecord(name, record);
      await appendHistory(deps, {
        cert: name,
        action: 'deploy',
        result: 'success',
        serial,
        notAfter,
        durationMs: elapsed(sinkStarted),
        error: null,
        sink: sinkName,
      });
      deps.onEvent?.({
        type: 'deployed',
        at: deps.clock.now().toISOString(),
        cert: name,
        domains: plan.spec.domains,
        severity: 'info',
        message: `${name} deployed to ${sinkName}`,
        sink: sinkName,
      });
      deps.logger.info({ cert: name, sink: sinkName, serial, detail: result.detail }, 'deployed');
    } catch (thrown) {
      const error = toCertkeeperError(thrown, 'SINK_FAILED');
      const message = describeError(error);
      deps.logger.error(
        { cert: name, sink: sinkName, code: error.code, err: message },
        'deploy failed; it will be retried on the next run without a new order',
      );
      await appendHistory(deps, {
        cert: name,
        action: 'deploy',
        result: 'failure',
        serial,
        notAfter,
        durationMs: elapsed(sinkStarted),
        error: message,
        code: error.code,
        sink: sinkName,
      });
      // Sinks are independent (two ACM regions: one failing must not hold back the other),
      // except after a sink that writes files: later hooks would read the old files.
      failure ??= { message, code: error.code, sink: sinkName, stopsLater: false };
      if (sink.writesFiles === true || error.code === 'CANCELLED') failure.stopsLater = true;
    }
  }
  if (failure) {
    // A deploy cut short by shutdown is not a failure of the certificate: it stays pending.
    if (failure.code !== 'CANCELLED') {
      record = failed(record, 'deploy', failure.message, deps, name);
      await deps.store.putRecord(name, record);
    }
    return done({ result: 'failure', error: failure.message, code: failure.code, failedSink: failure.sink });
  }
  if (plan.action === 'deploy') {
    record = recordSuccess(record, { action: 'deploy', now: deps.clock.now() });
    await deps.store.putRecord(name, record);
  }
  // The `verify` step (src/verify): what the endpoints serve now; a failure never rolls back.
  return done({ result: 'success', ...(await verifyAfterDeploy(plan.spec, current, deployed, deps, signal)) });
}
