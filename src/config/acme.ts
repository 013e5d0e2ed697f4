// One CA's settings (`acme:`, or one entry of `issuers:`) as the config gives them, with the CA
// bundle read and the rate-limit budgets filled in. config/issuers.ts orders them into the
// fallback chain.

import path from 'node:path';
import type { z } from 'zod';
import type { RateLimits } from '../core/types.js';
import { MAX_CA_BUNDLE_BYTES, readFailure, readFileBounded } from './bounds.js';
import type { TreeProblem, YamlPath } from './tree-problem.js';
import type { configSchema } from './schema.js';

export type RawAcme = NonNullable<z.infer<typeof configSchema>['acme']>;

export interface AcmeSettings {
  directoryUrl: string;
  email: string | null;
  caBundlePath?: string;
  caBundlePem?: string;
  eab?: { kid: string; hmacKey: string };
  preferredChain?: string;
  /** ACME profile to request (`profile:`); a certificate's own wins. */
  profile?: string;
  /** Where dry runs go instead of directoryUrl (acme.stagingDirectory). */
  stagingDirectoryUrl?: string;
  /** Requested certificate lifetime (ACME `notAfter` = now + this); a certificate's own wins. */
  lifetimeMs?: number;
  /** Local budgets of the CA's limits (`rateLimits:`, or Let's Encrypt's published ones); absent: none. */
  rateLimits?: RateLimits;
  /** Overall deadlines (`requestTimeout`, `orderTimeout`); absent: acme/deadline.ts defaults. */
  requestTimeoutMs?: number;
  orderTimeoutMs?: number;
}

const HOUR_MS = 3_600_000;

/**
 * Let's Encrypt's published limits (2026) per account, which certkeeper budgets locally unless
 * `rateLimits:` says otherwise; other CAs publish none, so none are assumed.
 */
export function knownRateLimits(directoryUrl: string): RateLimits {
  if (directoryUrl === 'https://acme-v02.api.letsencrypt.org/directory') {
    return { newOrders: { limit: 300, windowMs: 3 * HOUR_MS }, failedAuthorizations: { limit: 5, windowMs: HOUR_MS } };
  }
  if (directoryUrl === 'https://acme-staging-v02.api.letsencrypt.org/directory') {
    return { newOrders: { limit: 30_000, windowMs: 3 * HOUR_MS }, failedAuthorizations: { limit: 200, windowMs: HOUR_MS } };
  }
  return {};
}

/** One CA's settings; `at` is where it sits in the YAML (`acme` or `issuers[i]`). */
export function buildAcme(raw: RawAcme, baseDir: string, problems: TreeProblem[], at: YamlPath = ['acme']): AcmeSettings {
  const acme: AcmeSettings = { directoryUrl: raw.directory, email: raw.email ?? null };
  if (raw.caBundle) {
    acme.caBundlePath = path.resolve(baseDir, raw.caBundle);
    const read = readFileBounded(acme.caBundlePath, MAX_CA_BUNDLE_BYTES);
    if (!read.ok) {
      problems.push({ path: [...at, 'caBundle'], message: readFailure(acme.caBundlePath, read) });
    } else {
      acme.caBundlePem = read.text;
      if (!acme.caBundlePem.includes('-----BEGIN CERTIFICATE-----')) {
        problems.push({ path: [...at, 'caBundle'], message: `${acme.caBundlePath} holds no PEM certificate` });
      }
    }
  }
  if (raw.eab) acme.eab = { kid: raw.eab.kid, hmacKey: raw.eab.hmacKey };
  if (raw.preferredChain) acme.preferredChain = raw.preferredChain;
  if (raw.stagingDirectory) acme.stagingDirectoryUrl = raw.stagingDirectory;
  if (raw.profile) acme.profile = raw.profile;
  if (raw.lifetime !== undefined) acme.lifetimeMs = raw.lifetime;
  if (raw.requestTimeout !== undefined) acme.requestTimeoutMs = raw.requestTimeout;
  if (raw.orderTimeout !== undefined) acme.orderTimeoutMs = raw.orderTimeout;
  const rateLimits = raw.rateLimits === false ? undefined : { ...knownRateLimits(acme.directoryUrl), ...(raw.rateLimits ?? {}) };
  if (rateLimits && (rateLimits.newOrders || rateLimits.failedAuthorizations)) acme.rateLimits = rateLimits;
  return acme;
}
