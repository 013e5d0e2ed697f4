// The acm sink: imports a certificate into AWS Certificate Manager in one region, and on every
// renewal re-imports into the same ARN, so load balancers and CloudFront keep using it. The ARN is
// kept in the sink state; when that is lost, the certificate is found again by its tags before a
// duplicate is imported. What ACM would refuse is refused here first, with a clearer message.

import type { CertificateDetail } from '@aws-sdk/client-acm';
import { CertkeeperError } from '../../core/errors.js';
import { normalizeSerial } from '../../core/x509.js';
import type { DeployRequest, DeployResult, Sink, SinkContext } from '../contract.js';
import { acmFailure, awsErrorName, openAcm, type AcmApi } from './aws.js';
import { ACM_KEY_ALGORITHMS, checkReimportKey, isImportProblem, prepareImport, type ImportProblem, type PreparedImport } from './precheck.js';
import { TAG_CERT_NAME, TAG_SINK_NAME, acmSinkStateSchema, type AcmSinkConfig, type AcmSinkState } from './schema.js';

/** Where the certificate to re-import into came from (config > sink state > tags). */
type TargetSource = 'config' | 'state' | 'tags';

interface Target {
  arn: string;
  source: TargetSource;
  existing: CertificateDetail;
  /** The key algorithm recorded at the last import, when ACM does not say. */
  recordedKeyAlgorithm?: string | undefined;
}

export function createAcmSink(config: AcmSinkConfig, ctx: SinkContext): Sink {
  const label = `sink "${ctx.name}"`;
  const region = config.region;
  let api: Promise<AcmApi> | undefined;

  /** The SDK is loaded on the first deploy, not when the sink is built. */
  function acm(): Promise<AcmApi> {
    api ??= openAcm({ region, endpoint: config.endpoint, roleArn: config.roleArn, sessionName: `certkeeper-${ctx.name}` }, ctx.clock).catch(
      (error: unknown) => {
        api = undefined;
        throw new CertkeeperError('SINK_FAILED', `${label} (ACM ${region}): cannot load the AWS SDK: ${(error as Error).message}`, {
          retryable: false,
          cause: error,
        });
      },
    );
    return api;
  }

  /** A problem found before calling ACM: retrying the same certificate cannot help. */
  function refuse(certName: string, problem: ImportProblem, arn?: string): CertkeeperError {
    return new CertkeeperError('SINK_FAILED', `${label} (ACM ${region}${arn ? `, ${arn}` : ''}): cannot import ${certName}: ${problem.message}`, {
      retryable: false,
      details: { region, reason: problem.reason, ...(arn ? { certificateArn: arn } : {}) },
    });
  }

  async function describe(aws: AcmApi, arn: string, signal: AbortSignal | undefined): Promise<CertificateDetail> {
    try {
      return await aws.describeCertificate(arn, signal);
    } catch (error) {
      throw acmFailure(error, { label, region, operation: 'DescribeCertificate', arn });
    }
  }

  /** Describe, or undefined when ACM no longer has the certificate. */
  async function describeIfExists(aws: AcmApi, arn: string, signal: AbortSignal | undefined): Promise<CertificateDetail | undefined> {
    try {
      return await describe(aws, arn, signal);
    } catch (error) {
      if (awsErrorName(error) === 'ResourceNotFoundException') return undefined;
      throw error;
    }
  }

  /**
   * The ARN recorded for `certName`. Unreadable state (not JSON, or not this sink's record) is lost
   * state: the certificate is found again by its tags, so a renewal is still re-imported into the
   * same ARN and no duplicate is imported; the next import records the state afresh.
   */
  async function readState(certName: string): Promise<AcmSinkState | undefined> {
    let stored: Record<string, unknown> | undefined;
    try {
      stored = await ctx.state.get(certName);
    } catch (error) {
      ctx.logger.warn({ cert: certName, err: (error as Error).message }, 'ACM sink state unreadable; looking the certificate up by tag');
      return undefined;
    }
    if (stored === undefined) return undefined;
    const parsed = acmSinkStateSchema.safeParse(stored);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    const where = ctx.state.where?.(certName) ?? `the state of ${label} for ${certName}`;
    // The field and the rule it breaks, never the value.
    const problem = `stored ${where} is not an ACM sink state${issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : ''}: ${issue?.message ?? 'unknown problem'}`;
    ctx.logger.warn({ cert: certName, err: problem }, 'ACM sink state unreadable; looking the certificate up by tag');
    return undefined;
  }

  /** The imported certificate tagged with this certificate's name (and this sink's, when tagged so). */
  async function rediscover(aws: AcmApi, certName: string, signal: AbortSignal | undefined): Promise<string | undefined> {
    let summaries;
    try {
      // Without Includes.keyTypes ACM lists RSA_2048 certificates only.
      summaries = await aws.listCertificates(ACM_KEY_ALGORITHMS, signal);
    } catch (error) {
      throw acmFailure(error, { label, region, operation: 'ListCertificates' });
    }
    const matches: { arn: string; inUse: boolean }[] = [];
    for (const summary of summaries) {
      const arn = summary.CertificateArn;
      if (!arn || (summary.Type !== undefined && summary.Type !== 'IMPORTED')) continue;
      let tags;
      try {
        tags = await aws.listTags(arn, signal);
      } catch (error) {
        if (awsErrorName(error) === 'ResourceNotFoundException') continue; // deleted meanwhile
        throw acmFailure(error, { label, region, operation: 'ListTagsForCertificate', arn });
      }
      const tag = (key: string): string | undefined => tags.find((t) => t.Key === key)?.Value;
      const sink = tag(TAG_SINK_NAME);
      if (tag(TAG_CERT_NAME) === certName && (sink === undefined || sink === ctx.name)) matches.push({ arn, inUse: summary.InUse === true });
    }
    if (matches.length <= 1) return matches[0]?.arn;
    // Duplicates (e.g. an import whose answer was lost): the one in use is the one to keep.
    const inUse = matches.filter((m) => m.inUse);
    if (inUse.length === 1) {
      ctx.logger.warn(
        { cert: certName, region, chosen: inUse[0]!.arn, others: matches.filter((m) => !m.inUse).map((m) => m.arn) },
        'several ACM certificates carry this name; re-importing into the one in use',
      );
      return inUse[0]!.arn;
    }
    throw new CertkeeperError(
      'SINK_FAILED',
      `${label} (ACM ${region}): ${matches.length} ACM certificates are tagged ${TAG_CERT_NAME}=${certName} (${matches.map((m) => m.arn).join(', ')}); ` +
        'set certificateArn to the one to re-import into',
      { retryable: false, details: { region, candidates: matches.map((m) => m.arn) } },
    );
  }

  async function findTarget(aws: AcmApi, certName: string, signal: AbortSignal | undefined): Promise<Target | undefined> {
    if (config.certificateArn) {
      const arn = config.certificateArn;
      const existing = await describeIfExists(aws, arn, signal);
      if (!existing) throw refuse(certName, { reason: 'arn-not-found', message: `certificateArn ${arn} does not exist in ${region}` }, arn);
      return { arn, source: 'config', existing };
    }
    const state = await readState(certName);
    if (state && state.region === region) {
      const existing = await describeIfExists(aws, state.certificateArn, signal);
      if (existing) return { arn: state.certificateArn, source: 'state', existing, recordedKeyAlgorithm: state.keyAlgorithm };
      ctx.logger.warn({ cert: certName, region, arn: state.certificateArn }, 'the recorded ACM certificate no longer exists; looking for another by tag');
    }
    const found = await rediscover(aws, certName, signal);
    if (!found) return undefined;
    const existing = await describe(aws, found, signal);
    ctx.logger.info({ cert: certName, region, arn: found }, 'found the ACM certificate again by its tag');
    return { arn: found, source: 'tags', existing };
  }

  async function remember(certName: string, arn: string, prepared: PreparedImport): Promise<void> {
    const state: AcmSinkState = {
      certificateArn: arn,
      region,
      keyType: prepared.keyType,
      keyAlgorithm: prepared.keyAlgorithm,
      serial: prepared.serial,
      importedAt: ctx.clock.now().toISOString(),
    };
    try {
      await ctx.state.put(certName, state);
    } catch (error) {
      // The next run finds the ARN again by tag; this one must not count as deployed.
      throw new CertkeeperError('SINK_FAILED', `${label} (ACM ${region}, ${arn}): imported, but the ARN could not be recorded: ${(error as Error).message}`, {
        retryable: true,
        cause: error,
      });
    }
  }

  return {
    name: ctx.name,
    type: 'acm',
    async deploy(request: DeployRequest, signal?: AbortSignal): Promise<DeployResult> {
      if (signal?.aborted) throw new CertkeeperError('CANCELLED', `${label}: cancelled`);
      const certName = request.certName;
      const prepared = prepareImport(request.material, ctx.clock.now());
      if (isImportProblem(prepared)) throw refuse(certName, prepared);

      const aws = await acm();
      const target = await findTarget(aws, certName, signal);
      if (target) {
        if (target.existing.Type !== undefined && target.existing.Type !== 'IMPORTED') {
          throw refuse(
            certName,
            { reason: 'not-imported', message: `${target.arn} is a ${target.existing.Type} certificate; ACM re-imports only into imported certificates` },
            target.arn,
          );
        }
        const keyProblem = checkReimportKey(target.existing.KeyAlgorithm ?? target.recordedKeyAlgorithm, prepared.keyAlgorithm);
        if (keyProblem) throw refuse(certName, keyProblem, target.arn);
        if (target.existing.Serial && normalizeSerial(target.existing.Serial) === prepared.serial) {
          // Imported by an earlier attempt whose result was not recorded: nothing to send.
          await remember(certName, target.arn, prepared);
          return { detail: `${target.arn} already holds ${prepared.serial}` };
        }
      }

      let arn: string;
      try {
        arn = await aws.importCertificate(
          {
            certificatePem: prepared.leafPem,
            privateKeyPem: prepared.keyPem,
            chainPem: prepared.chainPem,
            certificateArn: target?.arn,
            // ACM refuses tags on re-import ("Tagging is not permitted on re-import").
            tags: target ? undefined : { ...config.tags, [TAG_CERT_NAME]: certName, [TAG_SINK_NAME]: ctx.name },
          },
          signal,
        );
      } catch (error) {
        throw acmFailure(error, { label, region, operation: target ? 'ImportCertificate (re-import)' : 'ImportCertificate', arn: target?.arn });
      }
      await remember(certName, arn, prepared);

      const after = await describe(aws, arn, signal);
      const shown = after.Serial ? normalizeSerial(after.Serial) : undefined;
      if (shown !== prepared.serial) {
        throw new CertkeeperError(
          'SINK_FAILED',
          `${label} (ACM ${region}, ${arn}): after ImportCertificate, DescribeCertificate shows serial ${shown ?? '(none)'}, not ${prepared.serial}`,
          { retryable: true, details: { region, certificateArn: arn, expected: prepared.serial, shown: shown ?? null } },
        );
      }
      const how = target ? `re-imported into ${arn}` : `imported as ${arn}`;
      ctx.logger.info(
        { cert: certName, region, arn, serial: prepared.serial, source: target?.source ?? 'new', inUseBy: after.InUseBy?.length ?? 0 },
        `ACM certificate ${target ? 're-imported' : 'imported'}`,
      );
      return { detail: how };
    },
  };
}
