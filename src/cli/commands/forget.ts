// `certkeeper forget NAME`: removes what the state store keeps for a certificate that is no longer
// in the config — its stored versions and key, record, per-certificate data and the hooks' copy —
// so it is no longer reported. Files it deployed to sinks stay: they are the servers' now.

import { CertkeeperError } from '../../core/errors.js';
import { stateStore } from '../state.js';
import { commandLogger, EXIT_OK, loadConfig, type CommandIo, type GlobalOptions } from '../context.js';

export async function forgetCommand(name: string, global: GlobalOptions, io: CommandIo): Promise<number> {
  const config = loadConfig(global, io);
  if (config.certificates.some((c) => c.name === name)) {
    throw new CertkeeperError(
      'USAGE',
      `"${name}" is still in the config: remove it from certificates: first (forget only cleans up after a certificate that is gone)`,
      { retryable: false },
    );
  }
  const { logger, flush } = commandLogger(global, io, config);
  const store = await stateStore(config, io.clock, logger);
  const lock = await store.lockCertificate(name, { purpose: 'order', waitMs: 60_000 });
  let removed: number;
  try {
    removed = await store.forgetCertificate(name);
  } finally {
    await lock.release();
  }
  io.stdout.write(
    removed > 0 ? `forgot ${name}: ${removed} stored value(s) removed; files deployed to its sinks are left as they are\n` : `nothing stored for ${name}\n`,
  );
  flush();
  return EXIT_OK;
}
