// The stored certificate of each selected certificate, read the slow way: its PEM parsed and its
// key checked against it and against the details recorded beside it. Planning and `status` trust
// those recorded details (they are checked when the certificate is stored and again before it is
// deployed), so this is where damage done to the state directory in between shows up.

import { describeError } from '../core/errors.js';
import type { CertificateSpec } from '../core/types.js';
import { fail, pass, type Check, type CheckResult, type DoctorContext } from './contract.js';

export function storedCertificateCheck(spec: CertificateSpec): Check {
  const name = 'state.certificate';
  return {
    name,
    cert: spec.name,
    async run(ctx: DoctorContext): Promise<CheckResult[]> {
      try {
        const stored = await ctx.store.getCertificate(spec.name);
        if (!stored) return [pass(name, 'none stored yet: the next renew issues it', spec.name)];
        return [
          pass(
            name,
            `serial ${stored.info.serial}: certificate, key and recorded details agree (valid until ${stored.info.notAfter.toISOString()})`,
            spec.name,
          ),
        ];
      } catch (error) {
        return [fail(name, `${describeError(error)}; issue a fresh one with: certkeeper renew --cert ${spec.name} --force`, spec.name)];
      }
    },
  };
}
