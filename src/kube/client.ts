// The Kubernetes API connection shared by the kubernetes-secret sink and leader election: which
// credentials to use (a kubeconfig file named in the config, else the pod's service account, else
// $KUBECONFIG / ~/.kube/config), @kubernetes/client-node loaded on first use (it costs about a
// second of start-up, which a run with nothing to deploy should not pay), and the one place an
// API error becomes a CertkeeperError.

import { existsSync } from 'node:fs';
import type { CoordinationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { CertkeeperError, isAbortError, type ErrorCode } from '../core/errors.js';

/** Where the pod's service account credentials are mounted (in-cluster). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubeConnectionOptions {
  /** A kubeconfig file; without it, in-cluster credentials, else $KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string | undefined;
  /** A context of that kubeconfig (default: its current-context). */
  context?: string | undefined;
  /** For tests; default process.env (the Kubernetes convention: KUBERNETES_SERVICE_HOST, KUBECONFIG). */
  env?: NodeJS.ProcessEnv;
}

export interface KubeClients {
  core: CoreV1Api;
  coordination: CoordinationV1Api;
  /** The loaded configuration, for what needs more than the API clients (a watch). */
  config: KubeConfig;
  /** The namespace of the context, or of the pod in-cluster; "default" when neither says. */
  namespace: string;
  /** The API server URL, for messages. */
  server: string;
  /** How the credentials were found. */
  source: 'kubeconfig-file' | 'in-cluster' | 'default-kubeconfig';
}

/** Loads the client library and builds the API clients; CONFIG_INVALID when no credentials load. */
export async function openKube(options: KubeConnectionOptions = {}): Promise<KubeClients> {
  const k8s = await import('@kubernetes/client-node');
  const env = options.env ?? process.env;
  const kc = new k8s.KubeConfig();
  let source: KubeClients['source'];
  try {
    if (options.kubeconfig) {
      kc.loadFromFile(options.kubeconfig);
      source = 'kubeconfig-file';
    } else if (env.KUBERNETES_SERVICE_HOST && existsSync(`${SERVICE_ACCOUNT_DIR}/token`)) {
      kc.loadFromCluster();
      source = 'in-cluster';
    } else {
      kc.loadFromDefault();
      source = 'default-kubeconfig';
    }
    if (options.context) kc.setCurrentContext(options.context);
  } catch (error) {
    throw new CertkeeperError(
      'CONFIG_INVALID',
      `cannot load Kubernetes credentials${options.kubeconfig ? ` from ${options.kubeconfig}` : ''}: ${(error as Error).message}`,
      {
        retryable: false,
        cause: error,
      },
    );
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new CertkeeperError(
      'CONFIG_INVALID',
      `no Kubernetes cluster in the ${source === 'kubeconfig-file' ? `kubeconfig ${options.kubeconfig}` : 'kubeconfig'}${options.context ? ` (context ${options.context})` : ''}`,
      { retryable: false },
    );
  }
  const context = kc.getContextObject(kc.getCurrentContext());
  return {
    core: kc.makeApiClient(k8s.CoreV1Api),
    coordination: kc.makeApiClient(k8s.CoordinationV1Api),
    config: kc,
    namespace: context?.namespace || 'default',
    server: cluster.server,
    source,
  };
}

/** What a client-node error tells: ApiException carries the HTTP status and the Status body. */
interface ApiErrorShape {
  code?: unknown;
  body?: unknown;
  message?: string;
}

/** The HTTP status of an API error; undefined for network failures. */
export function kubeStatus(error: unknown): number | undefined {
  const code = (error as ApiErrorShape | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The API server's own message (the `message` of its Status object), when it sent one. */
export function kubeMessage(error: unknown): string | undefined {
  let body = (error as ApiErrorShape | undefined)?.body;
  if (typeof body === 'string') {
    const text = body;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      return text.slice(0, 300) || undefined;
    }
  }
  const message = (body as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : undefined;
}

/** Throttling, server errors and network failures may pass; refusals (401/403/404/422) will not. */
export function isRetryableKubeError(error: unknown): boolean {
  const status = kubeStatus(error);
  if (status === undefined) return true;
  return status === 429 || status >= 500;
}

const HINTS: Record<number, string> = {
  401: 'the credentials were refused (expired token?)',
  403: 'forbidden: check the Role/RoleBinding of the service account',
  404: 'not found (does the namespace exist?)',
  422: 'the API server rejected the object',
};

/** An API error as a CertkeeperError naming what was attempted on which object. */
export function kubeFailure(error: unknown, code: ErrorCode, what: string): CertkeeperError {
  if (error instanceof CertkeeperError) return error;
  if (isAbortError(error)) return new CertkeeperError('CANCELLED', `${what}: cancelled`, { cause: error });
  const status = kubeStatus(error);
  const detail = kubeMessage(error) ?? (status === undefined ? (error as Error | undefined)?.message : undefined) ?? 'request failed';
  const hint = status !== undefined && HINTS[status] ? ` (${HINTS[status]})` : '';
  return new CertkeeperError(code, `${what} failed: ${status !== undefined ? `HTTP ${status}: ` : ''}${detail}${hint}`, {
    retryable: isRetryableKubeError(error),
    // client-node's ApiException message repeats the body and response headers over many
    // lines; the status and the server's message above say it all, so it is not chained.
    cause: status === undefined ? error : undefined,
    details: status !== undefined ? { httpStatus: status } : {},
  });
}
