// Issuer fallback (as certmagic's Config.renewCert does): the certificate's issuers in order; a CA-side failure (5xx,
// rate limit, unreachable, a request past its deadline) moves on to the next one, anything that
// is ours or the name's (validation, DNS, config, cancel, an order past its deadline) stops at once. A rate limit is remembered per CA and account
// with its Retry-After in the state store, and no request goes to that CA until it has passed.

import type { Clock } from '../core/clock.js';
import { CertkeeperError, describeError, toCertkeeperError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { IssuerSettings } from '../config/issuers.js';
import { issuersFor } from '../config/issuers.js';
import type { Issuer, IssueRequest, IssueResult, OrderAdmission, OrderEvent, OrderNotice, RateLimits, RateLimitState } from '../issuers/contract.js';

/** Without a Retry-After, a rate-limited CA is left alone this long. */
export const DEFAULT_RATE_LIMIT_BACKOFF_SECONDS = 3600;

/** An order for a certificate: the one-CA request, with the issuers to try and the budgets to ask. */
export interface ChainIssueRequest extends Omit<IssueRequest, 'onOrder'> {
  /** Issuer names in the order to try (all, in config order, when absent). */
  issuers?: string[] | undefined;
  /**
   * Whether an order may go to this issuer now (the local rate-limit budgets, plan/budget.ts);
   * a refusal moves on to the next issuer as a rate limit does. Absent: always.
   */
  admit?: ((issuer: IssuerSettings, replaces: boolean) => Promise<OrderAdmission>) | undefined;
  /** Every order placed, with the issuer it went to (the budgets count them). */
  onOrder?: ((notice: OrderNotice) => void) | undefined;
}

export interface ChainIssueResult extends IssueResult {
  /** The configured name of the issuer that issued. */
  issuer: string;
}

export interface IssuerChainOptions {
  issuers: IssuerSettings[];
  /** The issuer of one CA (built once per issuer by the caller: cli/issuers.ts). */
  issuerFor(settings: IssuerSettings): Promise<Issuer>;
  /** Each CA's rate-limit backoff (kept in the state store: state/issuer-state.ts rateLimitsIn). */
  rateLimits: RateLimits;
  clock: Clock;
  logger: Logger;
}

/**
 * The request one CA gets: the certificate's profile and lifetime, else its issuer's. The one
 * place issuer defaults meet a request (the chain's orders, and a dry run's: cli/wiring.ts).
 */
export function withIssuerDefaults<R extends IssueRequest>(request: R, settings: Pick<IssuerSettings, 'profile' | 'lifetimeMs'>): R {
  return { ...request, profile: request.profile ?? settings.profile, lifetimeMs: request.lifetimeMs ?? settings.lifetimeMs };
}

/** Failures on the CA's side, where another CA may well succeed. */
export function isCaSideFailure(error: CertkeeperError): boolean {
  if (error.code === 'ACME_RATE_LIMITED' || error.code === 'ACME_UNREACHABLE') return true;
  // A request the CA did not finish answering in time; an order past its deadline may be our
  // DNS's slowness, and a new order at another CA would start the whole wait again.
  if (error.code === 'DEADLINE_EXCEEDED') return error.details?.scope === 'request';
  if (error.code !== 'ACME_ERROR') return false;
  const status = error.details?.httpStatus;
  return (typeof status === 'number' && status >= 500) || error.details?.acmeType === 'serverInternal';
}

/** What the engine orders through (EngineDeps.issuer): one CA's Issuer takes the same calls, ignoring `issuers` and `admit`. */
export interface IssuerChain {
  readonly directoryUrl: string;
  issue(request: ChainIssueRequest): Promise<IssueResult>;
}

export function createIssuerChain(options: IssuerChainOptions): IssuerChain & { issue(request: ChainIssueRequest): Promise<ChainIssueResult> } {
  const { rateLimits, clock, logger } = options;
  return {
    directoryUrl: options.issuers[0]?.directoryUrl ?? '',
    async issue(request) {
      const candidates = issuersFor(options.issuers, request.issuers);
      const log = logger.child({ cert: request.certName });
      const waiting: { name: string; until: string }[] = [];
      // Refused by a local budget: spent (wait) or the last unit of a forced order (needs --yes).
      const refused: { name: string; until: string; exhausted: boolean; message: string }[] = [];
      let lastError: CertkeeperError | undefined;
      for (const [index, settings] of candidates.entries()) {
        const limited = await rateLimits.beforeAsking(settings, clock.now(), log);
        if (limited) {
          log.warn(
            { issuer: settings.name, until: limited.rateLimitedUntil },
            `issuer ${settings.name} is rate-limited; not asking it before ${limited.rateLimitedUntil}`,
          );
          waiting.push({ name: settings.name, until: limited.rateLimitedUntil });
          continue;
        }
        const replaces = request.replaces?.directoryUrl === settings.directoryUrl;
        const admission = request.admit ? await request.admit(settings, replaces) : { admit: true as const };
        if (admission.admit && admission.warning) log.warn({ issuer: settings.name }, admission.warning);
        if (!admission.admit) {
          log.warn({ issuer: settings.name, until: admission.until.toISOString() }, `not ordering from ${settings.name}: ${admission.message}`);
          refused.push({ name: settings.name, until: admission.until.toISOString(), exhausted: admission.exhausted, message: admission.message });
          continue;
        }
        const { issuers: _names, admit: _admit, onOrder, ...rest } = request;
        try {
          const issuer = await options.issuerFor(settings);
          const result = await issuer.issue({
            ...withIssuerDefaults(rest, settings),
            ...(onOrder ? { onOrder: (event: OrderEvent) => onOrder({ ...event, issuer: settings }) } : {}),
          });
          return { ...result, issuer: settings.name };
        } catch (thrown) {
          const error = toCertkeeperError(thrown, 'ACME_ERROR');
          if (error.code === 'ACME_RATE_LIMITED') {
            const seconds = error.retryAfterSeconds ?? DEFAULT_RATE_LIMIT_BACKOFF_SECONDS;
            const until = new Date(clock.now().getTime() + seconds * 1000).toISOString();
            const state: RateLimitState = { rateLimitedUntil: until, detail: describeError(error), at: clock.now().toISOString() };
            await rateLimits.record(settings, state);
            log.warn({ issuer: settings.name, until }, `issuer ${settings.name} rate-limited this account until ${until}`);
          }
          const next = candidates[index + 1];
          if (!isCaSideFailure(error) || next === undefined) throw error;
          log.warn(
            { issuer: settings.name, next: next.name, code: error.code, err: describeError(error) },
            `issuer ${settings.name} failed on its side; trying ${next.name}`,
          );
          lastError = error;
        }
      }
      if (lastError) throw lastError;
      if (refused.length > 0 && waiting.length === 0) {
        const confirm = refused.every((r) => !r.exhausted);
        const soonestFree = refused.map((r) => Date.parse(r.until)).reduce((a, b) => Math.min(a, b), Infinity);
        throw new CertkeeperError('RATE_BUDGET', refused.map((r) => `${r.name}: ${r.message}`).join('; '), {
          // Spent budgets free up by themselves; the last unit of a forced order waits for the operator.
          retryable: !confirm,
          ...(confirm ? {} : { retryAfterSeconds: Math.max(1, Math.ceil((soonestFree - clock.now().getTime()) / 1000)) }),
          details: { issuers: refused.map(({ name, until, exhausted }) => ({ name, until, exhausted })), confirm },
        });
      }
      for (const r of refused) waiting.push({ name: r.name, until: r.until });
      const soonest = waiting.map((w) => Date.parse(w.until)).reduce((a, b) => Math.min(a, b), Infinity);
      throw new CertkeeperError('ACME_RATE_LIMITED', `every issuer is rate-limited: ${waiting.map((w) => `${w.name} until ${w.until}`).join(', ')}`, {
        retryable: true,
        retryAfterSeconds: Number.isFinite(soonest) ? Math.max(1, Math.ceil((soonest - clock.now().getTime()) / 1000)) : undefined,
        details: { issuers: waiting },
      });
    },
  };
}
