// `certkeeper doctor`: builds the list of checks for a config (config-wide ones, per issuer ACME
// ones and, per selected certificate, DNS, stored-certificate and sink ones), runs them all at once, each under its own deadline, and
// returns every line in a stable order. Nothing is written anywhere.

import { describeError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Config } from '../config/load.js';
import { systemResolvers } from '../dns/resolver.js';
import type { StateStore } from '../state/contract.js';
import { acmeAccountCheck, acmeDirectoryCheck, clockCheck } from './acme.js';
import { configuredIssuers } from '../config/issuers.js';
import { fail, type Check, type CheckResult, type DoctorContext } from './contract.js';
import { configWarningsCheck } from './config-warnings.js';
import { certificateDnsCheck, challengeNames, dnsCredentialsCheck } from './dns.js';
import { sinkCheck } from './sinks.js';
import { storedCertificateCheck } from './state.js';
import { notifyDeliveryCheck } from './notify.js';
import { stateStoreCheck } from './state-store.js';
import { currentIdentity, currentSystemdHost } from './identity.js';

export type { CheckResult, CheckStatus } from './contract.js';

export interface DoctorOptions {
  config: Config;
  store: StateStore;
  clock: Clock;
  logger: Logger;
  /** Only these certificates' checks (config-wide checks always run). */
  certs?: string[] | undefined;
  /** Deadline of each check (default 15 s). */
  checkTimeoutMs?: number | undefined;
  /** Per DNS exchange (default 3 s). */
  dnsTimeoutMs?: number | undefined;
}

export interface DoctorReport {
  ok: boolean;
  counts: Record<'pass' | 'warn' | 'fail', number>;
  checks: CheckResult[];
}

export function doctorChecks(config: Config, certs?: string[]): Check[] {
  const selected = certs && certs.length > 0 ? config.certificates.filter((c) => certs.includes(c.name)) : config.certificates;
  // Every CA is checked, not only the first: a fallback issuer that is broken fails exactly when it is needed.
  const issuers = configuredIssuers(config);
  const checks: Check[] = [configWarningsCheck(config), stateStoreCheck(), notifyDeliveryCheck()];
  checks.push(...issuers.flatMap((issuer) => [acmeDirectoryCheck(issuer, issuers), clockCheck(issuer, issuers), acmeAccountCheck(issuer, issuers)]));
  for (const [name, provider] of Object.entries(config.dns)) {
    const user = config.certificates.find((c) => c.dns === name);
    checks.push(dnsCredentialsCheck(name, provider, user ? challengeNames(user)[0] : undefined));
  }
  for (const spec of selected) {
    checks.push(certificateDnsCheck(spec), storedCertificateCheck(spec));
    for (const sinkName of spec.sinks) {
      const sink = config.sinks[sinkName];
      if (sink) checks.push(sinkCheck(spec, sinkName, sink));
    }
  }
  return checks;
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const timeoutMs = options.checkTimeoutMs ?? 15_000;
  const controller = new AbortController();
  const ctx: DoctorContext = {
    config: options.config,
    store: options.store,
    clock: options.clock,
    logger: options.logger,
    resolvers: options.config.resolvers ?? systemResolvers(),
    dnsTimeoutMs: options.dnsTimeoutMs ?? 3_000,
    signal: controller.signal,
    // Once per run: the sink checks ask "may this user chown / reload?" (ownership.ts, hook-permission.ts).
    identity: currentIdentity(),
    systemd: currentSystemdHost(),
  };
  const checks = doctorChecks(options.config, options.certs);
  try {
    const results = await Promise.all(checks.map((check) => runBounded(check, ctx, timeoutMs)));
    const flat = results.flat();
    const counts = { pass: 0, warn: 0, fail: 0 };
    for (const r of flat) counts[r.status]++;
    return { ok: counts.fail === 0, counts, checks: flat };
  } finally {
    controller.abort(); // whatever a timed-out check still had in flight
  }
}

/** One check, turned into a fail line when it throws or outlives its deadline. */
async function runBounded(check: Check, ctx: DoctorContext, timeoutMs: number): Promise<CheckResult[]> {
  let timer: NodeJS.Timeout | undefined;
  // A real timer, not the injected clock: this bounds wall time even when a test clock stands still.
  const deadline = new Promise<CheckResult[]>((resolve) => {
    timer = setTimeout(() => resolve([fail(check.name, `${check.subject ?? ''}no result within ${Math.round(timeoutMs / 1000)} s`, check.cert)]), timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([
      check.run(ctx).catch((error: unknown) => [fail(check.name, `${check.subject ?? ''}${describeError(error)}`, check.cert)]),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
