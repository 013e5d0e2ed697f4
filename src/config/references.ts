// The certificates' cross-checks: unique names, valid domain names, and `dns:` and `sinks:` that
// name entries which exist. They read the tree as written (after ${ENV} and *File, before the
// schema), skipping whatever has the wrong shape, so they run even when a schema problem
// elsewhere keeps the config from being built: `validate` reports every mistake in one run.
// An entry that the schema refuses still counts as defined: a reference to it is not a mistake.
// (Issuer names and `issuers:` references: issuers.ts.)

import { domainProblem, isWildcard, normalizeDomain } from '../core/domain.js';
import { dnsProviderCapabilities, dnsProviderConfigSchema } from '../dns/schema.js';
import type { TreeProblem, YamlPath } from './tree-problem.js';

export function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Problems of `certificates:` against the rest of `tree` (the whole config as a mapping). */
export function certificateProblems(tree: Record<string, unknown>): TreeProblem[] {
  const problems: TreeProblem[] = [];
  const certificates = tree.certificates;
  if (!Array.isArray(certificates)) return problems;
  // `dns:` is required (the schema says so when it is missing); `sinks:` defaults to none.
  const dns = isMapping(tree.dns) ? tree.dns : undefined;
  const sinks = tree.sinks === undefined ? {} : isMapping(tree.sinks) ? tree.sinks : undefined;
  const wildcardCapable = new Map<string, boolean | undefined>();
  const canHoldWildcard = (name: string): boolean | undefined => {
    if (!wildcardCapable.has(name)) {
      // Undefined when the entry fails its schema: that is reported there, and says nothing here.
      const provider = dnsProviderConfigSchema.safeParse(dns![name]);
      wildcardCapable.set(name, provider.success ? dnsProviderCapabilities(provider.data).wildcard : undefined);
    }
    return wildcardCapable.get(name);
  };
  const seenNames = new Map<string, number>();
  certificates.forEach((cert: unknown, index) => {
    if (!isMapping(cert)) return;
    const at: YamlPath = ['certificates', index];
    if (typeof cert.name === 'string') {
      const previous = seenNames.get(cert.name);
      if (previous !== undefined) problems.push({ path: [...at, 'name'], message: `"${cert.name}" is already used by certificates[${previous}]` });
      seenNames.set(cert.name, index);
    }

    const domains = Array.isArray(cert.domains) ? (cert.domains as unknown[]) : [];
    const normalized = new Set<string>();
    domains.forEach((domain, j) => {
      if (typeof domain !== 'string') return;
      const problem = domainProblem(domain);
      if (problem) {
        problems.push({ path: [...at, 'domains', j], message: `"${domain}" ${problem}` });
        return;
      }
      const name = normalizeDomain(domain);
      if (normalized.has(name)) problems.push({ path: [...at, 'domains', j], message: `"${domain}" is listed twice` });
      else normalized.add(name);
    });

    // Own keys only: `dns: constructor` must not find Object.prototype.constructor.
    if (typeof cert.dns === 'string' && dns) {
      if (!Object.hasOwn(dns, cert.dns)) {
        problems.push({ path: [...at, 'dns'], message: `no DNS provider named "${cert.dns}" (defined: ${Object.keys(dns).join(', ') || 'none'})` });
      } else if (canHoldWildcard(cert.dns) === false) {
        const j = domains.findIndex((d) => typeof d === 'string' && isWildcard(d.trim()));
        if (j >= 0)
          problems.push({
            path: [...at, 'domains', j],
            message: `wildcard names need a DNS provider that can hold two TXT values; "${cert.dns}" cannot (wildcard: false)`,
          });
      }
    }

    const listed = cert.sinks === undefined ? [] : cert.sinks;
    if (Array.isArray(listed) && sinks) {
      listed.forEach((sink: unknown, j) => {
        if (typeof sink === 'string' && !Object.hasOwn(sinks, sink)) {
          problems.push({ path: [...at, 'sinks', j], message: `no sink named "${sink}" (defined: ${Object.keys(sinks).join(', ') || 'none'})` });
        }
      });
      if (new Set(listed).size !== listed.length) problems.push({ path: [...at, 'sinks'], message: 'a sink is listed twice' });
    }
  });
  return problems;
}
