// `issuers:`: an ordered list of ACME CAs, tried in turn when one fails on its side (5xx, rate
// limit, outage). `acme:` is the one-issuer case. Owns the cross-checks: exactly one of the two,
// unique names, and per-certificate `issuers:` that name listed issuers (checked on the tree as
// written, so they are found whatever else is wrong).

import type { z } from 'zod';
import { buildAcme, type AcmeSettings } from './acme.js';
import type { configSchema } from './schema.js';
import type { TreeProblem } from './tree-problem.js';

type RawConfig = z.infer<typeof configSchema>;

export interface IssuerSettings extends AcmeSettings {
  /** What certificates' `issuers:` and status call it: `name:`, else "default" (`acme:`) or "issuer<N>". */
  name: string;
}

/** The name given to the issuer of `acme:`. */
export const DEFAULT_ISSUER_NAME = 'default';

/** Every issuer's settings (`acme:` as "default", else `issuers:` in order); none when both or neither are given. */
export function buildIssuers(raw: Pick<RawConfig, 'acme' | 'issuers'>, baseDir: string, problems: TreeProblem[]): IssuerSettings[] {
  if (raw.acme && raw.issuers) return [];
  if (raw.acme) return [{ ...buildAcme(raw.acme, baseDir, problems, ['acme']), name: DEFAULT_ISSUER_NAME }];
  return (raw.issuers ?? []).map((entry, index) => {
    const { name, ...acme } = entry;
    return { ...buildAcme(acme, baseDir, problems, ['issuers', index]), name: name ?? issuerName(index) };
  });
}

function issuerName(index: number): string {
  return `issuer${index + 1}`;
}

/**
 * The cross-checks, on the tree as written (before the schema, skipping what has the wrong shape),
 * so they are reported along with any schema problem: `acme:` or `issuers:` (one of them), unique
 * names, and certificates' `issuers:` that name listed issuers.
 */
export function issuerProblems(tree: Record<string, unknown>): TreeProblem[] {
  const problems: TreeProblem[] = [];
  const hasAcme = tree.acme !== undefined && tree.acme !== null;
  const hasList = tree.issuers !== undefined && tree.issuers !== null;
  if (hasAcme && hasList) return [{ path: ['issuers'], message: 'give either acme: (one CA) or issuers: (an ordered list), not both' }];
  if (!hasAcme && !hasList) return [{ path: ['acme'], message: 'is required (or issuers:, an ordered list of CAs)' }];
  let names: string[] | undefined;
  if (hasAcme) names = [DEFAULT_ISSUER_NAME];
  else if (Array.isArray(tree.issuers)) {
    const seen = new Map<string, number>();
    names = tree.issuers.map((entry: unknown, index) => {
      const named = entry !== null && typeof entry === 'object' && typeof (entry as { name?: unknown }).name === 'string';
      const name = named ? (entry as { name: string }).name : issuerName(index);
      const previous = seen.get(name);
      if (previous !== undefined) problems.push({ path: ['issuers', index, 'name'], message: `"${name}" is already used by issuers[${previous}]` });
      seen.set(name, index);
      return name;
    });
  }
  if (!names || !Array.isArray(tree.certificates)) return problems;
  const known = new Set(names);
  tree.certificates.forEach((cert: unknown, index) => {
    const listed = cert !== null && typeof cert === 'object' ? (cert as { issuers?: unknown }).issuers : undefined;
    if (!Array.isArray(listed)) return;
    listed.forEach((name: unknown, j) => {
      if (typeof name === 'string' && !known.has(name)) {
        problems.push({ path: ['certificates', index, 'issuers', j], message: `no issuer named "${name}" (defined: ${names.join(', ') || 'none'})` });
      }
    });
    if (new Set(listed).size !== listed.length) problems.push({ path: ['certificates', index, 'issuers'], message: 'an issuer is listed twice' });
  });
  return problems;
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
