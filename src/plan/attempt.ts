// What to do with one certificate now, and why: an ordered chain of small pure checks (as
// cert-manager's policy chains), each answering with an action, a reason and a message, evaluated
// in one place, `planAttempt`. The renewal (`renew`), `status` and the daemon's timers gather the
// facts and ask here; "is it due?" itself stays in renewal.ts. test/unit/plan/attempt.test.ts has
// one table row per reason: it is the list of what can happen and why.

import { CertkeeperError } from '../core/errors.js';
import type { BudgetCheck } from './budget.js';
import { inBackoff, isEmergency } from './backoff.js';

export type AttemptAction = 'issue' | 'renew' | 'deploy' | 'dry-run' | 'skip';

/**
 * Who asks. `run`: the engine is about to work on the certificate (`renew`, or a daemon batch).
 * `tick`: the daemon's schedule tick arms its timer. `rearm`: the daemon arms it again after a batch.
 */
export type AttemptTrigger = 'run' | 'tick' | 'rearm';

/** An expired certificate is tried again at least this often, however far its backoff has grown. */
export const EXPIRED_RETRY_MS = 3_600_000;

/** What renewalDecision (renewal.ts) said of the stored certificate. */
export interface RenewalFacts {
  due: boolean;
  reason: string;
  message: string;
  /** When it becomes due; null when nothing is stored. */
  renewAt: Date | null;
}

/** What the operator asked of this run (`renew` flags); absent for the daemon's timers. */
export interface AttemptRequest {
  /** `--dry-run`: the whole ACME and DNS path, nothing written. */
  dryRun?: boolean | undefined;
  /** `--force`: renew even when not due. */
  force?: boolean | undefined;
  /** `--cert NAME`: order even when backing off. */
  overrideBackoff?: boolean | undefined;
  /** `--yes`: spend the last unit of the duplicate-certificate budget too. */
  yes?: boolean | undefined;
  /** When this run started: a certificate issued after it was renewed by another run meanwhile. */
  startedAt?: Date | undefined;
  /** The order would carry ARI `replaces`, which the CA's limits exempt. */
  replaces?: boolean | undefined;
  /** The duplicate-certificate budget (plan/budget.ts); read only when a forced order asks for it. */
  duplicateBudget?: BudgetCheck | undefined;
}

export interface AttemptFacts {
  now: Date;
  trigger: AttemptTrigger;
  /** The stored certificate's validity (and when it was stored); null when none is. */
  stored: { notBefore: Date; notAfter: Date; issuedAt?: Date | undefined } | null;
  /** Whether it is due (renewal.ts); may be read after the first checks, which need none of it. */
  renewal?: RenewalFacts | undefined;
  /** The failure record: the backoff after the last failure, and whether the config changed since. */
  backoff: { failures: number; nextAttemptAt: string | null; configChanged: boolean };
  /** Sinks that do not have the stored certificate yet. */
  pendingSinks: readonly string[];
  request?: AttemptRequest | undefined;
}

export interface AttemptPlan {
  action: AttemptAction;
  reason: string;
  message: string;
  /** When to act: now, or when what holds the certificate back ends (a backoff, the renewal time). */
  at: Date;
}

/** A fact the chain needs and the caller did not read yet (reads are lazy: a dry run asks no CA for ARI). */
export interface NeedsFact {
  needs: 'renewal' | 'duplicate-budget';
}

interface AttemptCheck {
  name: string;
  /** The check reads `facts.renewal`: the chain stops to ask for it when it is missing. */
  needsRenewal: boolean;
  check(facts: AttemptFacts, renewal: RenewalFacts): AttemptPlan | NeedsFact | null;
}

/** A config that changed since the last failure lifts that failure's backoff (the operator fixed something). */
export function configChanged(record: { configFingerprint: string | null }, fingerprint: string | null): boolean {
  return record.configFingerprint !== null && record.configFingerprint !== fingerprint;
}

function plan(facts: AttemptFacts, action: AttemptAction, reason: string, message: string, at: Date = facts.now): AttemptPlan {
  return { action, reason, message, at };
}

function emergency(facts: AttemptFacts): boolean {
  return facts.stored !== null && isEmergency(facts.stored.notBefore, facts.stored.notAfter, facts.now);
}

/** The checks, in order: the first that answers decides. */
export const ATTEMPT_CHECKS: readonly AttemptCheck[] = [
  {
    name: 'dry-run',
    needsRenewal: false,
    check: (facts) => (facts.request?.dryRun ? plan(facts, 'dry-run', 'dry-run', 'rehearsal: full ACME and DNS path, nothing written') : null),
  },
  {
    // A forced run that waited for the lock skips what the run before it just issued.
    name: 'renewed-concurrently',
    needsRenewal: false,
    check: (facts) => {
      const { request, stored } = facts;
      if (!request?.force || !request.startedAt || !stored?.issuedAt) return null;
      if (stored.issuedAt.getTime() <= request.startedAt.getTime()) return null;
      return plan(facts, 'skip', 'renewed-concurrently', 'issued by another run while this one waited');
    },
  },
  {
    // At a schedule tick a dying certificate goes now, whatever its backoff; after a failed
    // attempt (rearm) it waits like any other, so it is tried at every tick, not in a tight loop.
    name: 'emergency-tick',
    needsRenewal: false,
    check: (facts) =>
      facts.trigger === 'tick' && emergency(facts)
        ? plan(
            facts,
            'renew',
            'emergency-tick',
            `less than 1/20 of its lifetime left (expires ${facts.stored!.notAfter.toISOString()}): tried at every schedule tick, whatever the backoff`,
          )
        : null,
  },
  {
    // Forced orders are where budgets get burnt; renewals carrying `replaces` are exempt.
    name: 'rate-budget',
    needsRenewal: true,
    check: (facts, renewal) => {
      const request = facts.request;
      if (!renewal.due || !request?.force || request.yes || request.replaces) return null;
      if (!request.duplicateBudget) return { needs: 'duplicate-budget' };
      return request.duplicateBudget.lastOne ? plan(facts, 'skip', 'rate-budget', `refused: ${request.duplicateBudget.message}`) : null;
    },
  },
  {
    // Every failure (order or deploy) records a backoff in nextAttemptAt. The operator lifts it
    // (--force, --cert, or a changed config), and so does an emergency when the engine runs. The
    // daemon's timer also waits it out before a pending deploy; a run that is asked deploys.
    name: 'backoff',
    needsRenewal: true,
    check: (facts, renewal) => {
      const { backoff, request, now } = facts;
      const wantsWork = renewal.due || (facts.trigger !== 'run' && facts.pendingSinks.length > 0);
      if (!wantsWork || backoff.configChanged || request?.force || request?.overrideBackoff) return null;
      if (facts.trigger === 'run' && emergency(facts)) return null;
      if (!inBackoff(backoff.nextAttemptAt, now)) return null;
      const until = Date.parse(backoff.nextAttemptAt!);
      // Expired and failing: tried at least hourly, whatever the backoff has grown to (its last
      // step is a day, the schedule tick may be 12 h away), as every hour expired is an outage.
      const expired = facts.stored !== null && facts.stored.notAfter.getTime() <= now.getTime();
      const at = new Date(expired ? Math.min(until, now.getTime() + EXPIRED_RETRY_MS) : until);
      return plan(facts, 'skip', 'backoff', `backing off after ${backoff.failures} failure(s) until ${backoff.nextAttemptAt} (${renewal.message})`, at);
    },
  },
  {
    // Due, for renewal.ts's reason: missing, names or key type changed, expired, ARI, emergency, threshold, forced.
    name: 'due',
    needsRenewal: true,
    check: (facts, renewal) => (renewal.due ? plan(facts, facts.stored ? 'renew' : 'issue', renewal.reason, renewal.message) : null),
  },
  {
    // Not due, but a sink lacks the current certificate (a new sink, a failed deploy): deploy, no order.
    name: 'deploy-pending',
    needsRenewal: true,
    check: (facts) =>
      facts.pendingSinks.length > 0 ? plan(facts, 'deploy', 'deploy-pending', `not due; deploying to ${facts.pendingSinks.join(', ')}`) : null,
  },
  {
    // Nothing to do until the renewal time (renewal.ts's not-due or loop-guard).
    name: 'not-due',
    needsRenewal: true,
    check: (facts, renewal) => plan(facts, 'skip', renewal.reason, renewal.message, renewal.renewAt ?? facts.now),
  },
];

/**
 * What to do with one certificate, and why: the first check of ATTEMPT_CHECKS that answers.
 * Without `request` and with `renewal` read, the chain needs nothing more.
 */
export function planAttempt(facts: AttemptFacts & { renewal: RenewalFacts; request?: undefined }): AttemptPlan;
export function planAttempt(facts: AttemptFacts): AttemptPlan | NeedsFact;
export function planAttempt(facts: AttemptFacts): AttemptPlan | NeedsFact {
  for (const { needsRenewal, check } of ATTEMPT_CHECKS) {
    if (needsRenewal && !facts.renewal) return { needs: 'renewal' };
    const answer = check(facts, facts.renewal!);
    if (answer) return answer;
  }
  // The last check always answers.
  throw new CertkeeperError('INTERNAL', 'planAttempt: no check answered');
}
