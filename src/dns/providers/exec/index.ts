// The exec provider: an operator's program adds and removes the TXT record. It gets everything
// in environment variables (CERTKEEPER_ACTION, _DOMAIN, _FQDN, _VALUE); a non-zero exit or a
// timeout is a failed DNS update. Keeping sibling values and idempotent cleanup are its job.

import { CertkeeperError, isCertkeeperError } from '../../../core/errors.js';
import { runCommand } from '../../../core/exec.js';
import { KeyedQueue } from '../../../core/keyed-queue.js';
import type { DnsProvider, TxtRecord } from '../../contract.js';
import type { DnsProviderContext } from '../../registry.js';
import type { ExecDnsConfig } from './schema.js';

export class ExecDnsProvider implements DnsProvider {
  private readonly writes = new KeyedQueue();
  readonly name: string;
  readonly propagationNameservers: string[] | undefined;
  readonly propagationTimeoutMs: number | undefined;
  readonly propagationIntervalMs: number | undefined;

  constructor(
    private readonly config: ExecDnsConfig,
    private readonly ctx: DnsProviderContext,
  ) {
    this.name = ctx.name;
    this.propagationNameservers = config.propagation?.nameservers;
    this.propagationTimeoutMs = config.propagation?.timeout;
    this.propagationIntervalMs = config.propagation?.interval;
  }

  presentTxt(record: TxtRecord, signal?: AbortSignal): Promise<void> {
    // One hook run per name at a time: a script doing read-modify-write must not lose a value.
    return this.writes.run(record.fqdn, () => this.run('present', record, signal));
  }

  cleanupTxt(record: TxtRecord, signal?: AbortSignal): Promise<void> {
    return this.writes.run(record.fqdn, () => this.run('cleanup', record, signal));
  }

  private async run(action: 'present' | 'cleanup', record: TxtRecord, signal: AbortSignal | undefined): Promise<void> {
    const env = {
      ...this.config.env,
      // Set last: the contract's variables cannot be overridden by configured env.
      CERTKEEPER_ACTION: action,
      CERTKEEPER_DOMAIN: record.domain,
      CERTKEEPER_FQDN: record.fqdn,
      CERTKEEPER_VALUE: record.value,
    };
    try {
      const result = await runCommand(this.config.command, {
        env,
        inheritEnv: this.config.inheritEnv,
        timeoutMs: this.config.timeout,
        signal,
        label: `dns provider "${this.name}" (${action})`,
        ...(this.config.cwd ? { cwd: this.config.cwd } : {}),
      });
      this.ctx.logger.info({ provider: this.name, action, fqdn: record.fqdn, durationMs: result.durationMs }, `dns hook ${action} succeeded`);
    } catch (error) {
      if (isCertkeeperError(error, 'CANCELLED') || !isCertkeeperError(error)) throw error;
      throw new CertkeeperError('DNS_UPDATE_FAILED', `${action} of TXT ${record.fqdn} failed: ${error.message}`, {
        retryable: error.retryable,
        cause: error,
        details: { provider: this.name, action, fqdn: record.fqdn, hookCode: error.code },
      });
    }
  }
}

export function createExecDnsProvider(config: ExecDnsConfig, ctx: DnsProviderContext): DnsProvider {
  return new ExecDnsProvider(config, ctx);
}

export { execDnsCapabilities } from './schema.js';
