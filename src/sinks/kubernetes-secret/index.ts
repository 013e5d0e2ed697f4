// The kubernetes-secret sink: writes the certificate as a `kubernetes.io/tls` Secret (tls.crt = the
// full chain, tls.key, optionally ca.crt) that Ingress controllers and pods mount. Create or
// replace with optimistic concurrency: a replace carries the resourceVersion that was read, and
// a 409 conflict (someone else wrote in between) means read again and retry. A Secret that lacks
// certkeeper's label belongs to someone else and is never overwritten unless `adopt: true`.

import { createHash } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { throwIfAborted } from '../../core/clock.js';
import { CertkeeperError, toCertkeeperError } from '../../core/errors.js';
import { splitPemChain } from '../../core/x509.js';
import { kubeFailure, kubeStatus, openKube, type KubeClients } from '../../kube/client.js';
import type { DeployRequest, DeployResult, Sink, SinkContext } from '../contract.js';
import {
  ANNOTATION_DOMAINS,
  ANNOTATION_NAME,
  ANNOTATION_NOT_AFTER,
  ANNOTATION_SERIAL,
  LABEL_MANAGED_BY,
  LABEL_NAME,
  isValidSecretName,
  labelValueFor,
  secretNameFor,
  type KubernetesSecretSinkConfig,
} from './schema.js';

export const TLS_SECRET_TYPE = 'kubernetes.io/tls';
/** Read-modify-write rounds before a conflicting writer is reported (each 409 means re-read). */
const MAX_ROUNDS = 5;
const FIELD_MANAGER = 'certkeeper';

/** What a deploy did to the Secret. */
export type SecretWrite = 'created' | 'replaced' | 'adopted' | 'unchanged';

const shortHash = (text: string): string => createHash('sha256').update(text).digest('hex');
const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/** The Secret's data keys for a certificate. */
export function secretData(request: Pick<DeployRequest, 'material'>, includeCa: boolean): Record<string, string> {
  const { material } = request;
  const data: Record<string, string> = { 'tls.crt': b64(material.fullchainPem), 'tls.key': b64(material.keyPem) };
  const top = splitPemChain(material.chainPem).at(-1);
  if (includeCa && top) data['ca.crt'] = b64(top);
  return data;
}

export function createKubernetesSecretSink(config: KubernetesSecretSinkConfig, ctx: SinkContext): Sink {
  const label = `sink "${ctx.name}"`;
  let clients: Promise<KubeClients> | undefined;

  /** The client library is loaded on the first deploy, not when the sink is built. */
  function kube(): Promise<KubeClients> {
    clients ??= openKube({ kubeconfig: config.kubeconfig, context: config.context }).catch((error: unknown) => {
      clients = undefined;
      throw new CertkeeperError('SINK_FAILED', `${label}: ${toCertkeeperError(error).message}`, { retryable: false, cause: error });
    });
    return clients;
  }

  return {
    name: ctx.name,
    type: 'kubernetes-secret',
    async deploy(request: DeployRequest, signal?: AbortSignal): Promise<DeployResult> {
      if (signal?.aborted) throw new CertkeeperError('CANCELLED', `${label}: cancelled`);
      const api = await kube();
      const namespace = config.namespace ?? api.namespace;
      const name = secretNameFor(config, request.certName);
      const where = `Secret ${namespace}/${name}`;
      if (!isValidSecretName(name)) {
        throw new CertkeeperError('SINK_FAILED', `${label}: "${name}" (from "${config.secretName}") is not a valid Secret name`, { retryable: false });
      }
      const labelValue = labelValueFor(request.certName, shortHash);
      const data = secretData(request, config.includeCa);
      const ours = {
        labels: { ...config.labels, [LABEL_MANAGED_BY]: 'certkeeper', [LABEL_NAME]: labelValue },
        annotations: {
          ...config.annotations,
          [ANNOTATION_NAME]: request.certName,
          [ANNOTATION_SERIAL]: request.serial,
          [ANNOTATION_NOT_AFTER]: request.notAfter.toISOString(),
          [ANNOTATION_DOMAINS]: request.domains.join(','),
        },
      };

      for (let round = 1; round <= MAX_ROUNDS; round++) {
        throwIfAborted(signal);
        const existing = await readSecret(api, namespace, name, where);
        if (!existing) {
          const body: V1Secret = { apiVersion: 'v1', kind: 'Secret', type: TLS_SECRET_TYPE, metadata: { name, namespace, ...ours }, data };
          try {
            await api.core.createNamespacedSecret({ namespace, body, fieldManager: FIELD_MANAGER });
            return done('created', where, request);
          } catch (error) {
            if (kubeStatus(error) === 409) continue; // created by someone else meanwhile: read it
            throw kubeFailure(error, 'SINK_FAILED', `${label}: create ${where}`);
          }
        }
        const metadata = existing.metadata ?? {};
        const owner = ownerOf(existing);
        if (owner === undefined && !config.adopt) {
          throw new CertkeeperError(
            'SINK_FAILED',
            `${label}: ${where} exists and was not created by certkeeper (no ${LABEL_NAME} label); set adopt: true on the sink to take it over, or choose another secretName`,
            { retryable: false, details: { namespace, secret: name, reason: 'foreign' } },
          );
        }
        if (owner !== undefined && owner !== request.certName && owner !== labelValue) {
          throw new CertkeeperError(
            'SINK_FAILED',
            `${label}: ${where} holds certificate "${owner}", not "${request.certName}"; give each certificate its own secretName`,
            {
              retryable: false,
              details: { namespace, secret: name, reason: 'other-certificate' },
            },
          );
        }
        if ((existing.type ?? TLS_SECRET_TYPE) !== TLS_SECRET_TYPE) {
          throw new CertkeeperError(
            'SINK_FAILED',
            `${label}: ${where} has type ${existing.type}; a Secret's type cannot change to ${TLS_SECRET_TYPE} (delete it first)`,
            {
              retryable: false,
              details: { namespace, secret: name, reason: 'type' },
            },
          );
        }
        const nextData: Record<string, string> = { ...(existing.data ?? {}), ...data };
        if (!config.includeCa && owner !== undefined) delete nextData['ca.crt'];
        const labels = { ...(metadata.labels ?? {}), ...ours.labels };
        const annotations = { ...(metadata.annotations ?? {}), ...ours.annotations };
        if (sameStrings(existing.data ?? {}, nextData) && sameStrings(metadata.labels ?? {}, labels) && sameStrings(metadata.annotations ?? {}, annotations)) {
          return done('unchanged', where, request);
        }
        const body: V1Secret = {
          apiVersion: 'v1',
          kind: 'Secret',
          type: TLS_SECRET_TYPE,
          metadata: { ...metadata, name, namespace, labels, annotations, resourceVersion: metadata.resourceVersion },
          data: nextData,
        };
        delete body.metadata!.managedFields;
        try {
          await api.core.replaceNamespacedSecret({ name, namespace, body, fieldManager: FIELD_MANAGER });
          return done(owner === undefined ? 'adopted' : 'replaced', where, request);
        } catch (error) {
          if (kubeStatus(error) === 409) {
            ctx.logger.debug({ cert: request.certName, secret: where, round }, 'Secret changed since it was read; reading it again');
            continue;
          }
          throw kubeFailure(error, 'SINK_FAILED', `${label}: replace ${where}`);
        }
      }
      throw new CertkeeperError(
        'SINK_FAILED',
        `${label}: ${where} kept changing under us (${MAX_ROUNDS} conflicting writes in a row); another writer is fighting over it`,
        {
          retryable: true,
          details: { namespace, secret: name, reason: 'conflict' },
        },
      );
    },
  };

  function done(write: SecretWrite, where: string, request: DeployRequest): DeployResult {
    ctx.logger.debug({ cert: request.certName, secret: where, write }, 'Secret written');
    return { detail: `${write} ${where}` };
  }

  async function readSecret(api: KubeClients, namespace: string, name: string, where: string): Promise<V1Secret | undefined> {
    try {
      return await api.core.readNamespacedSecret({ name, namespace });
    } catch (error) {
      if (kubeStatus(error) === 404) return undefined;
      throw kubeFailure(error, 'SINK_FAILED', `${label}: read ${where}`);
    }
  }
}

/** The certificate name a Secret is labelled with; undefined when certkeeper did not write it. */
export function ownerOf(secret: V1Secret): string | undefined {
  const labelled = secret.metadata?.labels?.[LABEL_NAME];
  if (labelled === undefined) return undefined;
  return secret.metadata?.annotations?.[ANNOTATION_NAME] ?? labelled;
}

function sameStrings(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key]);
}
