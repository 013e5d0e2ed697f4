// `certkeeper revoke NAME`: revoke the current certificate through ACME, move its key out of the
// live path, and with --reissue order a new one with a fresh key and deploy it through every
// sink — one command for the hour after a key leaked. History records each step.

import { createInterface } from 'node:readline/promises';
import { CertkeeperError, describeError, toCertkeeperError } from '../../core/errors.js';
import type { HistoryEntry, StoredCertificate } from '../../core/types.js';
import { isRevocationReason, REVOCATION_REASONS, type RevocationReason } from '../../acme/revoke.js';
import type { StreamEvent } from '../../observe/stream.js';
import { selectCertificates } from '../../config/select.js';
import { renew, type RenewReport } from '../../engine/renew.js';
import { ProgressView } from '../progress.js';
import { wire } from '../wiring.js';
import { commandLogger, EXIT_FAILED, EXIT_OK, EXIT_USAGE, loadConfig, type CommandIo, type GlobalOptions } from '../context.js';

export interface RevokeCommandOptions {
  reason?: string;
  reissue?: boolean;
  yes?: boolean;
  json?: boolean;
}

/** Where the confirmation answer comes from (process.stdin unless a test gives one). */
export interface PromptInput {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
}

export interface RevokeReport {
  cert: string;
  serial: string;
  reason: RevocationReason;
  directoryUrl: string;
  revoked: boolean;
  alreadyRevoked: boolean;
  /** Where the revoked certificate and key were moved. */
  quarantinedTo: string | null;
  error: string | null;
  reissue: RenewReport | null;
}

export async function revokeCommand(
  name: string,
  options: RevokeCommandOptions,
  global: GlobalOptions,
  io: CommandIo,
  prompt: PromptInput = { input: process.stdin },
): Promise<number> {
  const reason = options.reason ?? 'unspecified';
  if (!isRevocationReason(reason)) {
    throw new CertkeeperError('USAGE', `--reason must be one of ${Object.keys(REVOCATION_REASONS).join(', ')}`, { retryable: false });
  }
  const config = loadConfig(global, io);
  selectCertificates(config.certificates, [name]); // USAGE when the name is not configured
  const interactive = io.stderr.isTTY === true && prompt.input.isTTY === true;
  if (!options.yes && !interactive) {
    io.stderr.write(`certkeeper: refusing to revoke "${name}" without confirmation: no terminal to ask on; pass --yes to revoke non-interactively\n`);
    return EXIT_USAGE;
  }
  const live = io.stderr.isTTY === true && !options.json;
  const view = live ? new ProgressView(io.stderr) : undefined;
  const logOptions = live && global.logLevel === undefined && io.env.CERTKEEPER_LOG_LEVEL === undefined ? { ...global, logLevel: 'warn' } : global;
  const { logger, flush } = commandLogger(logOptions, io, config, undefined, live ? true : undefined);
  const say = (line: string): void => {
    if (live) io.stderr.write(`${line}\n`);
    else logger.info({ cert: name }, line);
  };

  const deps = await wire(config, { clock: io.clock, logger, ...(view ? { onEvent: (event: StreamEvent) => view.onEvent(event) } : {}) });
  const stored = await deps.store.getCertificate(name);
  if (!stored) {
    io.stderr.write(`certkeeper: "${name}" has no current certificate to revoke${options.reissue ? ' (use "certkeeper renew --cert" to issue one)' : ''}\n`);
    flush();
    return EXIT_FAILED;
  }
  if (!options.yes) {
    const confirmed = await confirm(prompt.input, io.stderr, question(stored, reason, options.reissue === true));
    if (!confirmed) {
      io.stderr.write('not revoked\n');
      return EXIT_USAGE;
    }
  }

  const report: RevokeReport = {
    cert: name,
    serial: stored.info.serial,
    reason,
    directoryUrl: stored.directoryUrl,
    revoked: false,
    alreadyRevoked: false,
    quarantinedTo: null,
    error: null,
    reissue: null,
  };
  // The revocation and the quarantine happen under the state lock: no run may deploy or archive
  // the certificate in between. The reissue takes the lock itself afterwards.
  const lock = await deps.store.lock({ timeoutMs: 10 * 60_000 });
  const started = performance.now();
  try {
    say(`revoking ${name} (serial ${stored.info.serial}, reason ${reason}) at ${stored.directoryUrl}`);
    const { revokeCertificate } = await import('../../acme/revoke.js');
    // The CA that issued it, which need not be the first of `issuers:` (fallback, or the certificate's own list).
    const issuer = (config.issuers ?? []).find((candidate) => candidate.directoryUrl === stored.directoryUrl) ?? config.acme;
    const result = await revokeCertificate({
      directoryUrl: stored.directoryUrl,
      email: issuer.email,
      eab: issuer.eab,
      caBundlePem: issuer.caBundlePem,
      store: deps.store,
      clock: io.clock,
      logger: logger.child({ component: 'acme' }),
      certPem: stored.material.certPem,
      reason,
    });
    report.revoked = true;
    report.alreadyRevoked = result.alreadyRevoked;
    report.quarantinedTo = (await deps.store.quarantineCertificate(name)) ?? null;
    await appendHistory(deps.store, io, {
      cert: name,
      action: 'revoke',
      result: 'success',
      serial: stored.info.serial,
      notAfter: stored.info.notAfter.toISOString(),
      durationMs: elapsed(started),
      error: null,
      reason,
    });
    say(`${result.alreadyRevoked ? 'was already revoked' : 'revoked'}; certificate and key moved to ${report.quarantinedTo ?? '(nothing stored)'}`);
  } catch (thrown) {
    const error = toCertkeeperError(thrown, 'ACME_ERROR');
    report.error = describeError(error);
    await appendHistory(deps.store, io, {
      cert: name,
      action: 'revoke',
      result: 'failure',
      serial: stored.info.serial,
      notAfter: stored.info.notAfter.toISOString(),
      durationMs: elapsed(started),
      error: report.error,
      code: error.code,
      reason,
    });
    logger.error({ cert: name, code: error.code, err: report.error }, 'revocation failed');
  } finally {
    await lock.release();
  }

  if (report.revoked && options.reissue) {
    say(`reissuing ${name} with a fresh key`);
    view?.start();
    try {
      // The stored certificate is gone (quarantined), so this orders with a new key and deploys to every sink.
      report.reissue = await renew({ certs: [name], force: true, overrideBackoff: true }, deps);
    } finally {
      view?.stop();
    }
  } else if (report.revoked) {
    say(`no current certificate for ${name} now: the sinks still hold the revoked one until "certkeeper renew" (or the agent) issues a new one`);
  }

  if (options.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else if (live) io.stdout.write(`${summary(report)}\n`);
  else logger.info({ cert: name, serial: report.serial, revoked: report.revoked, reissued: report.reissue?.succeeded === 1 }, summary(report));
  flush();
  const failed = !report.revoked || (report.reissue !== null && report.reissue.failed > 0);
  return failed ? EXIT_FAILED : EXIT_OK;
}

function question(stored: StoredCertificate, reason: RevocationReason, reissue: boolean): string {
  return (
    `Revoke certificate "${stored.name}" (serial ${stored.info.serial}, ${stored.info.domains.join(' ')}, expires ${stored.info.notAfter.toISOString()}) ` +
    `with reason ${reason}${reissue ? ', then issue and deploy a new one' : ''}? This cannot be undone. [y/N] `
  );
}

async function confirm(input: NodeJS.ReadableStream, output: NodeJS.WritableStream, text: string): Promise<boolean> {
  const rl = createInterface({ input, output, terminal: false });
  try {
    const answer = await rl.question(text);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

function summary(report: RevokeReport): string {
  if (!report.revoked) return `revocation of ${report.cert} failed: ${report.error ?? 'unknown error'}`;
  const head = `${report.cert}: serial ${report.serial} ${report.alreadyRevoked ? 'was already revoked' : 'revoked'} (${report.reason})`;
  if (!report.reissue) return head;
  const outcome = report.reissue.outcomes[0];
  if (!outcome || outcome.result !== 'success') return `${head}; reissue FAILED: ${outcome?.error ?? 'no outcome'}`;
  return `${head}; reissued as ${outcome.serial ?? '?'}${outcome.deployed.length > 0 ? `, deployed to ${outcome.deployed.join(', ')}` : ''}`;
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}

async function appendHistory(store: { appendHistory(entry: HistoryEntry): Promise<void> }, io: CommandIo, entry: Omit<HistoryEntry, 'at'>): Promise<void> {
  await store.appendHistory({ at: io.clock.now().toISOString(), ...entry }).catch(() => undefined);
}
