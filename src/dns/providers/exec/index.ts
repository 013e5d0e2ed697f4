// The exec provider: an operator's program adds and removes the TXT record. It gets everything
// in environment variables (CERTKEEPER_ACTION, _DOMAIN, _FQDN, _VALUE); a non-zero exit or a
// timeout is a failed DNS update. Keeping sibling values and idempotent cleanup are its job.
// With `batch: true` the hook takes many records in one run (issue 18): CERTKEEPER_RECORDS holds
// them, one JSON object a line, never spliced into a command line; dns/batcher.ts collects them.

import { CertkeeperError, isCertkeeperError } from '../../../core/errors.js';
import { runCommand } from '../../../core/exec.js';
import { KeyedQueue } from '../../../core/keyed-queue.js';
import { TxtBatchRejected, type DnsProvider, type TxtBatchAction, type TxtBatchLimits, type TxtBatchSupport, type TxtRecord } from '../../contract.js';
import type { DnsProviderContext } from '../../contract.js';
import type { ExecDnsConfig } from './schema.js';
import { propagationSettings } from '../../fields.js';

/**
 * One batch run's records: at most 1,000, and their JSON lines well under the 128 KiB Linux
 * allows one environment string (MAX_ARG_STRLEN).
 */
export const EXEC_BATCH_LIMITS: TxtBatchLimits = {
  maxRecords: 1000,
  maxCost: 100_000,
  cost: (record) => recordLine(record).length + 1,
};

function recordLine(record: TxtRecord): string {
  return JSON.stringify({ domain: record.domain, fqdn: record.fqdn, value: record.value });
}

export class ExecDnsProvider implements DnsProvider {
  private readonly writes = new KeyedQueue();
  readonly name: string;
  /** Only when the hook declares `batch: true`. */
  readonly batch: TxtBatchSupport | undefined;

  constructor(
    private readonly config: ExecDnsConfig,
    private readonly ctx: DnsProviderContext,
  ) {
    this.name = ctx.name;
    Object.assign(this, propagationSettings(config)); // the DnsProvider contract's propagation fields
    this.batch = config.batch
      ? {
          limits: EXEC_BATCH_LIMITS,
          windowMs: config.batchWindow,
          // The hook knows its zones; certkeeper hands it every record of the window at once.
          zoneOf: async () => '',
          write: async (action, _zone, records, signal) => {
            try {
              await this.run(action, records, signal);
            } catch (error) {
              // Which record the hook choked on it does not say: the batcher narrows it down.
              if (isCertkeeperError(error, 'DNS_UPDATE_FAILED') && records.length > 1)
                throw new TxtBatchRejected(error.message, undefined, { cause: error, retryable: error.retryable, details: error.details });
              throw error;
            }
          },
        }
      : undefined;
  }

  presentTxt(record: TxtRecord, signal?: AbortSignal): Promise<void> {
    // One hook run per name at a time: a script doing read-modify-write must not lose a value.
    return this.writes.run(record.fqdn, () => this.run('present', [record], signal));
  }

  cleanupTxt(record: TxtRecord, signal?: AbortSignal): Promise<void> {
    return this.writes.run(record.fqdn, () => this.run('cleanup', [record], signal));
  }

  private async run(action: TxtBatchAction, records: readonly TxtRecord[], signal: AbortSignal | undefined): Promise<void> {
    const record = records[0]!;
    const single: Record<string, string> =
      records.length === 1 ? { CERTKEEPER_DOMAIN: record.domain, CERTKEEPER_FQDN: record.fqdn, CERTKEEPER_VALUE: record.value } : {};
    // A hook that takes batches always gets the list (also of one record), so it needs one code path.
    const many: Record<string, string> = this.config.batch
      ? { CERTKEEPER_RECORDS: records.map(recordLine).join('\n'), CERTKEEPER_RECORD_COUNT: String(records.length) }
      : {};
    const env: Record<string, string> = {
      ...this.config.env,
      // Set last: the contract's variables cannot be overridden by configured env.
      CERTKEEPER_ACTION: action,
      ...single,
      ...many,
    };
    const what = records.length === 1 ? `TXT ${record.fqdn}` : `${records.length} TXT records (${record.fqdn}, ...)`;
    try {
      const result = await runCommand(this.config.command, {
        env,
        inheritEnv: this.config.inheritEnv,
        timeoutMs: this.config.timeout,
        signal,
        label: `dns provider "${this.name}" (${action})`,
        ...(this.config.cwd ? { cwd: this.config.cwd } : {}),
      });
      this.ctx.logger.info(
        { provider: this.name, action, fqdn: record.fqdn, records: records.length, durationMs: result.durationMs },
        `dns hook ${action} succeeded`,
      );
    } catch (error) {
      if (isCertkeeperError(error, 'CANCELLED') || !isCertkeeperError(error)) throw error;
      throw new CertkeeperError('DNS_UPDATE_FAILED', `${action} of ${what} failed: ${error.message}`, {
        retryable: error.retryable,
        cause: error,
        details: { provider: this.name, action, fqdn: record.fqdn, ...(records.length > 1 ? { records: records.length } : {}), hookCode: error.code },
      });
    }
  }
}

export function createExecDnsProvider(config: ExecDnsConfig, ctx: DnsProviderContext): DnsProvider {
  return new ExecDnsProvider(config, ctx);
}

export { execDnsCapabilities } from './schema.js';
