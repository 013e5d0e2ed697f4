// `certkeeper verify [--cert NAME]`: connects to each certificate's `verify:` endpoints now and
// checks that they serve the stored (current) certificate. Recorded like the pipeline's verify
// step (history action `verify`, `status` serving column), but it only checks: no deploy hook is
// re-run. `--settle` waits each endpoint's settle time for a reload in progress. Exit 0 when all
// serve the current certificate, 1 otherwise, 2 on a usage error.

import { CertkeeperError } from '../../core/errors.js';
import { selectCertificates } from '../../config/select.js';
import { verifyCertificate, type VerifyReport } from '../../verify/deploy.js';
import { stateStore } from '../state.js';
import { commandLogger, EXIT_FAILED, EXIT_OK, loadConfig, type CommandIo, type GlobalOptions } from '../context.js';
import { oneLine, renderTable } from '../table.js';

export async function verifyCommand(options: { cert?: string[]; settle?: boolean; json?: boolean }, global: GlobalOptions, io: CommandIo): Promise<number> {
  const config = loadConfig(global, io);
  const named = options.cert ?? [];
  const selected = selectCertificates(config.certificates, named);
  const withoutEndpoints = selected.filter((spec) => !spec.verify?.length);
  if (named.length > 0 && withoutEndpoints.length > 0) {
    throw new CertkeeperError('USAGE', `no verify: endpoints configured for ${withoutEndpoints.map((s) => s.name).join(', ')}`, { retryable: false });
  }
  const targets = selected.filter((spec) => spec.verify?.length);
  const { logger, flush } = commandLogger(global, io, config);
  const store = await stateStore(config, io.clock, logger);
  const rows: { cert: string; report?: VerifyReport; error?: string }[] = [];
  for (const spec of targets) {
    const current = await store.getCertificate(spec.name).catch(() => undefined);
    if (!current) {
      rows.push({ cert: spec.name, error: 'no certificate stored yet (run certkeeper renew)' });
      continue;
    }
    const report = await verifyCertificate({
      spec,
      current,
      settle: options.settle ?? false,
      deps: {
        store,
        clock: io.clock,
        logger,
        sink: () => {
          throw new CertkeeperError('INTERNAL', 'verify re-runs no sink', { retryable: false });
        },
      },
    });
    if (report) rows.push({ cert: spec.name, report });
  }
  if (options.json) {
    io.stdout.write(
      `${JSON.stringify(
        rows.map((r) => r.report ?? { cert: r.cert, ok: false, error: r.error }),
        null,
        2,
      )}\n`,
    );
  } else if (rows.length === 0) {
    io.stdout.write('no certificate has verify: endpoints\n');
  } else {
    io.stdout.write(
      renderTable(
        ['CERTIFICATE', 'ENDPOINT', 'SERVING', 'SERVED SERIAL', 'EXPECTED', 'DETAIL'],
        rows.flatMap((row) =>
          row.report
            ? row.report.endpoints.map((e) => [
                row.cert,
                e.endpoint,
                e.serving,
                e.servedSerial?.slice(0, 16) ?? '-',
                row.report!.serial.slice(0, 16),
                oneLine(e.error ?? ''),
              ])
            : [[row.cert, '-', '-', '-', '-', row.error ?? '']],
        ),
      ),
    );
  }
  flush();
  return rows.every((r) => r.report?.ok === true) ? EXIT_OK : EXIT_FAILED;
}
