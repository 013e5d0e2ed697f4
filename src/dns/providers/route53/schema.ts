import { z } from 'zod';
import { durationMs } from '../../../core/fields.js';
import { batchWindowField, propagationFields } from '../../fields.js';
import { bareZoneId } from './records.js';

const httpUrl = z.string().regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, 'must be an http(s) URL, e.g. http://127.0.0.1:4566');

export const route53Schema = z
  .object({
    type: z.literal('route53'),
    /** The hosted zone to write to ("Z0123…" or "/hostedzone/Z0123…"); discovered when absent. */
    hostedZoneId: z
      .string()
      .regex(/^(\/?hostedzone\/)?[A-Za-z0-9]{1,64}$/, 'must be a hosted zone id such as Z0123456789ABC')
      .transform(bareZoneId)
      .optional(),
    /** Which zone discovery picks when a public and a private zone share a name. */
    privateZone: z.boolean().default(false),
    /** Signing region; Route53 is global (us-east-1 in the aws partition, the default). */
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be an AWS region such as us-east-1')
      .optional(),
    /** A role to assume with STS on top of the default credential chain. */
    roleArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, 'must be an IAM role ARN (arn:aws:iam::123456789012:role/name)')
      .optional(),
    /** Route53 API endpoint (tests, VPC endpoints); the SDK's default when absent. */
    endpoint: httpUrl.optional(),
    /** STS endpoint used for roleArn (tests, VPC endpoints); the SDK's default when absent. */
    stsEndpoint: httpUrl.optional(),
    /** TTL of the challenge TXT record (seconds); short, so a retry is not hidden by caches. */
    ttl: z.number().int().min(0).max(86_400).default(10),
    /** Retries on throttling, PriorRequestNotComplete and 5xx, on top of the SDK's own 3 attempts. */
    maxRetries: z.number().int().min(0).max(10).default(5),
    /** How long a change may stay PENDING before present/cleanup fail (AWS: usually < 60 s). */
    changeTimeout: durationMs.refine((ms) => ms >= 1000 && ms <= 30 * 60_000, 'must be between 1s and 30m').default(180_000),
    /** How often GetChange is polled while a change is PENDING. */
    changeInterval: durationMs.refine((ms) => ms >= 100 && ms <= 60_000, 'must be between 100ms and 60s').default(5000),
    /** How long challenge records are collected before they go out as one change per zone. */
    batchWindow: batchWindowField,
    /** Route53 API requests per second at most, across this provider (AWS allows 5 per account). */
    requestsPerSecond: z.number().positive().max(100).default(5),
    ...propagationFields,
  })
  .strict()
  .refine((config) => config.stsEndpoint === undefined || config.roleArn !== undefined, {
    message: 'stsEndpoint is only used with roleArn',
    path: ['stsEndpoint'],
  });

export type Route53Config = z.infer<typeof route53Schema>;
