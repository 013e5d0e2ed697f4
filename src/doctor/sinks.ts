// Sink checks, per certificate and sink: a files sink's folder can be created and written and
// holds nothing certkeeper would refuse to replace (a folder, file or foreign symlink at the
// target: SINK_TARGET_EXISTS; a symlinked versions folder: UNSAFE_PATH); an exec hook's program
// is executable; an ACM target ARN exists with a key type the configured one can be re-imported over.
// As the user the doctor runs as: a files sink's owner/group it may not apply, a `systemctl
// reload` or `sudo` hook it may not run (ownership.ts, hook-permission.ts).

import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { inspectPublishTarget } from '../core/file-set.js';
import type { CertificateSpec, KeyType } from '../core/types.js';
import type { SinkConfig } from '../config/schema.js';
import { fail, pass, warn, type Check, type CheckResult, type DoctorContext } from './contract.js';
import { awsProblem } from './aws.js';
import { executableProblem } from './executable.js';
import { hookPermissionProblem } from './hook-permission.js';
import { currentIdentity, currentSystemdHost } from './identity.js';
import { ownershipProblem } from './ownership.js';
import { resolveId } from '../sinks/files/index.js';
import { acmSinkStateSchema, type AcmSinkState } from '../sinks/acm/schema.js';
import { readCertificateData } from '../state/codec.js';
import { isCertkeeperError } from '../core/errors.js';

/** ACM's KeyAlgorithm for each certkeeper key type: a re-import must keep it. */
export const ACM_KEY_ALGORITHM_OF: Record<KeyType, string> = {
  'ecdsa-p256': 'EC_prime256v1',
  'ecdsa-p384': 'EC_secp384r1',
  'rsa-2048': 'RSA_2048',
  'rsa-3072': 'RSA_3072',
  'rsa-4096': 'RSA_4096',
};

/** Why files cannot be published at `dir` (its nearest existing ancestor must be a writable folder), or undefined. */
export async function writableProblem(dir: string): Promise<string | undefined> {
  // publishFileSet writes version folders beside `dir`, so its parent is what must be writable.
  let current = path.dirname(path.resolve(dir));
  for (;;) {
    const stat = await fs.stat(current).catch((error: NodeJS.ErrnoException) => error);
    if (!(stat instanceof Error)) {
      if (!stat.isDirectory()) return `${current} is not a folder`;
      try {
        await fs.access(current, constants.W_OK | constants.X_OK);
        return undefined;
      } catch (error) {
        // Read-only under a systemd sandbox (ProtectSystem=strict) unless listed in ReadWritePaths=.
        if ((error as NodeJS.ErrnoException).code === 'EROFS')
          return `${current} is read-only here (under systemd's ProtectSystem=, a sink folder must be in the unit's ReadWritePaths=)`;
        return `${current} is not writable by this user`;
      }
    }
    if (stat.code === 'ENOTDIR') return `${current} lies under a file, not a folder`;
    if (stat.code !== 'ENOENT') return `${current}: ${stat.code ?? stat.message}`;
    const parent = path.dirname(current);
    if (parent === current) return `no existing folder above ${dir}`;
    current = parent;
  }
}

export function sinkCheck(spec: CertificateSpec, sinkName: string, sink: SinkConfig): Check {
  const check = 'sink';
  return {
    name: check,
    cert: spec.name,
    async run(ctx): Promise<CheckResult[]> {
      switch (sink.type) {
        case 'files': {
          const dir = path.resolve(sink.dir.replaceAll('{cert}', spec.name));
          // What the first deploy would refuse, said before it is due.
          const refusal = await inspectPublishTarget(dir);
          if (refusal) return [fail(check, `${sinkName}: ${refusal.code}: ${refusal.message}`, spec.name)];
          const problem = await writableProblem(dir);
          if (problem) return [fail(check, `${sinkName}: cannot write ${dir}: ${problem}`, spec.name)];
          const ownership = await ownershipProblem(sink, ctx.identity ?? currentIdentity(), resolveId);
          return [ownership ? fail(check, `${sinkName}: ${ownership}`, spec.name) : pass(check, `${sinkName}: ${dir} is writable${ownedBy(sink)}`, spec.name)];
        }
        case 'exec': {
          const program = sink.command[0]!;
          const problem = await executableProblem(program, sink.cwd ?? process.cwd(), sink.env.PATH ?? process.env.PATH);
          if (problem) return [fail(check, `${sinkName}: hook ${problem}`, spec.name)];
          const verdict = hookPermissionProblem(sink.command, ctx.identity ?? currentIdentity(), ctx.systemd ?? currentSystemdHost());
          return [
            verdict
              ? { name: check, status: verdict.status, message: `${sinkName}: ${verdict.message}`, cert: spec.name }
              : pass(check, `${sinkName}: hook ${program} is executable`, spec.name),
          ];
        }
        case 'acm':
          return [await acmResult(spec, sinkName, sink, ctx)];
        default:
          return [pass(check, `${sinkName}: no doctor check for ${sink.type} sinks`, spec.name)];
      }
    },
  };
}

/** `, owner www-data, group ssl-cert can be applied`, or '' when neither is configured. */
function ownedBy(sink: Extract<SinkConfig, { type: 'files' }>): string {
  const parts = [sink.owner === undefined ? '' : `owner ${sink.owner}`, sink.group === undefined ? '' : `group ${sink.group}`].filter(Boolean);
  return parts.length > 0 ? `, ${parts.join(', ')} can be applied` : '';
}

async function acmResult(spec: CertificateSpec, sinkName: string, sink: Extract<SinkConfig, { type: 'acm' }>, ctx: DoctorContext): Promise<CheckResult> {
  const check = 'sink';
  let state: AcmSinkState | undefined;
  try {
    state = await readCertificateData(ctx.store, spec.name, sinkName, acmSinkStateSchema);
  } catch (error) {
    if (!isCertkeeperError(error, 'STATE_CORRUPT')) throw error;
    // As the deploy reads it: lost state, found again by tag (a configured ARN needs none).
    if (sink.certificateArn === undefined)
      return warn(check, `${sinkName}: ${error.message}; the next deploy looks the certificate up by its tag, else imports a new one`, spec.name);
  }
  // The deploy uses a recorded ARN only when it was recorded for this region.
  const recorded = state?.region === sink.region ? state.certificateArn : undefined;
  const arn = sink.certificateArn ?? recorded;
  if (!arn) return pass(check, `${sinkName}: nothing imported yet (the first deploy imports a new certificate)`, spec.name);
  const configured = sink.certificateArn !== undefined;
  const { openAcm, awsErrorName, isRetryableAwsError } = await import('../sinks/acm/aws.js');
  try {
    const api = await openAcm({ region: sink.region, endpoint: sink.endpoint, roleArn: sink.roleArn, sessionName: 'certkeeper-doctor' }, ctx.clock);
    const detail = await api.describeCertificate(arn, ctx.signal);
    if (detail.Type !== undefined && detail.Type !== 'IMPORTED') {
      return fail(check, `${sinkName}: ${arn} is a ${detail.Type} certificate; ACM re-imports only into imported certificates`, spec.name);
    }
    const want = ACM_KEY_ALGORITHM_OF[spec.keyType];
    if (detail.KeyAlgorithm && detail.KeyAlgorithm !== want) {
      return fail(check, `${sinkName}: ${arn} holds a ${detail.KeyAlgorithm} key; ACM cannot re-import it with ${want} (keyType ${spec.keyType})`, spec.name);
    }
    return pass(check, `${sinkName}: ${arn} exists (${detail.KeyAlgorithm ?? 'key type unknown'})`, spec.name);
  } catch (error) {
    const code = awsErrorName(error);
    const text = awsProblem(error);
    if (code === 'ResourceNotFoundException' || code === 'InvalidArnException') {
      // A configured ARN that is gone stops every deploy; a recorded one is looked for again by tag.
      return configured
        ? fail(check, `${sinkName}: certificateArn ${arn} does not exist in ${sink.region}: ${text}`, spec.name)
        : warn(
            check,
            `${sinkName}: the recorded ${arn} no longer exists in ${sink.region}; the next deploy looks for it by tag, else imports a new one: ${text}`,
            spec.name,
          );
    }
    // Wrong credentials or a missing permission fail the deploy too; throttling or an outage may pass.
    return isRetryableAwsError(error)
      ? warn(check, `${sinkName}: cannot check ${arn} now: ${text}`, spec.name)
      : fail(check, `${sinkName}: cannot read ${arn}: ${text}`, spec.name);
  }
}
