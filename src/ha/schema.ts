// The `ha:` config section: several replicas of `certkeeper run` elect one leader through a
// coordination.k8s.io/v1 Lease; only the leader orders and deploys.

import { z } from 'zod';
import { durationMs } from '../core/fields.js';

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const kubernetesHaSchema = z
  .object({
    /** The Lease object the replicas share. */
    leaseName: z.string().max(253).regex(NAME, 'must be a lower-case DNS name'),
    /** Default: the namespace of the kubeconfig context, or the pod's own namespace in-cluster. */
    namespace: z
      .string()
      .max(63)
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a Kubernetes namespace name')
      .optional(),
    /** How long a lease holds without renewal before another replica may take it (default 15s). */
    leaseDuration: durationMs.default(15_000),
    /** How often the leader renews, and a follower retries (default: a third of leaseDuration). */
    renewInterval: durationMs.optional(),
    /** This replica's name in the Lease (default: host name plus a random suffix; the pod name in Kubernetes). */
    identity: z.string().min(1).max(128).optional(),
    kubeconfig: z.string().min(1).optional(),
    context: z.string().min(1).optional(),
  })
  .strict()
  .refine((ha) => ha.leaseDuration >= 2_000, { message: 'leaseDuration must be at least 2s', path: ['leaseDuration'] })
  .refine((ha) => ha.renewInterval === undefined || (ha.renewInterval >= 100 && ha.renewInterval * 2 <= ha.leaseDuration), {
    message: 'renewInterval must be at least 100ms and at most half of leaseDuration (a renewal may fail once without losing the lease)',
    path: ['renewInterval'],
  });

export const haSchema = z.object({ kubernetes: kubernetesHaSchema }).strict();

export type HaConfig = z.infer<typeof haSchema>;
export type KubernetesHaConfig = z.infer<typeof kubernetesHaSchema>;
