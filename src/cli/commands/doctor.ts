// `certkeeper doctor`: pre-flight checks that change nothing (see src/doctor/). One line per
// check; exit 1 when any check fails, 0 otherwise (warnings included).

import { ConfigError } from '../../config/load.js';
import { selectCertificates } from '../../config/select.js';
import { runDoctor, type CheckResult, type DoctorReport } from '../../doctor/index.js';
import { stateStoreForReading } from '../state.js';
import { commandLogger, EXIT_FAILED, EXIT_OK, loadConfig, type CommandIo, type GlobalOptions } from '../context.js';

export interface DoctorCommandOptions {
  cert?: string[];
  json?: boolean;
}

export async function doctorCommand(options: DoctorCommandOptions, global: GlobalOptions, io: CommandIo): Promise<number> {
  let report: DoctorReport;
  let config;
  try {
    config = loadConfig(global, io);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    report = { ok: false, counts: { pass: 0, warn: 0, fail: 1 }, checks: [{ name: 'config', status: 'fail', message: error.message }] };
    print(report, options, io);
    return EXIT_FAILED;
  }
  selectCertificates(config.certificates, options.cert); // USAGE for an unknown name
  // Logs only at warn and above by default: the report is the output.
  const logOptions = global.logLevel === undefined && io.env.CERTKEEPER_LOG_LEVEL === undefined ? { ...global, logLevel: 'warn' } : global;
  const { logger, flush } = commandLogger(logOptions, io, config, undefined, undefined, false); // its warnings are report lines
  // Read as it is: the doctor creates and copies nothing.
  const store = await stateStoreForReading(config, io.clock, logger);
  const checked = await runDoctor({ config, store, clock: io.clock, logger, certs: options.cert });
  report = {
    ...checked,
    checks: [{ name: 'config', status: 'pass', message: `${config.file} is valid (${config.certificates.length} certificate(s))` }, ...checked.checks],
  };
  report.counts.pass++;
  print(report, options, io);
  flush();
  return report.ok ? EXIT_OK : EXIT_FAILED;
}

const MARK: Record<CheckResult['status'], string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' };

function print(report: DoctorReport, options: DoctorCommandOptions, io: CommandIo): void {
  if (options.json) {
    io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  for (const check of report.checks) {
    io.stdout.write(`${MARK[check.status]}  ${check.name}${check.cert ? ` [${check.cert}]` : ''}  ${check.message.replace(/\s*\n\s*/g, '; ')}\n`);
  }
  io.stdout.write(`${report.counts.pass} passed, ${report.counts.warn} warning(s), ${report.counts.fail} failed\n`);
}
