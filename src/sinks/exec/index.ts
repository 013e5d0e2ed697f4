// The exec sink: runs an operator command (argv, no shell) after a certificate is issued or
// redeployed, typically to reload a server. Data reaches it only through CERTKEEPER_* variables;
// a non-zero exit or a timeout fails the deploy (HOOK_FAILED / HOOK_TIMEOUT from core/exec).

import { runCommand } from '../../core/exec.js';
import type { DeployRequest, DeployResult, Sink, SinkContext } from '../contract.js';
import type { ExecSinkConfig } from './schema.js';

/** The hook environment contract (README: "Hook environment"). */
export function execSinkEnv(request: DeployRequest): Record<string, string> {
  return {
    CERTKEEPER_CERT_NAME: request.certName,
    CERTKEEPER_DOMAINS: request.domains.join(' '),
    CERTKEEPER_SERIAL: request.serial,
    CERTKEEPER_NOT_AFTER: request.notAfter.toISOString(),
    CERTKEEPER_CERT_PATH: request.paths.cert,
    CERTKEEPER_CHAIN_PATH: request.paths.chain,
    CERTKEEPER_FULLCHAIN_PATH: request.paths.fullchain,
    CERTKEEPER_KEY_PATH: request.paths.key,
  };
}

export function createExecSink(config: ExecSinkConfig, ctx: SinkContext): Sink {
  return {
    name: ctx.name,
    type: 'exec',
    async deploy(request: DeployRequest, signal?: AbortSignal): Promise<DeployResult> {
      // The contract variables come last: configured env may add variables, not fake these.
      const result = await runCommand(config.command, {
        env: { ...config.env, ...execSinkEnv(request) },
        inheritEnv: config.inheritEnv,
        timeoutMs: config.timeout,
        label: `sink "${ctx.name}"`,
        ...(config.cwd ? { cwd: config.cwd } : {}),
        ...(signal ? { signal } : {}),
      });
      // Output is not logged: a hook may print what it read, including key material.
      ctx.logger.debug({ cert: request.certName, command: config.command[0], durationMs: result.durationMs }, 'sink command succeeded');
      return { detail: `ran ${config.command[0]} (${result.durationMs} ms)` };
    },
  };
}
