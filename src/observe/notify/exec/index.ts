// The exec notifier: runs an operator command (argv, no shell) with the alert in CERTKEEPER_*
// variables. A non-zero exit is a failed delivery (retried); output is never logged.

import { runCommand } from '../../../core/exec.js';
import { alertDocument, type Alert } from '../alert.js';
import type { Notifier, NotifierContext } from '../contract.js';
import type { ExecNotifyConfig } from './schema.js';

/** Linux refuses one environment string over 128 KiB (MAX_ARG_STRLEN): lists stay well under. */
const LIST_LIMIT = 64 * 1024;
const JSON_LIMIT = 100 * 1024;

/** Names joined by a space, cut at whole names with " …" when over the limit. */
function joined(values: readonly string[], limit = LIST_LIMIT): string {
  let out = '';
  for (const value of values) {
    const next = out === '' ? value : `${out} ${value}`;
    if (next.length > limit) return `${out} …`;
    out = next;
  }
  return out;
}

/** The whole alert as JSON, its per-certificate list shortened until it fits one variable. */
function documentJson(alert: Alert): string {
  let max = alert.events.length;
  let text = JSON.stringify(alertDocument(alert));
  while (text.length > JSON_LIMIT && max > 0) {
    max = Math.floor((max * JSON_LIMIT) / text.length / 2);
    text = JSON.stringify({ ...alertDocument(alert, max), certs: undefined, certsOmitted: true });
  }
  return text;
}

/** The notifier environment contract (README: "Notifications"); absent values are empty strings. */
export function execNotifyEnv(alert: Alert): Record<string, string> {
  const single = alert.events.length === 1 && alert.coalesced === 0 ? alert.events[0]! : undefined;
  const domains = [...new Set(alert.events.flatMap((event) => event.domains))];
  return {
    CERTKEEPER_EVENT: alert.type,
    CERTKEEPER_SEVERITY: alert.severity,
    /** The certificate; for a group, every name space-separated (as CERTKEEPER_CERTS). */
    CERTKEEPER_CERT_NAME: joined(alert.certs),
    CERTKEEPER_CERTS: joined(alert.certs),
    CERTKEEPER_CERT_COUNT: String(alert.certs.length),
    CERTKEEPER_GROUP: single || alert.type === 'test' ? '' : '1',
    CERTKEEPER_TEST: alert.type === 'test' ? '1' : '',
    CERTKEEPER_DOMAINS: joined(domains),
    CERTKEEPER_MESSAGE: alert.message,
    CERTKEEPER_SERIAL: single?.serial ?? '',
    CERTKEEPER_NOT_AFTER: single?.notAfter ?? '',
    CERTKEEPER_ERROR: alert.events.find((event) => event.error)?.error ?? '',
    CERTKEEPER_SINK: single?.sink ?? alert.cause?.sink ?? '',
    CERTKEEPER_CAUSE: alert.cause?.label ?? '',
    CERTKEEPER_AT: alert.at,
    /** The whole alert, as the webhook sends it, for scripts that want every field. */
    CERTKEEPER_EVENT_JSON: documentJson(alert),
  };
}

export function createExecNotifier(config: ExecNotifyConfig, ctx: NotifierContext): Notifier {
  return {
    name: ctx.name,
    type: 'exec',
    async send(alert: Alert, signal: AbortSignal): Promise<void> {
      // The contract variables come last: configured env may add variables, not fake these.
      const result = await runCommand(config.command, {
        env: { ...config.env, ...execNotifyEnv(alert) },
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
