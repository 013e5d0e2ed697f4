// `certkeeper renew`: renew what is due (or the named certificates), deploy, record.

import { describeError } from '../../core/errors.js';
import type { StreamEvent, CertOutcome } from '../../observe/stream.js';
import { runLog } from '../../observe/log-subscriber.js';
import { renew, type RenewReport } from '../../engine/renew.js';
import { dryRunTarget } from '../../engine/rehearse.js';
import { formatDuration } from '../../core/duration.js';
import { ProgressView } from '../progress.js';
import { oneLine, renderTable, shortTime } from '../table.js';
import { wire } from '../wiring.js';
import { confirm, type PromptInput } from '../confirm.js';
import { commandLogger, EXIT_FAILED, EXIT_OK, EXIT_USAGE, loadConfig, type CommandIo, type GlobalOptions } from '../context.js';

export interface RenewCommandOptions {
  cert?: string[];
  force?: boolean;
  /** With --force: spend the last order of the duplicate-certificate budget too. */
  yes?: boolean;
  dryRun?: boolean;
  json?: boolean;
  /** Warnings and errors only: no progress, no table, no summary. */
  quiet?: boolean;
  /** Why (an incident, a key compromise): kept in each order's history line. */
  reason?: string;
}

export async function renewCommand(
  options: RenewCommandOptions,
  global: GlobalOptions,
  io: CommandIo,
  prompt: PromptInput = { input: process.stdin },
): Promise<number> {
  const config = loadConfig(global, io);
  // Forcing every certificate at once is an incident's tool (a mass revocation, a compromised
  // key): it asks first. --yes answers every question renew would ask, this one and the
  // duplicate-certificate budget's last order (RenewCommandOptions.yes) alike. A config with one
  // certificate makes --force the same as --cert NAME --force: nothing fleet-wide to confirm.
  const fleet = options.force === true && (options.cert ?? []).length === 0 && options.dryRun !== true && config.certificates.length > 1;
  if (fleet && !options.yes) {
    const count = config.certificates.length;
    if (io.stderr.isTTY !== true || prompt.input.isTTY !== true) {
      io.stderr.write(
        `certkeeper: refusing to force-renew all ${count} certificate${count === 1 ? '' : 's'} without confirmation: no terminal to ask on; pass --yes to go ahead (it also lets a forced order spend the last unit of a CA's duplicate-certificate budget), or --cert NAME for some\n`,
      );
      return EXIT_USAGE;
    }
    const question = `Order a new certificate for all ${count} configured certificate${count === 1 ? '' : 's'} now, due or not${options.reason ? ` (reason: ${options.reason})` : ''}? Orders that would spend the last unit of a CA's duplicate-certificate budget are still refused (--yes spends it). [y/N] `;
    if (!(await confirm(prompt.input, io.stderr, question))) {
      io.stderr.write('nothing renewed\n');
      return EXIT_USAGE;
    }
  }
  const live = io.stderr.isTTY === true && !options.json && !options.quiet;
  const view = live ? new ProgressView(io.stderr) : undefined;
  const runStarted = performance.now();
  // On a terminal the progress view shows every step, and --quiet asks for problems only: logs
  // default to warnings then. (Without a terminal, a run with nothing to do logs nothing: see runLogLine.)
  const levelChosen = global.logLevel !== undefined || io.env.CERTKEEPER_LOG_LEVEL !== undefined;
  // A fleet run without a terminal says what failed, then one summary line: warnings and up too.
  const summaryOnly = fleet && !live && !options.json && !options.quiet;
  const logOptions = (live || options.quiet || summaryOnly) && !levelChosen ? { ...global, logLevel: 'warn' } : global;
  const { logger, flush } = commandLogger(logOptions, io, config, view ? { write: (line) => view.log(line) } : undefined, live ? true : undefined);
  // Without a terminal the log hears the run (observe/log-subscriber.ts); a fleet run only its failures.
  const onEvent = view ? (event: StreamEvent) => view.onEvent(event) : runLog(logger, summaryOnly ? { failuresOnly: true } : {});

  // First Ctrl-C / SIGTERM: abort in-flight work cleanly (TXT records removed); second: exit now.
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) process.exit(130);
    logger.warn({ signal }, 'stopping: aborting in-flight orders and cleaning up (signal again to exit at once)');
    controller.abort(new Error(`received ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  view?.start();
  let report: RenewReport;
  try {
    const deps = await wire(config, { clock: io.clock, logger, onEvent });
    report = await renew(
      {
        certs: options.cert ?? [],
        overrideBackoff: (options.cert ?? []).length > 0,
        force: options.force ?? false,
        yes: options.yes ?? false,
        dryRun: options.dryRun ?? false,
        signal: controller.signal,
        ...(options.reason ? { note: options.reason } : {}),
      },
      deps,
    );
    // This agent ran: recorded (hourly at most), so agents sharing the store keep its local deploy records.
    await deps.store.markAgentSeen?.().catch((error: unknown) => logger.warn({ err: describeError(error) }, 'cannot record in the store that this agent runs'));
  } finally {
    view?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  // A dry run went to the rehearsal directory (a staging twin when one is known or configured).
  // (Per certificate, each outcome's message names the directory its dry run used.)
  const directoryUrl = options.dryRun ? dryRunTarget(config, options.cert?.length === 1 ? options.cert[0] : undefined).directoryUrl : config.acme.directoryUrl;
  if (options.json) {
    io.stdout.write(`${JSON.stringify({ ...report, directoryUrl, dryRun: options.dryRun ?? false }, null, 2)}\n`);
  } else if (summaryOnly) {
    const summary = {
      summary: 'renew --force',
      certificates: report.outcomes.length,
      succeeded: report.succeeded,
      failed: report.failed,
      skipped: report.skipped,
      durationMs: Math.round(performance.now() - runStarted),
      ...(options.reason ? { reason: options.reason } : {}),
      directory: directoryUrl,
      failures: report.outcomes.filter((o) => o.result === 'failure').map((o) => ({ cert: o.cert, code: o.code ?? null })),
    };
    io.stdout.write(`${JSON.stringify(summary)}\n`);
  } else if (live) {
    io.stdout.write(summaryTable(report.outcomes));
    io.stdout.write(`${summaryLine(report)}${options.dryRun ? ` (dry run against ${directoryUrl})` : ''}\n`);
  } else {
    // A run that did nothing says nothing (cron mails whatever a job prints); --log-level debug shows it.
    const didSomething = report.outcomes.some((o) => o.result !== 'skipped' || o.reason === 'backoff');
    const fields = {
      succeeded: report.succeeded,
      failed: report.failed,
      skipped: report.skipped,
      backingOff: backingOff(report).length,
      dryRun: options.dryRun ?? false,
      directory: directoryUrl,
    };
    logger[didSomething ? 'info' : 'debug'](fields, `${summaryLine(report)}${options.dryRun ? ` (dry run against ${directoryUrl})` : ''}`);
  }
  flush();
  // Exit 1 while any selected certificate is failing: failed now, backing off after earlier
  // failures, or (with verify: endpoints) deployed but not served, though it is kept.
  return report.failed > 0 || backingOff(report).length > 0 || report.outcomes.some((o) => o.verify?.ok === false) ? EXIT_FAILED : EXIT_OK;
}

/** Certificates skipped only because earlier failures put them in backoff: still failing. */
function backingOff(report: RenewReport): CertOutcome[] {
  return report.outcomes.filter((o) => o.result === 'skipped' && o.reason === 'backoff');
}

function summaryLine(report: RenewReport): string {
  const waiting = backingOff(report).length;
  const notDue = report.skipped - waiting;
  return `${report.succeeded} succeeded, ${report.failed} failed${waiting > 0 ? `, ${waiting} backing off after failures` : ''}, ${notDue} not due`;
}

function summaryTable(outcomes: CertOutcome[]): string {
  if (outcomes.length === 0) return 'no certificates configured\n';
  return renderTable(
    ['CERTIFICATE', 'RESULT', 'ACTION', 'SERIAL', 'NOT AFTER', 'TIME', 'DETAIL'],
    outcomes.map((o) => [
      o.cert,
      o.result === 'skipped' ? (o.reason === 'backoff' ? 'backing off' : 'not due') : o.result,
      o.action,
      o.serial ? o.serial.slice(0, 16) : '-',
      shortTime(o.notAfter),
      o.result === 'skipped' ? '-' : formatDuration(o.durationMs),
      o.result === 'failure'
        ? oneLine(`${o.failedSink ? `sink ${o.failedSink}: ` : ''}${o.error ?? ''}`)
        : o.verify && !o.verify.ok
          ? oneLine(`verify failed (serving: ${o.verify.serving}): ${o.verify.error ?? ''}`)
          : o.deployed.length > 0
            ? `deployed: ${o.deployed.join(', ')}${o.verify ? '; verified' : ''}`
            : o.message,
    ]),
  );
}
