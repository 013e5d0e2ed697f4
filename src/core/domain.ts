// Domain names: normalisation and validation of the names a certificate may carry.

import { domainToASCII } from 'node:url';

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Lower-cases, converts IDNs to punycode and strips a trailing dot. Returns '' when invalid. */
export function normalizeDomain(name: string): string {
  const trimmed = name.trim().replace(/\.$/, '').toLowerCase();
  if (trimmed.startsWith('*.')) {
    const rest = domainToASCII(trimmed.slice(2));
    return rest ? `*.${rest}` : '';
  }
  return domainToASCII(trimmed);
}

/** Explains why a certificate name is not acceptable, or returns undefined when it is. */
export function domainProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  const ascii = normalizeDomain(name);
  if (!ascii) return 'is not a valid domain name';
  const base = ascii.startsWith('*.') ? ascii.slice(2) : ascii;
  if (base.includes('*')) return 'may only have a wildcard as its whole first label ("*.example.com")';
  if (ascii.length > 253) return 'is longer than 253 characters';
  const labels = base.split('.');
  if (labels.length < 2) return 'must have at least two labels (e.g. "example.com")';
  for (const label of labels) {
    if (!LABEL.test(label)) return `has an invalid label "${label}" (letters, digits and inner hyphens, 1–63 characters)`;
  }
  if (/^\d+$/.test(labels[labels.length - 1]!)) return 'looks like an IP address; ACME DNS-01 needs a domain name';
  return undefined;
}

export function isWildcard(name: string): boolean {
  return name.startsWith('*.');
}

/** The name whose `_acme-challenge` record validates `name`: `*.example.com` → `example.com`. */
export function baseDomain(name: string): string {
  return isWildcard(name) ? name.slice(2) : name;
}

export function challengeName(domain: string): string {
  return `_acme-challenge.${baseDomain(domain)}`;
}
