// ACME checks, per configured issuer (`acme:` or every entry of `issuers:`): the directory answers
// (through the same CA-bundle-aware transport orders use), the stored account is valid
// (POST-as-GET, which changes nothing), and the local clock agrees with the CA's Date header.
// Each directory's meta.caaIdentities feed the CAA check.

import { describeError, isCertkeeperError } from '../core/errors.js';
import { AcmeTransport } from '../acme/transport.js';
import { configuredIssuers, issuersFor, type IssuerSettings } from '../config/issuers.js';
import type { Config } from '../config/load.js';
import { fail, pass, warn, type Check, type CheckResult, type DoctorContext } from './contract.js';

export interface DirectoryProbe {
  url: string;
  ok: boolean;
  error?: string;
  /** meta.caaIdentities: the issuer domain names CAA records must name. */
  caaIdentities: string[];
  /** The CA's clock minus ours, in ms (undefined without a Date header). */
  skewMs?: number | undefined;
  /** Half the round trip: how precise skewMs can be. */
  uncertaintyMs: number;
}

/** Above this the clock line warns; above CLOCK_FAIL_MS it fails (certificates would look not yet valid). */
export const CLOCK_WARN_MS = 5_000;
export const CLOCK_FAIL_MS = 60_000;

/** The CA settings a probe needs (an issuer, or `config.acme`). */
export type DirectorySettings = Pick<IssuerSettings, 'directoryUrl' | 'caBundlePem'>;

const probes = new WeakMap<DoctorContext, Map<string, Promise<DirectoryProbe>>>();

/** GET of one directory, once per doctor run (the clock, account and CAA checks read it too). */
export function probeDirectory(ctx: DoctorContext, settings: DirectorySettings = ctx.config.acme): Promise<DirectoryProbe> {
  let byUrl = probes.get(ctx);
  if (!byUrl) {
    byUrl = new Map();
    probes.set(ctx, byUrl);
  }
  let probe = byUrl.get(settings.directoryUrl);
  if (!probe) {
    probe = fetchDirectory(ctx, settings);
    byUrl.set(settings.directoryUrl, probe);
  }
  return probe;
}

async function fetchDirectory(ctx: DoctorContext, settings: DirectorySettings): Promise<DirectoryProbe> {
  const url = settings.directoryUrl;
  const transport = new AcmeTransport({
    caBundlePem: settings.caBundlePem,
    clock: ctx.clock,
    signal: ctx.signal,
    logger: ctx.logger,
    retries: 0,
    idleTimeoutMs: 5_000,
    deadlineMs: 10_000,
  });
  try {
    const sent = ctx.clock.now().getTime();
    const response = await transport.request(url, 'GET');
    const received = ctx.clock.now().getTime();
    if (response.status >= 400 || typeof response.data !== 'object' || response.data === null || !('newOrder' in response.data)) {
      return { url, ok: false, error: `HTTP ${response.status}: not an ACME directory`, caaIdentities: [], uncertaintyMs: 0 };
    }
    const meta = (response.data as { meta?: { caaIdentities?: unknown } }).meta;
    const caaIdentities = Array.isArray(meta?.caaIdentities)
      ? meta.caaIdentities.filter((v): v is string => typeof v === 'string').map((v) => v.toLowerCase())
      : [];
    const date = response.headers.date ? Date.parse(response.headers.date) : Number.NaN;
    // The Date header has 1 s resolution and was stamped somewhere inside the round trip.
    const skewMs = Number.isNaN(date) ? undefined : date + 500 - (sent + received) / 2;
    return { url, ok: true, caaIdentities, skewMs, uncertaintyMs: Math.ceil((received - sent) / 2) + 500 };
  } catch (error) {
    return { url, ok: false, error: describeError(error), caaIdentities: [], uncertaintyMs: 0 };
  } finally {
    transport.close();
  }
}

/** The CAs a certificate may be issued by, in fallback order. */
export function certificateIssuers(config: Config, names: string[] | undefined): IssuerSettings[] {
  return issuersFor(configuredIssuers(config), names);
}

/**
 * How a line names its issuer: nothing with a single CA (the lines read as before `issuers:`
 * existed), `name: ` when there are several, so each issuer's failure stands on its own line.
 */
export function issuerPrefix(issuer: IssuerSettings, all: readonly IssuerSettings[]): string {
  return all.length > 1 ? `${issuer.name}: ` : '';
}

/** A check of one issuer, its lines prefixed with the issuer's name when there are several. */
function issuerCheck(
  name: string,
  issuer: IssuerSettings,
  all: readonly IssuerSettings[],
  run: (ctx: DoctorContext, at: string) => Promise<CheckResult[]>,
): Check {
  const at = issuerPrefix(issuer, all);
  return { name, subject: at, run: (ctx) => run(ctx, at) };
}

export function acmeDirectoryCheck(issuer: IssuerSettings, all: readonly IssuerSettings[]): Check {
  return issuerCheck('acme.directory', issuer, all, async (ctx, at) => {
    const probe = await probeDirectory(ctx, issuer);
    if (!probe.ok) return [fail('acme.directory', `${at}${probe.url}: ${probe.error ?? 'unreachable'}`)];
    return [pass('acme.directory', `${at}${probe.url} answers${probe.caaIdentities.length > 0 ? ` (CAA identities: ${probe.caaIdentities.join(', ')})` : ''}`)];
  });
}

export function clockCheck(issuer: IssuerSettings, all: readonly IssuerSettings[]): Check {
  return issuerCheck('clock', issuer, all, async (ctx, at) => {
    const probe = await probeDirectory(ctx, issuer);
    if (!probe.ok) return [warn('clock', `${at}not checked: the ACME directory did not answer`)];
    if (probe.skewMs === undefined) return [warn('clock', `${at}not checked: the CA sent no Date header`)];
    const result = clockResult(probe.skewMs, probe.uncertaintyMs);
    return [{ ...result, message: `${at}${result.message}` }];
  });
}

/** The clock line for a measured skew (the CA's clock minus ours). */
export function clockResult(skewMs: number, uncertaintyMs = 500): CheckResult {
  const beyond = Math.max(0, Math.abs(skewMs) - uncertaintyMs);
  const text = `local clock is ${(Math.abs(skewMs) / 1000).toFixed(1)} s ${skewMs > 0 ? 'behind' : 'ahead of'} the CA's`;
  if (beyond > CLOCK_FAIL_MS) return fail('clock', `${text}: fix time sync (NTP); certificates and TSIG signatures depend on it`);
  if (beyond > CLOCK_WARN_MS) return warn('clock', `${text}: check time sync (NTP)`);
  return pass('clock', `within a few seconds of the CA (${(skewMs / 1000).toFixed(1)} s)`);
}

export function acmeAccountCheck(issuer: IssuerSettings, all: readonly IssuerSettings[]): Check {
  return issuerCheck('acme.account', issuer, all, async (ctx, at) => {
    const { directoryUrl, email } = issuer;
    const account = await ctx.store.getAccount(directoryUrl, email);
    if (!account?.accountUrl)
      return [warn('acme.account', `${at}no account yet for ${directoryUrl}${email ? ` (${email})` : ''}: the first order registers one`)];
    const probe = await probeDirectory(ctx, issuer);
    if (!probe.ok) return [warn('acme.account', `${at}not checked: the ACME directory did not answer`)];
    const { openAcmeSession } = await import('../acme/session.js');
    const session = await openAcmeSession({
      directoryUrl,
      accountKeyPem: account.keyPem,
      accountUrl: account.accountUrl,
      caBundlePem: issuer.caBundlePem,
      clock: ctx.clock,
      signal: ctx.signal,
      logger: ctx.logger,
    });
    try {
      const object = await session.fetchAccount();
      if (object.status && object.status !== 'valid')
        return [fail('acme.account', `${at}${account.accountUrl} is ${object.status}: register a new account (remove it from the state dir)`)];
      return [pass('acme.account', `${at}${account.accountUrl} is valid`)];
    } catch (error) {
      if (isCertkeeperError(error) && error.details?.acmeType === 'accountDoesNotExist') {
        return [warn('acme.account', `${at}the CA no longer knows ${account.accountUrl}: the next order registers again`)];
      }
      return [fail('acme.account', `${at}${account.accountUrl}: ${describeError(error)}`)];
    } finally {
      session.close();
    }
  });
}
