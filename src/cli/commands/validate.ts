// `certkeeper validate`: check the config and say what is wrong, with the YAML path of each problem,
// and what it weakens (config warnings: valid, exit 0, but printed). With --json a bad config is
// reported on stdout too, as `{ valid: false, file, problems }` with exit 2, for tools to read.

import path from 'node:path';
import { ConfigError } from '../../config/load.js';
import { configPath, EXIT_OK, EXIT_USAGE, loadConfig, type CommandIo, type GlobalOptions } from '../context.js';

export function validateCommand(options: { json?: boolean }, global: GlobalOptions, io: CommandIo): number {
  let config;
  try {
    config = loadConfig(global, io); // throws ConfigError → exit 2 with every problem listed
  } catch (error) {
    if (!options.json || !(error instanceof ConfigError)) throw error;
    const file = path.resolve(configPath(global, io.env));
    io.stdout.write(`${JSON.stringify({ valid: false, file, problems: error.problems }, null, 2)}\n`);
    return EXIT_USAGE;
  }
  const summary = {
    valid: true,
    file: config.file,
    stateDir: config.stateDir,
    directory: config.acme.directoryUrl,
    certificates: config.certificates.map((c) => ({ name: c.name, domains: c.domains, dns: c.dns, sinks: c.sinks })),
    dns: Object.keys(config.dns),
    sinks: Object.keys(config.sinks),
    warnings: config.warnings ?? [],
  };
  if (options.json) {
    io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } else {
    io.stdout.write(
      `${config.file}: valid — ${config.certificates.length} certificate(s), ${summary.dns.length} DNS provider(s), ${summary.sinks.length} sink(s); CA ${config.acme.directoryUrl}${summary.warnings.length > 0 ? `; ${summary.warnings.length} warning(s)` : ''}\n`,
    );
    for (const warning of summary.warnings) io.stdout.write(`  warning: ${warning.path}: ${warning.message}\n`);
  }
  return EXIT_OK;
}
