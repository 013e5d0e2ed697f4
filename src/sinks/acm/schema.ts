import { z } from 'zod';
import { sinkScopeField } from '../../core/fields.js';
import { sinkKind } from '../contract.js';

/** arn:aws:acm:<region>:<account>:certificate/<id> (also the aws-cn and aws-us-gov partitions). */
export const ACM_CERTIFICATE_ARN = /^arn:aws(?:-[a-z]+)*:acm:([a-z0-9-]+):(\d{12}):certificate\/[A-Za-z0-9-]+$/;

/** The region an ACM certificate ARN names, or undefined when it is not one. */
export function arnRegion(arn: string): string | undefined {
  return ACM_CERTIFICATE_ARN.exec(arn)?.[1];
}

/** Tags certkeeper writes itself; config tags may not use the prefix (nor AWS's own). */
export const TAG_CERT_NAME = 'certkeeper:name';
export const TAG_SINK_NAME = 'certkeeper:sink';
const RESERVED_TAG_PREFIXES = ['certkeeper:', 'aws:'];

const tagKey = z
  .string()
  .min(1)
  .max(128, 'tag keys have at most 128 characters')
  .refine((key) => !RESERVED_TAG_PREFIXES.some((prefix) => key.toLowerCase().startsWith(prefix)), {
    message: `tag keys starting with ${RESERVED_TAG_PREFIXES.map((p) => `"${p}"`).join(' or ')} are reserved`,
  });

export const acmSinkSchema = z
  .object({
    type: z.literal('acm'),
    /** Among agents sharing a store: `local` deploys on every agent, `shared` once (see sinks/scope.ts). */
    scope: sinkScopeField,
    /** The ACM region, e.g. eu-west-1 (CloudFront reads certificates from us-east-1 only). */
    region: z.string().regex(/^[a-z]{2}(?:-[a-z]+)+-\d+$/, 'must be an AWS region such as eu-west-1'),
    /** Re-import into this existing certificate instead of importing a new one. */
    certificateArn: z.string().regex(ACM_CERTIFICATE_ARN, 'must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)').optional(),
    /** Applied on the first import only: ACM forbids tags on re-import. */
    tags: z
      .record(tagKey, z.string().max(256, 'tag values have at most 256 characters'))
      .refine((tags) => Object.keys(tags).length <= 48, 'at most 48 tags (ACM allows 50; certkeeper adds 2)')
      .default({}),
    /** An IAM role to assume (STS AssumeRole) with the default credentials before calling ACM. */
    roleArn: z
      .string()
      .regex(/^arn:aws(?:-[a-z]+)*:iam::\d{12}:role\/.+$/, 'must be an IAM role ARN')
      .optional(),
    /** Another ACM endpoint: a VPC interface endpoint, or a local stand-in in tests. */
    endpoint: z.url().optional(),
  })
  .strict()
  .refine((config) => config.certificateArn === undefined || arnRegion(config.certificateArn) === config.region, {
    message: 'certificateArn names another region than `region`; an ACM certificate lives in one region',
    path: ['certificateArn'],
  });

export type AcmSinkConfig = z.infer<typeof acmSinkSchema>;

/** One place for every agent: deployed once, by whichever agent holds the certificate's lock. */
export const acmSinkKind = sinkKind({ schema: acmSinkSchema, capabilities: { writesFiles: false, reloads: false, scope: 'shared' } });

/** What the sink keeps per certificate in the state dir (ctx.state), read back through this schema. */
export const acmSinkStateSchema = z.object({
  certificateArn: z.string().regex(ACM_CERTIFICATE_ARN),
  region: z.string(),
  /** certkeeper's key type of the imported certificate (e.g. ecdsa-p256), and ACM's name for it. */
  keyType: z.string().optional(),
  keyAlgorithm: z.string().optional(),
  /** The serial last sent to ACM (informational: DescribeCertificate is what is trusted). */
  serial: z.string().optional(),
  importedAt: z.string().optional(),
});

export type AcmSinkState = z.infer<typeof acmSinkStateSchema>;
