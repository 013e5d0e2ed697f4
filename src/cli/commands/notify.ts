// `certkeeper notify test [TARGET]`: sends a clearly marked test alert to every notify target (or
// the named one) and says, per target, whether the receiver took it. Exit 0 when all delivered,
// 1 otherwise. Nothing is queued or remembered; a running agent is not involved.

import { CertkeeperError } from '../../core/errors.js';
import { buildNotifyTargets } from '../../observe/notify/registry.js';
import { sendTestAlerts } from '../../observe/notify/test-alert.js';
import { commandLogger, EXIT_FAILED, EXIT_OK, loadConfig, type CommandIo, type GlobalOptions } from '../context.js';

export async function notifyTestCommand(name: string | undefined, options: { json?: boolean }, global: GlobalOptions, io: CommandIo): Promise<number> {
  const config = loadConfig(global, io);
  const { logger, flush } = commandLogger(global, io, config);
  const all = buildNotifyTargets(config.daemon.notify, { logger });
  if (all.length === 0) throw new CertkeeperError('USAGE', `${config.file} has no notify: targets to test`, { retryable: false });
  const targets = name === undefined ? all : all.filter((target) => target.name === name);
  if (targets.length === 0) {
    throw new CertkeeperError('USAGE', `no notify target named "${name}" (configured: ${all.map((target) => target.name).join(', ')})`, { retryable: false });
  }
  const results = await sendTestAlerts(targets, io.clock);
  if (options.json) {
    io.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  } else {
    for (const result of results) {
      const what = result.delivered ? `delivered in ${result.durationMs} ms` : `NOT delivered: ${result.error ?? 'unknown error'}`;
      io.stdout.write(`${result.delivered ? 'OK    ' : 'FAILED'}  ${result.target} (${result.type})  ${what}\n`);
    }
    const delivered = results.filter((result) => result.delivered).length;
    io.stdout.write(`${delivered} of ${results.length} target(s) delivered the test alert\n`);
  }
  flush();
  return results.every((result) => result.delivered) ? EXIT_OK : EXIT_FAILED;
}
