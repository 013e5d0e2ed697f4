// `issuers:`: an ordered list of ACME CAs, tried in turn when one fails on its side (5xx, rate
// limit, outage). `acme:` is the one-issuer case. Owns the cross-checks: exactly one of the two,
// unique names, and per-certificate `issuers:` that name listed issuers.

import type { z } from 'zod';
import type { RateLimits } from '../core/types.js';
import type { AcmeSettings } from './load.js';
import type { configSchema } from './schema.js';
import type { TreeProblem, YamlPath } from './expand.js';

type RawConfig = z.infer<typeof configSchema>;
export type RawAcme = NonNullable<RawConfig['acme']>;

export interface IssuerSettings extends AcmeSettings {
  /** What certificates' `issuers:` and status call it: `name:`, else "default" (`acme:`) or "issuer<N>". */
  name: string;
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

/** The name given to the issuer of `acme:`. */
export const DEFAULT_ISSUER_NAME = 'default';

export function buildIssuers(
  raw: RawConfig,
  baseDir: string,
  problems: TreeProblem[],
  buildAcme: (raw: RawAcme, baseDir: string, problems: TreeProblem[], at: YamlPath) => AcmeSettings,
): IssuerSettings[] {
  if (raw.acme && raw.issuers) {
    problems.push({ path: ['issuers'], message: 'give either acme: (one CA) or issuers: (an ordered list), not both' });
    return [];
  }
  if (!raw.acme && !raw.issuers) {
    problems.push({ path: ['acme'], message: 'is required (or issuers:, an ordered list of CAs)' });
    return [];
  }
  const issuers: IssuerSettings[] = raw.acme
    ? [{ ...buildAcme(raw.acme, baseDir, problems, ['acme']), name: DEFAULT_ISSUER_NAME }]
    : (raw.issuers ?? []).map((entry, index) => {
        const { name, ...acme } = entry;
        return { ...buildAcme(acme, baseDir, problems, ['issuers', index]), name: name ?? `issuer${index + 1}` };
      });
  const seen = new Map<string, number>();
  issuers.forEach((issuer, index) => {
    const previous = seen.get(issuer.name);
    if (previous !== undefined) problems.push({ path: ['issuers', index, 'name'], message: `"${issuer.name}" is already used by issuers[${previous}]` });
    seen.set(issuer.name, index);
  });
  raw.certificates.forEach((cert, index) => {
    (cert.issuers ?? []).forEach((name, j) => {
      if (!seen.has(name)) {
        problems.push({ path: ['certificates', index, 'issuers', j], message: `no issuer named "${name}" (defined: ${issuers.map((i) => i.name).join(', ') || 'none'})` });
      }
    });
    if (cert.issuers && new Set(cert.issuers).size !== cert.issuers.length) problems.push({ path: ['certificates', index, 'issuers'], message: 'an issuer is listed twice' });
  });
  return issuers;
}

/** Every configured CA in fallback order: `issuers:`, else the one of `acme:` (a config built by hand may carry only that). */
export function configuredIssuers(config: { acme: AcmeSettings; issuers?: IssuerSettings[] | undefined }): IssuerSettings[] {
  return config.issuers?.length ? config.issuers : [{ ...config.acme, name: DEFAULT_ISSUER_NAME }];
}

/** The issuers of one certificate, in the order to try them. */
export function issuersFor(all: IssuerSettings[], names: string[] | undefined): IssuerSettings[] {
  if (!names) return all;
  return names.flatMap((name) => all.filter((issuer) => issuer.name === name));
}

/**
 * The configured issuer a certificate is reported under (status, the metrics' `issuer` label): the
 * one whose directory issued the stored certificate (the certificate's own issuers first), else
 * (nothing stored, or its CA no longer configured) the one its next order goes to first. Always a
 * configured name, so a label holding it has no more values than there are issuers.
 */
export function reportedIssuer(all: IssuerSettings[], names: string[] | undefined, storedDirectoryUrl: string | undefined): string | undefined {
  const own = issuersFor(all, names);
  const issuedBy = storedDirectoryUrl === undefined ? undefined : [...own, ...all].find((issuer) => issuer.directoryUrl === storedDirectoryUrl);
  return (issuedBy ?? own[0])?.name;
}
