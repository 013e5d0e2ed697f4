// The four ACM calls the sink makes, over @aws-sdk/client-acm loaded on first use (a run with
// nothing to deploy never loads the SDK), and the one place AWS errors become SINK_FAILED.

import type { ACMClientConfig, CertificateDetail, CertificateSummary, KeyAlgorithm, Tag } from '@aws-sdk/client-acm';
import type { Clock } from '../../core/clock.js';
import { CertkeeperError, isAbortError } from '../../core/errors.js';

export interface AcmConnection {
  region: string;
  endpoint?: string | undefined;
  roleArn?: string | undefined;
  /** Names the STS session when a role is assumed (shows in CloudTrail). */
  sessionName: string;
}

export interface ImportInput {
  certificatePem: string;
  privateKeyPem: string;
  /** Intermediates without the leaf; '' sends no chain. */
  chainPem: string;
  /** Re-import into this certificate. */
  certificateArn?: string | undefined;
  /** First import only. */
  tags?: Record<string, string> | undefined;
}

export interface AcmApi {
  importCertificate(input: ImportInput, signal?: AbortSignal): Promise<string>;
  describeCertificate(arn: string, signal?: AbortSignal): Promise<CertificateDetail>;
  /** Every certificate of these key types, following NextToken. */
  listCertificates(keyTypes: readonly string[], signal?: AbortSignal): Promise<CertificateSummary[]>;
  listTags(arn: string, signal?: AbortSignal): Promise<Tag[]>;
}

/** Rounds of our own on top of the SDK's 3 attempts, for throttling only (the request was refused,
 *  so repeating it cannot import twice). The waits come from the injected clock. */
const THROTTLE_WAITS_MS = [2_000, 10_000];
const THROTTLING = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded', 'RequestThrottled', 'SlowDown']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** What an SDK error tells about itself; every field optional (network errors carry none). */
interface AwsErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

export function awsErrorName(error: unknown): string | undefined {
  if (error instanceof CertkeeperError) return typeof error.details?.awsError === 'string' ? error.details.awsError : undefined;
  return (error as AwsErrorShape | undefined)?.name;
}

export function isThrottling(error: unknown): boolean {
  const shape = error as AwsErrorShape | undefined;
  return THROTTLING.has(shape?.name ?? '') || shape?.$metadata?.httpStatusCode === 429;
}

/** Throttling, 5xx and network failures may pass; a ValidationException or a missing permission will not. */
export function isRetryableAwsError(error: unknown): boolean {
  const shape = error as AwsErrorShape | undefined;
  if (isThrottling(error)) return true;
  const status = shape?.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500;
  if (NETWORK_CODES.has(shape?.code ?? '') || shape?.name === 'TimeoutError') return true;
  return false; // no response and no network code: credentials or configuration
}

export interface FailureContext {
  /** e.g. `sink "alb"`. */
  label: string;
  region: string;
  operation: string;
  arn?: string | undefined;
}

/** An AWS SDK error as SINK_FAILED naming the sink, region, ARN and AWS error. */
export function acmFailure(error: unknown, context: FailureContext): CertkeeperError {
  if (error instanceof CertkeeperError) return error;
  if (isAbortError(error)) return new CertkeeperError('CANCELLED', `${context.label}: cancelled during ${context.operation}`, { cause: error });
  const shape = (error ?? {}) as AwsErrorShape;
  const name = shape.name ?? 'Error';
  const status = shape.$metadata?.httpStatusCode;
  const where = `ACM ${context.region}${context.arn ? `, ${context.arn}` : ''}`;
  const message = `${context.label} (${where}): ${context.operation} failed: ${name}${shape.message ? `: ${shape.message}` : ''}`;
  return new CertkeeperError('SINK_FAILED', message, {
    retryable: isRetryableAwsError(error),
    cause: error,
    details: {
      region: context.region,
      ...(context.arn ? { certificateArn: context.arn } : {}),
      awsError: name,
      ...(status !== undefined ? { httpStatus: status } : {}),
      ...(shape.$metadata?.requestId ? { requestId: shape.$metadata.requestId } : {}),
    },
  });
}

/** Loads the SDK and builds the client; role assumption only loads the STS provider when asked. */
export async function openAcm(connection: AcmConnection, clock: Clock): Promise<AcmApi> {
  const sdk = await import('@aws-sdk/client-acm');
  let credentials: ACMClientConfig['credentials'];
  if (connection.roleArn) {
    const { fromTemporaryCredentials } = await import('@aws-sdk/credential-providers');
    credentials = fromTemporaryCredentials({
      params: { RoleArn: connection.roleArn, RoleSessionName: connection.sessionName.slice(0, 64) },
      clientConfig: { region: connection.region },
    });
  }
  const client = new sdk.ACMClient({
    region: connection.region,
    ...(connection.endpoint ? { endpoint: connection.endpoint } : {}),
    ...(credentials ? { credentials } : {}),
  });

  async function call<T>(run: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    for (let round = 0; ; round++) {
      try {
        return await run();
      } catch (error) {
        const wait = THROTTLE_WAITS_MS[round];
        if (wait === undefined || !isThrottling(error) || signal?.aborted) throw error;
        await clock.sleep(wait, signal);
      }
    }
  }
  const options = (signal: AbortSignal | undefined) => (signal ? { abortSignal: signal } : {});
  const bytes = (text: string): Uint8Array => Buffer.from(text, 'utf8');

  return {
    async importCertificate(input, signal) {
      const command = new sdk.ImportCertificateCommand({
        Certificate: bytes(input.certificatePem),
        PrivateKey: bytes(input.privateKeyPem),
        ...(input.chainPem ? { CertificateChain: bytes(input.chainPem) } : {}),
        ...(input.certificateArn ? { CertificateArn: input.certificateArn } : {}),
        ...(input.tags ? { Tags: Object.entries(input.tags).map(([Key, Value]) => ({ Key, Value })) } : {}),
      });
      const output = await call(() => client.send(command, options(signal)), signal);
      if (!output.CertificateArn) throw new CertkeeperError('SINK_FAILED', 'ImportCertificate returned no CertificateArn', { retryable: true });
      return output.CertificateArn;
    },
    async describeCertificate(arn, signal) {
      const output = await call(() => client.send(new sdk.DescribeCertificateCommand({ CertificateArn: arn }), options(signal)), signal);
      if (!output.Certificate) throw new CertkeeperError('SINK_FAILED', `DescribeCertificate returned no certificate for ${arn}`, { retryable: true });
      return output.Certificate;
    },
    async listCertificates(keyTypes, signal) {
      const all: CertificateSummary[] = [];
      const seen = new Set<string>();
      let nextToken: string | undefined;
      do {
        const command = new sdk.ListCertificatesCommand({
          Includes: { keyTypes: keyTypes as KeyAlgorithm[] },
          MaxItems: 1000,
          ...(nextToken ? { NextToken: nextToken } : {}),
        });
        const output = await call(() => client.send(command, options(signal)), signal);
        all.push(...(output.CertificateSummaryList ?? []));
        nextToken = output.NextToken || undefined;
        if (nextToken !== undefined && seen.has(nextToken))
          throw new CertkeeperError('SINK_FAILED', 'ListCertificates repeated a NextToken', { retryable: true });
        if (nextToken !== undefined) seen.add(nextToken);
      } while (nextToken);
      return all;
    },
    async listTags(arn, signal) {
      const output = await call(() => client.send(new sdk.ListTagsForCertificateCommand({ CertificateArn: arn }), options(signal)), signal);
      return output.Tags ?? [];
    },
  };
}
