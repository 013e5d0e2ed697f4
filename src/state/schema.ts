// The `state:` config section: where certkeeper keeps what it has issued and deployed. A local
// folder (the embedded default; `stateDir: PATH` is shorthand for it), or PostgreSQL or the
// Kubernetes API, shared by any number of agents.

import { z } from 'zod';
import { durationMs } from '../core/fields.js';

/** How long a lock outlives an agent that stopped renewing it (killed, frozen, cut off). */
const lockTtl = durationMs.refine((ms) => ms >= 5_000, 'must be at least 5s (it is renewed every third of it)');

export const DEFAULT_LOCK_TTL_MS = 2 * 60_000;

/**
 * How often a watching agent (`run`) polls the store for changes whose notice was lost (default
 * 20 s, storage/contract.ts): a certificate another agent renewed is deployed within this plus a
 * moment, so at most 25 s keeps the promise of 30 s. At least 1 s (a query per agent each time).
 */
const pollInterval = durationMs.refine((ms) => ms >= 1_000 && ms <= 10 * 60_000, 'must be between 1s and 10m');

export const fileStateSchema = z
  .object({
    type: z.literal('file'),
    dir: z.string().min(1),
    lockTtl: lockTtl.default(DEFAULT_LOCK_TTL_MS),
    pollInterval: pollInterval.optional(),
  })
  .strict();

export const postgresStateSchema = z
  .object({
    type: z.literal('postgres'),
    /** `postgres://user:password@host:5432/db` (secret: `${ENV}` or `urlFile:`). */
    url: z.string().min(1),
    /** Overrides the URL's password (secret: `${ENV}` or `passwordFile:`). */
    password: z.string().min(1).optional(),
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,47}$/, 'must be lower-case letters, digits and _ (at most 48)')
      .default('certkeeper'),
    /** As libpq's; default `disable` on loopback or a unix socket, `verify-full` elsewhere. */
    sslmode: z.enum(['disable', 'require', 'verify-ca', 'verify-full']).optional(),
    sslrootcert: z.string().min(1).optional(),
    /** A 256-bit key (32 bytes, hex or base64): private keys are sealed with AES-256-GCM before they reach the database. */
    encryptionKeyFile: z.string().min(1).optional(),
    lockTtl: lockTtl.default(DEFAULT_LOCK_TTL_MS),
    pollInterval: pollInterval.optional(),
    /** This agent's own folder: the files hooks read when no files sink ran first (default /var/lib/certkeeper). */
    localDir: z.string().min(1).default('/var/lib/certkeeper'),
  })
  .strict();

export const kubernetesStateSchema = z
  .object({
    type: z.literal('kubernetes'),
    /** Default: the pod's own namespace in-cluster, else the kubeconfig context's. */
    namespace: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a Kubernetes namespace name')
      .optional(),
    /** Starts the name of every object certkeeper keeps (`<prefix>-cert-www`), and labels them. */
    prefix: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]{0,22}[a-z0-9])?$/, 'must be lower-case letters, digits and "-" (at most 24)')
      .default('certkeeper'),
    /** As in `ha.kubernetes`: a kubeconfig file (default: in-cluster, else $KUBECONFIG) and its context. */
    kubeconfig: z.string().min(1).optional(),
    context: z.string().min(1).optional(),
    /** A 256-bit key: private keys are sealed before they reach the API server (besides etcd's own encryption). */
    encryptionKeyFile: z.string().min(1).optional(),
    lockTtl: lockTtl.default(DEFAULT_LOCK_TTL_MS),
    /** This agent's own folder: the files hooks read when no files sink ran first (default /var/lib/certkeeper). */
    localDir: z.string().min(1).default('/var/lib/certkeeper'),
  })
  .strict();

export const stateSchema = z.discriminatedUnion('type', [fileStateSchema, postgresStateSchema, kubernetesStateSchema], {
  error: 'state.type must be "file", "postgres" or "kubernetes"',
});

export type StateConfig = z.infer<typeof stateSchema>;

/** An agent id: it names keys and lock holders. */
export const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** `agent:`: who this agent is among those sharing one store. */
export const agentSchema = z
  .object({
    /** Default: CERTKEEPER_AGENT_ID, else the host name. Letters, digits, ".", "_", "-". */
    id: z.string().regex(AGENT_ID, 'must be letters, digits, ".", "_" or "-", at most 63 characters').optional(),
  })
  .strict();
