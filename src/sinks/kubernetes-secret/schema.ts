import path from 'node:path';
import { z } from 'zod';
import { sinkScopeField } from '../../core/fields.js';
import { sinkKind } from '../contract.js';

/** certkeeper's own label: a Secret without it is foreign and is only written with `adopt: true`. */
export const LABEL_NAME = 'certkeeper.io/name';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const ANNOTATION_NAME = 'certkeeper.io/name';
export const ANNOTATION_SERIAL = 'certkeeper.io/serial';
export const ANNOTATION_NOT_AFTER = 'certkeeper.io/not-after';
export const ANNOTATION_DOMAINS = 'certkeeper.io/domains';
const RESERVED_PREFIX = 'certkeeper.io/';

/** DNS-1123 subdomain, as Secret names and namespaces must be (after `{cert}` is replaced). */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A qualified label or annotation key: optional DNS prefix, then a name of at most 63 characters. */
const QUALIFIED_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const userKey = z
  .string()
  .regex(QUALIFIED_KEY, 'must be a Kubernetes label/annotation key (prefix/name)')
  .refine((key) => !key.startsWith(RESERVED_PREFIX), { message: `keys under "${RESERVED_PREFIX}" are certkeeper's own` });

export const kubernetesSecretSinkSchema = z
  .object({
    type: z.literal('kubernetes-secret'),
    /** Among agents sharing a store: `local` deploys on every agent, `shared` once (see sinks/scope.ts). */
    scope: sinkScopeField,
    /** The Secret's name; `{cert}` becomes the certificate name (default "{cert}-tls"). */
    secretName: z
      .string()
      .min(1)
      .max(253)
      .refine((name) => DNS_SUBDOMAIN.test(name.replaceAll('{cert}', 'x')), {
        message: 'must be a lower-case DNS name (letters, digits, "-", "."); "{cert}" allowed',
      })
      .default('{cert}-tls'),
    /** Default: the namespace of the kubeconfig context, or the pod's own namespace in-cluster. */
    namespace: z.string().regex(NAMESPACE, 'must be a Kubernetes namespace name').max(63).optional(),
    /** A kubeconfig file; without it the pod's service account, else $KUBECONFIG or ~/.kube/config. */
    kubeconfig: z.string().min(1).optional(),
    /** A context of the kubeconfig (default: its current-context). */
    context: z.string().min(1).optional(),
    /** Also write `ca.crt`: the last certificate of the chain. */
    includeCa: z.boolean().default(false),
    /** Take over an existing Secret that lacks certkeeper's label (its other keys are kept). */
    adopt: z.boolean().default(false),
    labels: z.record(userKey, z.string().max(63).regex(LABEL_VALUE, 'must be a Kubernetes label value')).default({}),
    annotations: z.record(userKey, z.string()).default({}),
  })
  .strict();

export type KubernetesSecretSinkConfig = z.infer<typeof kubernetesSecretSinkSchema>;

/** One place for every agent: deployed once, by whichever agent holds the certificate's lock. */
export const kubernetesSecretSinkKind = sinkKind({
  schema: kubernetesSecretSinkSchema,
  capabilities: { writesFiles: false, reloads: false, scope: 'shared' },
  resolvePaths: (config, baseDir) => (config.kubeconfig ? { ...config, kubeconfig: path.resolve(baseDir, config.kubeconfig) } : config),
});

/** The Secret name for a certificate; certificate names may hold upper case and "_", names may not. */
export function secretNameFor(config: Pick<KubernetesSecretSinkConfig, 'secretName'>, certName: string): string {
  return config.secretName.replaceAll('{cert}', certName.toLowerCase().replace(/_/g, '-'));
}

/** A label value for the certificate name: itself when valid, else a shortened, hashed form. */
export function labelValueFor(certName: string, hash: (text: string) => string): string {
  if (certName.length <= 63 && LABEL_VALUE.test(certName)) return certName;
  const trimmed = certName.slice(0, 54).replace(/[^A-Za-z0-9]+$/, '');
  return `${trimmed}-${hash(certName).slice(0, 8)}`;
}

export function isValidSecretName(name: string): boolean {
  return name.length <= 253 && DNS_SUBDOMAIN.test(name);
}
