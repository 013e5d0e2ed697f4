// The exec notifier: runs an operator command (argv, no shell) with the event in CERTKEEPER_*
// variables. A non-zero exit is a failed delivery (retried); output is never logged.

import { runCommand } from '../../../core/exec.js';
import type { AgentEvent } from '../../events.js';
import type { Notifier, NotifierContext } from '../contract.js';
import type { ExecNotifyConfig } from './schema.js';

/** The notifier environment contract (README: "Notifications"); absent values are empty strings. */
export function execNotifyEnv(event: AgentEvent): Record<string, string> {
  return {
    CERTKEEPER_EVENT: event.type,
    CERTKEEPER_SEVERITY: event.severity,
    CERTKEEPER_CERT_NAME: event.cert,
    CERTKEEPER_DOMAINS: event.domains.join(' '),
    CERTKEEPER_MESSAGE: event.message,
    CERTKEEPER_SERIAL: event.serial ?? '',
    CERTKEEPER_NOT_AFTER: event.notAfter ?? '',
    CERTKEEPER_ERROR: event.error ?? '',
    CERTKEEPER_SINK: event.sink ?? '',
    CERTKEEPER_AT: event.at,
    /** The whole event, for scripts that want every field. */
    CERTKEEPER_EVENT_JSON: JSON.stringify(event),
  };
}

export function createExecNotifier(config: ExecNotifyConfig, ctx: NotifierContext): Notifier {
  return {
    name: ctx.name,
    type: 'exec',
    async send(event: AgentEvent, signal: AbortSignal): Promise<void> {
      // The contract variables come last: configured env may add variables, not fake these.
      const result = await runCommand(config.command, {
        env: { ...config.env, ...execNotifyEnv(event) },
        inheritEnv: config.inheritEnv,
        timeoutMs: config.timeout,
        signal,
        label: `notify target "${ctx.name}"`,
        ...(config.cwd ? { cwd: config.cwd } : {}),
      });
      ctx.logger.debug({ target: ctx.name, command: config.command[0], durationMs: result.durationMs }, 'notify command succeeded');
    },
  };
}
