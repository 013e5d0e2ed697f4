// The configuration schema: one zod schema, types inferred from it. Provider and sink
// schemas live beside their implementations and are composed here.

import { z } from 'zod';
import { agentSchema, stateSchema } from '../state/schema.js';
import { durationMs, hostPort, longDurationMs } from '../core/fields.js';
import { cronProblem } from './cron.js';
import { KEY_TYPES } from '../core/types.js';
import { parseDuration } from '../core/duration.js';
import { dnsProviderConfigSchema } from '../dns/schema.js';
import { sinkConfigSchema } from '../sinks/schema.js';
import { httpSettingsSchema } from '../observe/http-schema.js';
import { notifySchema } from '../observe/notify/schema.js';
import { haSchema } from '../ha/schema.js';
import { verifySchema, watchSchema } from '../verify/schema.js';

export const DIRECTORY_ALIASES: Record<string, string> = {
  letsencrypt: 'https://acme-v02.api.letsencrypt.org/directory',
  'letsencrypt-staging': 'https://acme-staging-v02.api.letsencrypt.org/directory',
};

/** "33%" or a duration ("30d", "12h"). */
export const renewBeforeSchema = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const text = String(value).trim();
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (percent) {
    const fraction = Number(percent[1]) / 100;
    if (fraction <= 0 || fraction >= 1) {
      ctx.addIssue({ code: 'custom', message: 'a percentage must be between 0% and 100% (exclusive)' });
      return z.NEVER;
    }
    return { kind: 'fraction' as const, fraction };
  }
  const ms = typeof value === 'string' ? parseDuration(text) : undefined;
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is neither a percentage of the lifetime (33%) nor a duration (30d, 12h)` });
    return z.NEVER;
  }
  return { kind: 'duration' as const, ms };
});

/** A third of the lifetime, half for lifetimes under 10 days (Let's Encrypt's integration guide). */
export const DEFAULT_RENEW_BEFORE = { kind: 'fraction' as const, fraction: 0.33, shortLifetimeFraction: 0.5 };

const eabSchema = z
  .object({
    kid: z.string().min(1),
    /** base64url HMAC key (secret: ${ENV} or hmacKeyFile). */
    hmacKey: z.string().min(1),
  })
  .strict();

export const ISSUER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const acmeProfileName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a profile name: letters, digits, ".", "_" and "-"');

/** A local budget of one CA limit: at most `limit` in any `window`. */
const budgetSchema = z
  .object({ limit: z.number().int().min(1), window: longDurationMs.refine((ms) => ms > 0, 'a window longer than 0') })
  .strict()
  .transform(({ limit, window }) => ({ limit, windowMs: window }));

/**
 * The CA's published limits, counted locally from history (plan/budget.ts). Let's Encrypt's are
 * known and used by default; `false` turns the local budgets off.
 */
const rateLimitsSchema = z.union([z.literal(false), z.object({ newOrders: budgetSchema.optional(), failedAuthorizations: budgetSchema.optional() }).strict()]);

/** A requested lifetime (ACME `notAfter` on new orders), for CAs that honour it. */
const lifetimeSchema = longDurationMs.refine((ms) => ms >= 60_000, 'a lifetime of at least 1m');

/** An overall deadline on talking to a CA (acme/deadline.ts): at least 1s; durationMs caps it at what a timer holds. */
const acmeTimeoutSchema = durationMs.refine((ms) => ms >= 1000, 'must be at least 1s');

const acmeSchema = z
  .object({
    directory: z
      .string()
      .min(1)
      .transform((value, ctx) => {
        const url = DIRECTORY_ALIASES[value] ?? value;
        if (!/^https?:\/\/[^\s]+$/.test(url)) {
          ctx.addIssue({ code: 'custom', message: `"${value}" is neither a known alias (${Object.keys(DIRECTORY_ALIASES).join(', ')}) nor an http(s) URL` });
          return z.NEVER;
        }
        return url;
      }),
    email: z.email().optional(),
    /** Extra CA certificates (PEM file) to trust for the ACME server's HTTPS. */
    caBundle: z.string().min(1).optional(),
    eab: eabSchema.optional(),
    /** Issuer common name of the preferred alternate chain. */
    preferredChain: z.string().min(1).optional(),
    /** Where dry runs and rehearsals go (a known twin such as Let's Encrypt staging is used when absent). */
    stagingDirectory: z
      .string()
      .regex(/^https?:\/\/\S+$/, 'must be an http(s) URL')
      .optional(),
    /** ACME profile to request (classic, tlsserver, shortlived, or any the directory lists). */
    profile: acmeProfileName.optional(),
    /** Ask for certificates of this lifetime (ACME `notAfter`); only some CAs honour it. */
    lifetime: lifetimeSchema.optional(),
    rateLimits: rateLimitsSchema.optional(),
    /** Overall deadline of each request to the CA, however steadily it trickles bytes (default 60s). */
    requestTimeout: acmeTimeoutSchema.optional(),
    /** Overall deadline of one order, DNS challenge included (default 10m, or propagation timeout + 5m). */
    orderTimeout: acmeTimeoutSchema.optional(),
  })
  .strict();

/** One entry of `issuers:` (an ordered fallback list): `acme:` plus a name certificates can refer to. */
const issuerSchema = acmeSchema.extend({ name: z.string().regex(ISSUER_NAME, 'names: letters, digits, ".", "_" and "-"').optional() }).strict();

const defaultsSchema = z
  .object({
    renewBefore: renewBeforeSchema.default(DEFAULT_RENEW_BEFORE),
    keyType: z.enum(KEY_TYPES).default('ecdsa-p256'),
    reuseKey: z.boolean().default(false),
  })
  .strict();

export const CERT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

const certificateSchema = z
  .object({
    /** Used in paths and metrics: letters, digits, ".", "_", "-". */
    name: z.string().regex(CERT_NAME, 'must be letters, digits, ".", "_" or "-" (it names folders), at most 100 characters'),
    domains: z.array(z.string()).min(1, 'needs at least one domain').max(100, 'at most 100 names per certificate'),
    dns: z.string().min(1),
    sinks: z.array(z.string().min(1)).default([]),
    renewBefore: renewBeforeSchema.optional(),
    keyType: z.enum(KEY_TYPES).optional(),
    reuseKey: z.boolean().optional(),
    /** Endpoints that must serve the new certificate after a deploy (src/verify/README.md). */
    verify: verifySchema.optional(),
    /** Names from `issuers:`, in the order to try them (all, in list order, when absent). */
    issuers: z.array(z.string().min(1)).min(1).optional(),
    profile: acmeProfileName.optional(),
    /** Requested lifetime (ACME `notAfter`), overriding the issuer's. */
    lifetime: lifetimeSchema.optional(),
  })
  .strict();

export const configSchema = z
  .object({
    /** Shorthand for `state: { type: file, dir: PATH }` (default /var/lib/certkeeper). */
    stateDir: z.string().min(1).optional(),
    /** Where state lives: a folder, or PostgreSQL shared by many agents (src/state/schema.ts). */
    state: stateSchema.optional(),
    /** Who this agent is among those sharing a store. */
    agent: agentSchema.optional(),
    /** The CA; or `issuers:` (not both) for an ordered fallback list. */
    acme: acmeSchema.optional(),
    issuers: z.array(issuerSchema).min(1).optional(),
    /** Recursive resolvers ("host:port") for CNAME and nameserver discovery; the system's when absent. */
    resolvers: z.array(hostPort).min(1).optional(),
    defaults: defaultsSchema.default({ renewBefore: DEFAULT_RENEW_BEFORE, keyType: 'ecdsa-p256', reuseKey: false }),
    /** Certificates ordered or deployed at once. */
    maxConcurrent: z.number().int().min(1).max(64).default(4),
    /** Certificates in the renewal pipeline at once (waiting on DNS or the CA holds no slot of maxConcurrent); default 512. */
    maxInFlight: z.number().int().min(1).max(10_000).optional(),
    /** Waits after the 1st, 2nd, ... failed order; the last repeats. A CA's Retry-After wins when longer. */
    backoff: z.array(longDurationMs).min(1).default([60_000, 600_000, 6_000_000, 86_400_000]),
    /** `certkeeper run`: when to plan every certificate (cron, 5 or 6 fields); default twice a day at a random minute. */
    schedule: z
      .string()
      .superRefine((text, ctx) => {
        const problem = cronProblem(text);
        if (problem) ctx.addIssue({ code: 'custom', message: `not a usable cron expression (e.g. "17 3,15 * * *"): ${problem}` });
      })
      .optional(),
    /** `certkeeper run`: metrics, health, status and the reload control endpoint; off when absent. */
    http: httpSettingsSchema.optional(),
    /** `certkeeper run`: where alerts go. */
    notify: notifySchema.default({}),
    /** Failures inside this window before expiry are critical (default: 7 days or 10% of the lifetime, whichever is smaller). */
    alertBefore: renewBeforeSchema.optional(),
    /** `certkeeper run`: a dry run per certificate this often (spread out, against the staging directory). */
    rehearse: z
      .object({ every: longDurationMs.refine((ms) => ms >= 60_000, 'must be at least 1m') })
      .strict()
      .optional(),
    /** `certkeeper run`: how long SIGTERM waits for in-flight work before abandoning it cleanly. */
    shutdownTimeout: durationMs.default(30_000),
    /** `certkeeper run` with several replicas: leader election through a Kubernetes Lease (src/ha/). */
    ha: haSchema.optional(),
    dns: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'names: letters, digits, "_" and "-"'), dnsProviderConfigSchema),
    sinks: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'names: letters, digits, "_" and "-"'), sinkConfigSchema).default({}),
    /** Endpoints certkeeper does not manage, probed for expiry by `certkeeper run` and `probe` (src/verify/README.md). */
    watch: watchSchema.optional(),
    certificates: z.array(certificateSchema).default([]),
  })
  .strict();

export type RawConfig = z.infer<typeof configSchema>;
export type { DnsProviderConfig } from '../dns/schema.js';
export type { SinkConfig } from '../sinks/schema.js';
