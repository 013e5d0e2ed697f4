// The state store itself: it answers, and (PostgreSQL) private keys are sealed before they reach
// it. A database that does not answer fails the doctor; keys in clear in a database warn, since
// whoever reads a dump or a backup then holds every key.

import { describeError } from '../core/errors.js';
import { fail, pass, warn, type Check, type CheckResult, type DoctorContext } from './contract.js';

export function stateStoreCheck(): Check {
  const name = 'state.store';
  return {
    name,
    async run(ctx: DoctorContext): Promise<CheckResult[]> {
      const { state } = ctx.config;
      const where =
        state.type === 'file'
          ? `file store ${state.dir}`
          : state.type === 'kubernetes'
            ? `Kubernetes API (prefix ${state.prefix}${state.namespace ? `, namespace ${state.namespace}` : ''})`
            : `PostgreSQL (schema ${state.schema})`;
      const lines: CheckResult[] = [];
      try {
        await ctx.store.ping?.(ctx.signal);
        lines.push(pass(name, `${where} answers; agent id ${ctx.config.agentId}`));
      } catch (error) {
        lines.push(fail(name, `${where} does not answer: ${describeError(error)}`));
      }
      if (state.type === 'postgres' && !state.encryptionKeyFile) {
        lines.push(
          warn(
            name,
            'private keys are stored in the database in clear: set state.encryptionKeyFile (a 256-bit key, e.g. openssl rand -base64 32) to seal them with AES-256-GCM',
          ),
        );
      }
      return lines;
    },
  };
}
