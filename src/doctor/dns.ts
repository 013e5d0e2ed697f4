// DNS checks. Per provider: its credentials work (rfc2136: a TSIG-signed SOA query is accepted;
// route53: the zone is found and its record sets listed; exec: the hook is executable). Per
// certificate name: the `_acme-challenge` name (after CNAMEs) lies in a zone the provider
// controls, every authoritative nameserver of that zone answers with the same SOA serial, and
// CAA records, if any, allow every CA the certificate may be issued by.

import { describeError, isCertkeeperError } from '../core/errors.js';
import type { CertificateSpec } from '../core/types.js';
import type { DnsProviderConfig } from '../config/schema.js';
import { authoritativeNameservers, findZone, lookup } from '../dns/resolver.js';
import { query, exchangeSigned } from '../dns/wire/client.js';
import { RCODE, encodeQuery, isInZone, normalizeName, rcodeName, rdata, sameName } from '../dns/wire/message.js';
import { tsigKey } from '../dns/wire/tsig.js';
import { certificateIssuers, issuerPrefix, probeDirectory } from './acme.js';
import { configuredIssuers } from '../config/issuers.js';
import { fail, pass, warn, type Check, type CheckResult, type DoctorContext } from './contract.js';
import { awsCode, awsProblem, AWS_PERMISSION_ERRORS } from './aws.js';
import { executableProblem } from './executable.js';

/** The names whose `_acme-challenge` records a certificate needs (a wildcard shares its base's). */
export function challengeNames(spec: CertificateSpec): string[] {
  return [...new Set(spec.domains.map((d) => `_acme-challenge.${d.replace(/^\*\./, '')}`))];
}

export interface Delegation {
  name: string;
  /** Where the TXT record really lives (the name itself without a CNAME). */
  target: string;
  chain: string[];
  /** Set when a hop could not be resolved (the chain ends there). */
  brokenAt?: string;
}

/** Follows CNAMEs from `name` one hop at a time, keeping the chain even when a later hop fails. */
export async function followDelegation(name: string, ctx: DoctorContext): Promise<Delegation> {
  const chain = [normalizeName(name)];
  for (let hop = 0; hop < 8; hop++) {
    const current = chain[chain.length - 1]!;
    let response;
    try {
      ({ response } = await lookup(current, 'CNAME', ctx.resolvers, { timeoutMs: ctx.dnsTimeoutMs, signal: ctx.signal, clock: ctx.clock }));
    } catch (error) {
      if (hop === 0) throw error;
      return { name: chain[0]!, target: current, chain, brokenAt: current };
    }
    const cname = response.answers.find((a) => a.type === 'CNAME' && sameName(a.name, current));
    if (!cname) return { name: chain[0]!, target: current, chain };
    const next = normalizeName(String(rdata(cname)));
    if (chain.includes(next)) throw new Error(`CNAME loop: ${[...chain, next].join(' → ')}`);
    chain.push(next);
  }
  throw new Error(`more than 8 CNAMEs from ${chain[0]}`);
}

/** Whether `provider` can write TXT records at `fqdn`, and the zone it would write into. */
export async function providerControls(
  provider: DnsProviderConfig,
  fqdn: string,
  ctx: DoctorContext,
): Promise<{ ok: boolean; zone?: string; message: string }> {
  switch (provider.type) {
    case 'rfc2136': {
      if (provider.zone !== undefined) {
        const zone = normalizeName(provider.zone);
        return isInZone(fqdn, zone) ? { ok: true, zone, message: `in zone ${zone}` } : { ok: false, message: `${fqdn} is outside the configured zone ${zone}` };
      }
      try {
        const zone = await findZone(fqdn, [provider.server], { timeoutMs: Math.min(provider.timeout, ctx.dnsTimeoutMs), signal: ctx.signal, clock: ctx.clock });
        // A root or top-level answer is a resolver's, not a zone anyone updates for us.
        if (!zone.includes('.')) return { ok: false, message: `${provider.server} serves no zone holding ${fqdn} (only "${zone || '.'}")` };
        return { ok: true, zone, message: `in zone ${zone} on ${provider.server}` };
      } catch (error) {
        if (isCertkeeperError(error, 'DNS_ZONE_NOT_FOUND')) return { ok: false, message: `${provider.server} serves no zone holding ${fqdn}` };
        return { ok: false, message: `cannot ask ${provider.server} about ${fqdn}: ${describeError(error)}` };
      }
    }
    case 'route53': {
      try {
        const zone = await route53Zone(provider, fqdn, ctx);
        if (zone === undefined) return { ok: false, message: `no ${provider.privateZone ? 'private' : 'public'} hosted zone holds ${fqdn}` };
        if (zone.name === null) return { ok: false, message: `hosted zone ${zone.id} does not hold ${fqdn}` };
        return { ok: true, ...(zone.name ? { zone: zone.name } : {}), message: `in hosted zone ${zone.name ?? zone.id}${zone.name ? ` (${zone.id})` : ''}` };
      } catch (error) {
        return { ok: false, message: `Route53: ${awsProblem(error)}` };
      }
    }
    default:
      // An exec hook may write anywhere; only the CA's validation can tell.
      return { ok: true, message: 'exec provider: control of the zone cannot be checked' };
  }
}

type Route53Config = Extract<DnsProviderConfig, { type: 'route53' }>;

/**
 * The hosted zone the provider would write `fqdn` into, after listing its record sets (which proves
 * the credentials may read it). `name` is null when the configured hostedZoneId does not hold
 * `fqdn`, and absent when its name could not be looked up (ListHostedZonesByName is not needed
 * with hostedZoneId, so it may be denied). Undefined: no hosted zone found.
 */
async function route53Zone(config: Route53Config, fqdn: string, ctx: DoctorContext): Promise<{ id: string; name?: string | null } | undefined> {
  const { createRoute53Api } = await import('../dns/providers/route53/api.js');
  const { zoneCandidates, fromRoute53Name, bareZoneId } = await import('../dns/providers/route53/records.js');
  const api = await createRoute53Api(config, 'certkeeper-doctor');
  if (config.hostedZoneId !== undefined) {
    const id = bareZoneId(config.hostedZoneId);
    await api.listResourceRecordSets({ zoneId: id, startName: fqdn, startType: 'TXT', maxItems: 1 }, ctx.signal);
    try {
      for (const candidate of zoneCandidates(fqdn)) {
        const page = await api.listHostedZonesByName({ dnsName: candidate, maxItems: 10 }, ctx.signal);
        if (page.zones.some((z) => z.id === id && fromRoute53Name(z.name) === candidate)) return { id, name: candidate };
      }
    } catch (error) {
      if (AWS_PERMISSION_ERRORS.has(awsCode(error) ?? '')) return { id };
      throw error;
    }
    return { id, name: null };
  }
  for (const candidate of zoneCandidates(fqdn)) {
    const page = await api.listHostedZonesByName({ dnsName: candidate, maxItems: 10 }, ctx.signal);
    const zone = page.zones.find((z) => fromRoute53Name(z.name) === candidate && z.privateZone === config.privateZone);
    if (zone) {
      await api.listResourceRecordSets({ zoneId: zone.id, startName: fqdn, startType: 'TXT', maxItems: 1 }, ctx.signal);
      return { id: zone.id, name: candidate };
    }
  }
  return undefined;
}

/** Credentials of one DNS provider; `probeName` is a challenge name it serves (for zone lookups). */
export function dnsCredentialsCheck(name: string, provider: DnsProviderConfig, probeName: string | undefined): Check {
  const check = 'dns.credentials';
  return {
    name: check,
    async run(ctx) {
      switch (provider.type) {
        case 'exec': {
          const problem = await executableProblem(provider.command[0]!, provider.cwd ?? process.cwd(), provider.env.PATH ?? process.env.PATH);
          return [problem ? fail(check, `${name}: ${problem}`) : pass(check, `${name}: hook ${provider.command[0]} is executable`)];
        }
        case 'route53': {
          if (probeName === undefined) return [warn(check, `${name}: not checked (no certificate uses it)`)];
          // Where the TXT record really goes: a CNAME may move it into another hosted zone.
          const target = (await followDelegation(probeName, ctx).catch(() => undefined))?.target ?? probeName;
          const found = await providerControls(provider, target, ctx);
          return [found.ok ? pass(check, `${name}: ${found.message}; record sets listed`) : fail(check, `${name}: ${found.message}`)];
        }
        case 'rfc2136':
          return [await tsigResult(name, provider, probeName, ctx)];
      }
    },
  };
}

type Rfc2136Config = Extract<DnsProviderConfig, { type: 'rfc2136' }>;

async function tsigResult(name: string, provider: Rfc2136Config, probeName: string | undefined, ctx: DoctorContext): Promise<CheckResult> {
  const check = 'dns.credentials';
  let zone = provider.zone !== undefined ? normalizeName(provider.zone) : undefined;
  if (zone === undefined && probeName !== undefined) {
    const found = await providerControls(provider, probeName, ctx);
    zone = found.zone;
  }
  const key = tsigKey(provider.tsigKeyName, provider.tsigAlgorithm, provider.tsigSecret);
  const message = encodeQuery(zone ?? '.', 'SOA', { recursionDesired: false });
  let result;
  try {
    result = await exchangeSigned(provider.server, message.bytes, key, {
      timeoutMs: Math.min(provider.timeout, ctx.dnsTimeoutMs),
      signal: ctx.signal,
      now: () => ctx.clock.now(),
    });
  } catch (error) {
    return fail(check, `${name}: cannot reach ${provider.server}: ${describeError(error)}`);
  }
  const { response, tsig } = result;
  if (tsig.status === 'server-error') {
    const hint =
      tsig.errorName === 'BADSIG'
        ? 'wrong TSIG secret or algorithm'
        : tsig.errorName === 'BADKEY'
          ? 'the server does not know this key'
          : tsig.errorName === 'BADTIME'
            ? 'clocks differ too much'
            : 'rejected';
    return fail(check, `${name}: ${provider.server} rejected TSIG key "${key.name}": ${tsig.errorName} (${hint})`);
  }
  if (tsig.status === 'invalid') return fail(check, `${name}: the answer's TSIG signature is invalid (${tsig.reason}): wrong secret?`);
  if (response.rcode === RCODE.NOTAUTH) return fail(check, `${name}: ${provider.server} rejected TSIG key "${key.name}" (NOTAUTH)`);
  if (tsig.status === 'unsigned') return warn(check, `${name}: ${provider.server} answered ${rcodeName(response.rcode)} without a signature (key not checked)`);
  return pass(check, `${name}: ${provider.server} accepted TSIG key "${key.name}"${zone ? ` (SOA ${zone})` : ''}`);
}

/** Per certificate: delegation, nameserver agreement and CAA, for each of its challenge names. */
export function certificateDnsCheck(spec: CertificateSpec): Check {
  return {
    name: 'dns.delegation',
    cert: spec.name,
    async run(ctx) {
      const provider = ctx.config.dns[spec.dns];
      if (!provider) return [fail('dns.delegation', `no DNS provider named "${spec.dns}"`, spec.name)];
      const results = await Promise.all([
        ...challengeNames(spec).map((name) => delegationResults(spec, provider, name, ctx)),
        ...spec.domains.map((domain) => caaResults(spec, domain, ctx)),
      ]);
      return results.flat();
    },
  };
}

async function delegationResults(spec: CertificateSpec, provider: DnsProviderConfig, name: string, ctx: DoctorContext): Promise<CheckResult[]> {
  const cert = spec.name;
  let delegation: Delegation;
  try {
    delegation = await followDelegation(name, ctx);
  } catch (error) {
    return [fail('dns.delegation', `${name}: ${describeError(error)}`, cert)];
  }
  const via = delegation.chain.length > 1 ? ` (CNAME ${delegation.chain.join(' → ')})` : '';
  const control = await providerControls(provider, delegation.target, ctx);
  if (!control.ok) {
    const broken = delegation.brokenAt ? `; ${delegation.brokenAt} does not resolve` : '';
    return [fail('dns.delegation', `${name}${via}: provider "${spec.dns}" does not control it: ${control.message}${broken}`, cert)];
  }
  const results = [pass('dns.delegation', `${name}${via}: ${control.message}`, cert)];
  const zone =
    control.zone ??
    (await findZone(delegation.target, ctx.resolvers, { timeoutMs: ctx.dnsTimeoutMs, signal: ctx.signal, clock: ctx.clock }).catch(() => undefined));
  if (zone) results.push(await nameserverResult(cert, zone, provider, ctx));
  return results;
}

/** Every nameserver the propagation check will ask (configured, else the zone's NS set) answers with one SOA serial. */
async function nameserverResult(cert: string, zone: string, provider: DnsProviderConfig, ctx: DoctorContext): Promise<CheckResult> {
  const check = 'dns.nameservers';
  let servers = provider.propagation?.nameservers;
  if (!servers || servers.length === 0) {
    try {
      servers = await authoritativeNameservers(zone, ctx.resolvers, { timeoutMs: ctx.dnsTimeoutMs, signal: ctx.signal, clock: ctx.clock });
    } catch (error) {
      return fail(check, `${zone}: cannot find its nameservers: ${describeError(error)}`, cert);
    }
  }
  const answers = await Promise.all(
    servers.map(async (server) => {
      try {
        const response = await query(server, zone, 'SOA', { timeoutMs: ctx.dnsTimeoutMs, signal: ctx.signal });
        const soa = response.answers.find((a) => a.type === 'SOA' && sameName(a.name, zone));
        if (response.rcode !== RCODE.NOERROR || !soa) return { server, error: `${rcodeName(response.rcode)}${soa ? '' : ', no SOA'}` };
        return { server, serial: (rdata(soa) as { serial: number }).serial };
      } catch (error) {
        return { server, error: describeError(error) };
      }
    }),
  );
  const silent = answers.filter((a) => a.error !== undefined);
  if (silent.length > 0) return fail(check, `${zone}: ${silent.map((a) => `${a.server} ${a.error}`).join('; ')}`, cert);
  const serials = new Set(answers.map((a) => a.serial));
  if (serials.size > 1)
    return warn(
      check,
      `${zone}: nameservers disagree on the SOA serial (${answers.map((a) => `${a.server}=${a.serial}`).join(', ')}): propagation may be slow`,
      cert,
    );
  return pass(check, `${zone}: ${servers.length} nameserver(s) answer, serial ${[...serials][0]}`, cert);
}

export interface CaaRecord {
  tag: string;
  value: string;
}

/**
 * Whether a CAA set lets a CA with these identities issue (RFC 8659): `issuewild` governs wildcard
 * names when present, else `issue`; no property of the kind means no restriction.
 */
export function caaAllows(records: CaaRecord[], identities: string[], wildcard: boolean): { allowed: boolean; named: string[] } {
  const wild = records.filter((r) => r.tag.toLowerCase() === 'issuewild');
  const relevant = wildcard && wild.length > 0 ? wild : records.filter((r) => r.tag.toLowerCase() === 'issue');
  if (relevant.length === 0) return { allowed: true, named: [] };
  const named = relevant.map((r) => r.value.split(';')[0]!.trim().toLowerCase()).filter(Boolean);
  return { allowed: named.some((domain) => identities.includes(domain)), named };
}

/** The CAA set that governs `domain`: the first one found climbing from the name towards the root. */
async function governingCaa(domain: string, ctx: DoctorContext): Promise<{ at: string; records: CaaRecord[] } | undefined> {
  const labels = domain.replace(/^\*\./, '').split('.');
  for (let i = 0; i < labels.length - 1; i++) {
    const name = labels.slice(i).join('.');
    const { response } = await lookup(name, 'CAA', ctx.resolvers, { timeoutMs: ctx.dnsTimeoutMs, signal: ctx.signal, clock: ctx.clock });
    const records = response.answers.filter((a) => a.type === 'CAA').map((a) => rdata(a) as CaaRecord);
    if (records.length > 0) return { at: name, records };
  }
  return undefined;
}

/** One line per CA the certificate may be issued by (its `issuers:`, else all): each must be allowed, fallbacks too. */
async function caaResults(spec: CertificateSpec, domain: string, ctx: DoctorContext): Promise<CheckResult[]> {
  const check = 'dns.caa';
  const cert = spec.name;
  const wildcard = domain.startsWith('*.');
  let found;
  try {
    found = await governingCaa(domain, ctx);
  } catch (error) {
    return [warn(check, `${domain}: CAA lookup failed: ${describeError(error)}`, cert)];
  }
  if (!found) return [pass(check, `${domain}: no CAA records: any CA may issue`, cert)];
  const { at, records } = found;
  const { named } = caaAllows(records, [], wildcard);
  if (named.length === 0) return [pass(check, `${domain}: CAA at ${at} does not restrict issuance`, cert)];
  const all = configuredIssuers(ctx.config);
  return Promise.all(
    certificateIssuers(ctx.config, spec.issuers).map(async (issuer) => {
      const who = issuerPrefix(issuer, all);
      const probe = await probeDirectory(ctx, issuer);
      if (!probe.ok) return warn(check, `${who}${domain}: CAA at ${at} allows ${named.join(', ')}; not compared: the ACME directory did not answer`, cert);
      if (probe.caaIdentities.length === 0)
        return warn(check, `${who}${domain}: CAA at ${at} allows ${named.join(', ')}; the CA publishes no caaIdentities to compare`, cert);
      const { allowed } = caaAllows(records, probe.caaIdentities, wildcard);
      if (!allowed) return fail(check, `${who}${domain}: CAA at ${at} allows only ${named.join(', ')}, not this CA (${probe.caaIdentities.join(', ')})`, cert);
      return pass(check, `${who}${domain}: CAA at ${at} allows ${probe.caaIdentities.find((id) => named.includes(id))}`, cert);
    }),
  );
}
