// `certkeeper --config A state copy --to B`: copies everything the state store of config A holds
// into the store of config B (state/copy.ts), e.g. a file store into PostgreSQL when a second
// machine joins, or back. A's store is only read; B must be empty unless --merge.

import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CertkeeperError } from '../../core/errors.js';
import { registerSecrets } from '../../core/redaction.js';
import { loadConfigFile, type Config } from '../../config/load.js';
import type { CopyReport, CopySide } from '../../state/copy.js';
import { commandLogger, EXIT_FAILED, EXIT_OK, loadConfig, type CommandIo, type GlobalOptions } from '../context.js';
import { renderTable, shortTime } from '../table.js';

export interface StateCopyOptions {
  to?: string;
  merge?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

export async function stateCopyCommand(options: StateCopyOptions, global: GlobalOptions, io: CommandIo): Promise<number> {
  if (!options.to) throw new CertkeeperError('USAGE', 'state copy needs --to CONFIG: the config whose state store receives the copy', { retryable: false });
  const source = loadConfig(global, io);
  const target = loadConfigFile(path.resolve(options.to), { env: io.env });
  registerSecrets(target.secrets); // before anything can fail with them
  const { logger, flush } = commandLogger(global, io, source);
  const { copyState, sealerOf } = await import('../../state/copy.js');
  const { fileStorageRoot, openStateStore } = await import('../../state/open.js');
  const opened: CopySide[] = [];
  try {
    const open = async (config: Config, role: 'source' | 'target'): Promise<CopySide | undefined> => {
      const { state } = config;
      const dryRun = options.dryRun === true;
      if (state.type === 'file' && !(await fs.stat(fileStorageRoot(state.dir)).catch(() => undefined))) {
        // A source is only read: one not in the storage layout yet is not made so here.
        if (role === 'source') {
          throw new CertkeeperError(
            'USAGE',
            `the source ${state.dir} holds no state store (${fileStorageRoot(state.dir)} is missing): nothing to copy (a 0.1 folder is copied into that layout when certkeeper 0.2 first runs with its config, e.g. \`certkeeper status\`)`,
            { retryable: false },
          );
        }
        if (dryRun) return undefined; // an empty target, not created by a dry run
      }
      const store = await openStateStore({ state, agentId: config.agentId, clock: io.clock, logger }, { migrate: role === 'target' && !dryRun });
      const side = { store, sealer: sealerOf(state) };
      opened.push(side);
      return side;
    };
    const from = (await open(source, 'source'))!;
    const to = await open(target, 'target');
    const report = await copyState(from, to, {
      merge: options.merge === true,
      dryRun: options.dryRun === true,
      ...(target.state.type === 'file' ? { targetDescription: `file:${fileStorageRoot(target.state.dir)}` } : {}),
    });
    io.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : renderCopy(report));
    flush();
    return report.failed.length > 0 ? EXIT_FAILED : EXIT_OK;
  } finally {
    for (const side of opened) await side.store.storage.close().catch(() => undefined);
  }
}

export function renderCopy(report: CopyReport): string {
  const verb = report.dryRun ? 'would copy' : 'copied';
  const out: string[] = [`${report.dryRun ? 'dry run: nothing written. ' : ''}${report.from} → ${report.to}${report.merge ? ' (merge)' : ''}\n\n`];
  if (report.certificates.length > 0) {
    out.push(
      renderTable(
        ['CERTIFICATE', 'SERIAL', 'NOT AFTER', 'ACTION', 'WHY'],
        report.certificates.map((c) => [c.name, c.serial ?? '-', shortTime(c.notAfter), c.action, c.reason ?? '']),
      ),
      '\n',
    );
  }
  out.push(
    renderTable(
      ['WHAT', verb.toUpperCase()],
      Object.entries(report.copied).map(([kind, n]) => [kind, String(n)]),
    ),
  );
  if (report.kept.length > 0) out.push(`\nkept as the target has it:\n${report.kept.map((line) => `  - ${line}\n`).join('')}`);
  if (report.failed.length > 0) out.push(`\nnot copied:\n${report.failed.map((line) => `  - ${line}\n`).join('')}`);
  return out.join('');
}
