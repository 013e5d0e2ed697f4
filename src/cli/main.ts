#!/usr/bin/env node
// certkeeper's command line. Exit codes: 0 success or nothing due, 1 something failed,
// 2 a config or usage error.

import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { defaultIo, EXIT_USAGE, reportError, type CommandIo, type GlobalOptions } from './io.js';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function buildProgram(io: CommandIo, setExit: (code: number) => void): Command {
  const program = new Command('certkeeper')
    .description('Renews TLS certificates through ACME DNS-01, deploys them, and records every outcome.')
    .version(version())
    .option('-c, --config <path>', 'config file (env CERTKEEPER_CONFIG; default /etc/certkeeper/certkeeper.yaml)')
    .addOption(
      new Option('--log-level <level>', 'log level (env CERTKEEPER_LOG_LEVEL)').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
    )
    .addOption(
      new Option(
        '--log-format <format>',
        'log lines as JSON or human-readable (env CERTKEEPER_LOG_FORMAT; default: pretty on a terminal, JSON otherwise)',
      ).choices(['json', 'pretty']),
    )
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void io.stderr.write(s) });

  const global = (): GlobalOptions => program.opts<GlobalOptions>();

  program
    .command('renew')
    .description('renew what is due (or the named certificates; all with --force), deploy, record')
    .option('--cert <name>', 'only this certificate (repeatable); lifts its failure backoff', collect)
    .option('--force', 'renew even when not due')
    .option('--yes', "with --force: don't ask before renewing every certificate, and spend the last order of a CA's duplicate-certificate budget too")
    .option('--reason <text>', "why (an incident, a compromised key): kept in each order's history line")
    .option(
      '--dry-run',
      "rehearse against the staging CA (acme.stagingDirectory, else the known staging twin such as Let's Encrypt staging, else the CA itself): the whole ACME and DNS path, no sink written, the stored certificate kept",
    )
    .option('--json', 'print the report as JSON')
    .option('-q, --quiet', 'warnings and errors only (without a terminal, a run with nothing due already prints nothing)')
    .action(async (options: { cert?: string[]; force?: boolean; yes?: boolean; dryRun?: boolean; json?: boolean; quiet?: boolean; reason?: string }) => {
      const { renewCommand } = await import('./commands/renew.js');
      setExit(await renewCommand(options, global(), io));
    });

  program
    .command('run')
    .description('the always-on agent: renews on schedule, backs off failures, serves metrics, sends alerts (SIGHUP reloads)')
    .action(async () => {
      const { runCommand } = await import('./commands/run.js');
      setExit(await runCommand(global(), io));
    });

  program
    .command('reload')
    .description("ask a running agent to re-read its config (through http.listen's control endpoint)")
    .action(async () => {
      const { reloadCommand } = await import('./commands/run.js');
      setExit(await reloadCommand(global(), io));
    });

  program
    .command('healthcheck')
    .description(
      "ask a running agent's /healthz (at the config's http.listen) whether it is alive; exit 0 when it is or when no endpoint is configured, 1 when it does not answer",
    )
    .option('--url <url>', 'the health URL to ask instead of the one http.listen implies')
    .action(async (options: { url?: string }) => {
      const { healthcheckCommand } = await import('./commands/healthcheck.js');
      setExit(await healthcheckCommand(options, global(), io));
    });

  program
    .command('revoke')
    .description('revoke the current certificate through ACME and move its key out of the live path; --reissue orders and deploys a new one')
    .argument('<name>', 'the certificate')
    .addOption(
      new Option('--reason <reason>', 'revocation reason')
        .choices(['keyCompromise', 'superseded', 'cessationOfOperation', 'unspecified'])
        .default('unspecified'),
    )
    .option('--reissue', 'then issue a new certificate with a fresh key and deploy it through every sink')
    .option('--yes', 'do not ask for confirmation (required without a terminal)')
    .option('--json', 'print the report as JSON')
    .action(async (name: string, options: { reason?: string; reissue?: boolean; yes?: boolean; json?: boolean }) => {
      const { revokeCommand } = await import('./commands/revoke.js');
      setExit(await revokeCommand(name, options, global(), io));
    });

  program
    .command('forget')
    .description('remove what the state store keeps for a certificate no longer in the config (its deployed files stay)')
    .argument('<name>', 'the certificate, already removed from the config')
    .action(async (name: string) => {
      const { forgetCommand } = await import('./commands/forget.js');
      setExit(await forgetCommand(name, global(), io));
    });

  program
    .command('state')
    .description('the state store')
    .command('copy')
    .description(
      "copy everything this config's state store holds (certificates with their archive and keys, records, accounts, rate-limit state, history, agents' data) into the store of another config, e.g. a file store into PostgreSQL; keys are re-sealed with the target's encryptionKeyFile",
    )
    .requiredOption('--to <config>', 'the config whose state store receives the copy')
    .option('--merge', 'the target already holds certificates or accounts: add what it lacks, keeping a newer certificate there')
    .option('--dry-run', 'list what would be copied, write nothing')
    .option('--json', 'print the report as JSON')
    .action(async (options: { to: string; merge?: boolean; dryRun?: boolean; json?: boolean }) => {
      const { stateCopyCommand } = await import('./commands/state.js');
      setExit(await stateCopyCommand(options, global(), io));
    });

  program
    .command('doctor')
    .description('pre-flight checks that change nothing: config, CA, account, clock, DNS credentials and delegation, CAA, sinks')
    .option('--cert <name>', 'only this certificate (repeatable)', collect)
    .option('--json', 'print JSON')
    .action(async (options: { cert?: string[]; json?: boolean }) => {
      const { doctorCommand } = await import('./commands/doctor.js');
      setExit(await doctorCommand(options, global(), io));
    });

  program
    .command('status')
    .description('one row per certificate, the most urgent first: state, expiry, when it renews, last outcome (--wide: every column)')
    .argument('[name...]', 'only these certificates')
    .option('--wide', 'every column: days left, validity, renewal time and why, serial, domains, rehearsals, rate limits')
    .option('--json', 'print JSON')
    .option('--endpoints', 'the watch: endpoints as the daemon last probed them, instead of the certificates')
    .action(async (names: string[], options: { json?: boolean; endpoints?: boolean; wide?: boolean }) => {
      const { statusCommand } = await import('./commands/status.js');
      setExit(await statusCommand(names, options, global(), io));
    });

  program
    .command('report')
    .description('the status page as a static HTML file, read from the state store without a running agent')
    .requiredOption('--html <file>', 'write the page here (- for standard output)')
    .action(async (options: { html?: string }) => {
      const { reportCommand } = await import('./commands/report.js');
      setExit(await reportCommand(options, global(), io));
    });

  program
    .command('validate')
    .description('check the config and print every problem with its YAML path (and line), all in one run')
    .option('--json', 'print JSON on stdout, the problems too (exit 2)')
    .action(async (options: { json?: boolean }) => {
      const { validateCommand } = await import('./commands/validate.js');
      setExit(validateCommand(options, global(), io));
    });

  program
    .command('schema')
    .description("print the config's JSON Schema (for editors: a `# yaml-language-server: $schema=PATH` line at the top of the config)")
    .action(async () => {
      const { schemaCommand } = await import('./commands/schema.js');
      setExit(schemaCommand(io));
    });

  program
    .command('notify')
    .description('notification targets (notify:)')
    .command('test')
    .description('send a clearly marked test alert to every notify target (or the named one) and report delivery per target')
    .argument('[target]', 'only this target')
    .option('--json', 'print JSON')
    .action(async (target: string | undefined, options: { json?: boolean }) => {
      const { notifyTestCommand } = await import('./commands/notify.js');
      setExit(await notifyTestCommand(target, options, global(), io));
    });

  program
    .command('history')
    .description('recorded outcomes, newest first')
    .argument('[name]', 'only this certificate')
    .option('--json', 'print JSON')
    .option('--limit <n>', 'at most this many entries (default 50)')
    .action(async (name: string | undefined, options: { json?: boolean; limit?: string }) => {
      const { historyCommand } = await import('./commands/history.js');
      setExit(await historyCommand(name, options, global(), io));
    });

  program
    .command('verify')
    .description("check that each certificate's verify: endpoints serve the current certificate (records the outcome)")
    .option('--cert <name>', 'only this certificate (repeatable)', collect)
    .option('--settle', "keep retrying for each endpoint's settle time (a reload in progress)")
    .option('--json', 'print JSON')
    .action(async (options: { cert?: string[]; settle?: boolean; json?: boolean }) => {
      const { verifyCommand } = await import('./commands/verify.js');
      setExit(await verifyCommand(options, global(), io));
    });

  program
    .command('probe')
    .description('what TLS endpoints serve now: expiry, issuer, names, trust, name match (no config needed; without endpoints: watch:)')
    .argument('[endpoint...]', 'host:port (IPv6 as [::1]:443)')
    .option('--sni <name>', 'server name to send and check (default: the host)')
    .addOption(new Option('--protocol <protocol>', 'how to reach TLS').choices(['tls', 'starttls-smtp', 'starttls-imap', 'postgres']).default('tls'))
    .option('--ca-bundle <file>', 'extra CA certificates (PEM) to trust besides the system store')
    .option('--timeout <duration>', 'deadline per endpoint (default 10s)')
    .option('--concurrency <n>', 'probes in flight at once (default 100)')
    .option('--json', 'print JSON')
    .action(
      async (endpoints: string[], options: { sni?: string; protocol?: string; caBundle?: string; timeout?: string; concurrency?: string; json?: boolean }) => {
        const { probeCommand } = await import('./commands/probe.js');
        setExit(await probeCommand(endpoints, options, global(), io));
      },
    );

  for (const command of program.commands) addExitCodes(command, '');
  return program;
}

/** What exit codes 0 and 1 mean, per command (2 is always a config or usage error). */
const EXIT_CODES: Record<string, [ok: string, failed: string]> = {
  renew: [
    'every selected certificate is valid: renewed, deployed, or not due',
    'a certificate failed now, is backing off after earlier failures, or is deployed but not served (verify:)',
  ],
  run: [
    'stopped by SIGTERM or SIGINT',
    'a fatal error while starting, such as a state store that cannot be opened (a schedule that never fires, or an http.listen that cannot be bound, is a config error: 2)',
  ],
  reload: ['the agent re-read its config', 'no agent answered, or it rejected the config'],
  healthcheck: ['the agent answered /healthz, or the config has no http.listen', 'no agent answered, or not with 2xx'],
  revoke: ['revoked (and, with --reissue, reissued and deployed)', 'the CA refused or a step failed'],
  forget: ["the certificate's state is removed", 'the state store failed'],
  'state copy': [
    'everything was copied (or, with --merge, kept as the target had it newer)',
    'something could not be copied (damaged in the source; listed) or a store failed',
  ],
  doctor: ['every check passed (warnings allowed)', 'a check failed'],
  status: ['the status was read', 'the state store could not be read'],
  report: ['the page was written', 'the state store could not be read'],
  validate: ['the config is valid (warnings allowed)', '-'],
  schema: ['the schema was printed', '-'],
  'notify test': ['every target was delivered the test alert', 'a target was not'],
  history: ['the history was read', 'the state store could not be read'],
  verify: ['every endpoint serves the current certificate', 'an endpoint does not'],
  probe: ['every endpoint answered with a certificate that is trusted, matches and is not expired', 'one did not'],
};

function addExitCodes(command: Command, parent: string): void {
  const name = `${parent}${command.name()}`;
  for (const sub of command.commands) addExitCodes(sub, `${name} `);
  if (command.commands.length > 0) return;
  const [ok, failed] = EXIT_CODES[name] ?? ['success', 'failure'];
  const lines = [`  0  ${ok}`, ...(failed === '-' ? [] : [`  1  ${failed}`]), '  2  a config or usage error'];
  if (name === 'renew' || name === 'run') lines.push('  130  a second Ctrl-C or SIGTERM: stopped at once');
  if (name === 'state copy') lines[lines.length - 1] += ', or the target already holds certificates or accounts (without --merge)';
  command.addHelpText('after', `\nExit codes:\n${lines.join('\n')}\n`);
}

/**
 * On Node.js 20 the AWS SDK prints a multi-line notice to stderr when a client is created,
 * which breaks the JSON log stream; certkeeper says it once as a log line instead (wiring.ts).
 */
function quietAwsSdkNotice(env: NodeJS.ProcessEnv): void {
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

export async function main(argv: string[], io: CommandIo = defaultIo()): Promise<number> {
  quietAwsSdkNotice(process.env);
  let exitCode = 0;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help' ? 0 : EXIT_USAGE;
    }
    return reportError(error, io);
  } finally {
    // A database pool or listener would keep the process alive; loaded only if a command opened a store.
    const state = await import('./state.js');
    await state.closeStateStores().catch(() => undefined);
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
const invokedViaBin = process.argv[1]?.endsWith('/certkeeper') ?? false;
if (invokedDirectly || invokedViaBin) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`certkeeper: unexpected error: ${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
