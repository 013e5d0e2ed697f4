// ACME checks: the directory answers (through the same CA-bundle-aware transport orders use),
// the stored account is valid (POST-as-GET, which changes nothing), and the local clock agrees
// with the CA's Date header. The directory's meta.caaIdentities feed the CAA check.

import { describeError, isCertkeeperError } from '../core/errors.js';
import { AcmeTransport } from '../acme/transport.js';
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

const probes = new WeakMap<DoctorContext, Promise<DirectoryProbe>>();

/** GET of the directory, once per doctor run (the CAA check reads it too). */
export function probeDirectory(ctx: DoctorContext): Promise<DirectoryProbe> {
  let probe = probes.get(ctx);
  if (!probe) {
    probe = fetchDirectory(ctx);
    probes.set(ctx, probe);
  }
  return probe;
}

async function fetchDirectory(ctx: DoctorContext): Promise<DirectoryProbe> {
  const url = ctx.config.acme.directoryUrl;
  const transport = new AcmeTransport({ caBundlePem: ctx.config.acme.caBundlePem, clock: ctx.clock, signal: ctx.signal, logger: ctx.logger, retries: 0, requestTimeoutMs: 5_000 });
  try {
    const sent = ctx.clock.now().getTime();
    const response = await transport.request(url, 'GET');
    const received = ctx.clock.now().getTime();
    if (response.status >= 400 || typeof response.data !== 'object' || response.data === null || !('newOrder' in response.data)) {
      return { url, ok: false, error: `HTTP ${response.status}: not an ACME directory`, caaIdentities: [], uncertaintyMs: 0 };
    }
    const meta = (response.data as { meta?: { caaIdentities?: unknown } }).meta;
    const caaIdentities = Array.isArray(meta?.caaIdentities) ? meta.caaIdentities.filter((v): v is string => typeof v === 'string').map((v) => v.toLowerCase()) : [];
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

export const acmeDirectoryCheck: Check = {
  name: 'acme.directory',
  async run(ctx) {
    const probe = await probeDirectory(ctx);
    if (!probe.ok) return [fail('acme.directory', `${probe.url}: ${probe.error ?? 'unreachable'}`)];
    return [pass('acme.directory', `${probe.url} answers${probe.caaIdentities.length > 0 ? ` (CAA identities: ${probe.caaIdentities.join(', ')})` : ''}`)];
  },
};

export const clockCheck: Check = {
  name: 'clock',
  async run(ctx) {
    const probe = await probeDirectory(ctx);
    if (!probe.ok) return [warn('clock', 'not checked: the ACME directory did not answer')];
    if (probe.skewMs === undefined) return [warn('clock', 'not checked: the CA sent no Date header')];
    return [clockResult(probe.skewMs, probe.uncertaintyMs)];
  },
};

/** The clock line for a measured skew (the CA's clock minus ours). */
export function clockResult(skewMs: number, uncertaintyMs = 500): CheckResult {
  const beyond = Math.max(0, Math.abs(skewMs) - uncertaintyMs);
  const text = `local clock is ${(Math.abs(skewMs) / 1000).toFixed(1)} s ${skewMs > 0 ? 'behind' : 'ahead of'} the CA's`;
  if (beyond > CLOCK_FAIL_MS) return fail('clock', `${text}: fix time sync (NTP); certificates and TSIG signatures depend on it`);
  if (beyond > CLOCK_WARN_MS) return warn('clock', `${text}: check time sync (NTP)`);
  return pass('clock', `within a few seconds of the CA (${(skewMs / 1000).toFixed(1)} s)`);
}

export const acmeAccountCheck: Check = {
  name: 'acme.account',
  async run(ctx) {
    const { directoryUrl, email } = ctx.config.acme;
    const account = await ctx.store.getAccount(directoryUrl, email);
    if (!account?.accountUrl) return [warn('acme.account', `no account yet for ${directoryUrl}${email ? ` (${email})` : ''}: the first order registers one`)];
    const probe = await probeDirectory(ctx);
    if (!probe.ok) return [warn('acme.account', 'not checked: the ACME directory did not answer')];
    const { openAcmeSession } = await import('../acme/session.js');
    const session = await openAcmeSession({
      directoryUrl,
      accountKeyPem: account.keyPem,
      accountUrl: account.accountUrl,
      caBundlePem: ctx.config.acme.caBundlePem,
      clock: ctx.clock,
      signal: ctx.signal,
      logger: ctx.logger,
    });
    try {
      const object = await session.fetchAccount();
      if (object.status && object.status !== 'valid') return [fail('acme.account', `${account.accountUrl} is ${object.status}: register a new account (remove it from the state dir)`)];
      return [pass('acme.account', `${account.accountUrl} is valid`)];
    } catch (error) {
      if (isCertkeeperError(error) && error.details?.acmeType === 'accountDoesNotExist') {
        return [warn('acme.account', `the CA no longer knows ${account.accountUrl}: the next order registers again`)];
      }
      return [fail('acme.account', `${account.accountUrl}: ${describeError(error)}`)];
    } finally {
      session.close();
    }
  },
};
