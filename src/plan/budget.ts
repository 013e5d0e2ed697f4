// Local budgets of the CA's published limits, counted from history. Let's Encrypt allows 5
// certificates per exact set of names per 7 days, 300 new orders per account per 3 h and 5 failed
// authorizations per name per account per hour. A spent budget means no order (the CA would refuse
// it); a forced order that would spend the last unit is refused unless the operator confirms
// (--force --yes). Orders carrying ARI `replaces` are exempt.

import type { HistoryEntry, OrderRecord, RateLimits } from '../core/types.js';
import type { OrderAdmission } from '../issuers/contract.js';

export const DUPLICATE_CERTIFICATE_LIMIT = 5;
export const DUPLICATE_WINDOW_MS = 7 * 86_400_000;

export interface BudgetCheck {
  /** Orders of this certificate that succeeded inside the window. */
  used: number;
  limit: number;
  /** True when one more order would spend the last one (or more). */
  lastOne: boolean;
  message: string;
}

/** `history` may hold any certificate's lines; only `cert`'s successful orders count. */
export function duplicateBudget(history: HistoryEntry[], cert: string, now: Date, limit = DUPLICATE_CERTIFICATE_LIMIT): BudgetCheck {
  const since = now.getTime() - DUPLICATE_WINDOW_MS;
  const used = history.filter(
    (entry) => entry.cert === cert && entry.result === 'success' && (entry.action === 'issue' || entry.action === 'renew') && Date.parse(entry.at) > since,
  ).length;
  const lastOne = used + 1 >= limit;
  return {
    used,
    limit,
    lastOne,
    message: `${used} of ${limit} certificates for these names in the last 7 days${lastOne ? '; this order would spend the last one (confirm with --force --yes)' : ''}`,
  };
}

/** One order from history with the time it was recorded. */
export interface LedgerOrder extends OrderRecord {
  at: number;
}

/** Every order recorded in `history` (newest first or not), each with its entry's time. */
export function ordersFromHistory(history: HistoryEntry[]): LedgerOrder[] {
  return history.flatMap((entry) => (entry.orders ?? []).map((order) => ({ ...order, at: Date.parse(entry.at) })));
}

export interface OrderAdmissionRequest {
  account: { directoryUrl: string; email: string | null };
  names: string[];
  limits: RateLimits | undefined;
  /** The order will carry ARI `replaces`: exempt from the CA's limits. */
  replaces: boolean;
  /** `renew --force`: refuse to spend the last unit of a budget... */
  force: boolean;
  /** ...unless confirmed (`--force --yes`), which also orders past an exhausted local count. */
  yes: boolean;
}

export type { OrderAdmission };

/**
 * May one more order go to this CA account? Counts the account's orders (without `replaces`) and
 * each name's failed authorizations inside their windows. A spent budget refuses (the CA would
 * answer rateLimited, and Let's Encrypt's failed-authorization limit locks the name for an hour);
 * a forced order refuses to spend the last unit unless confirmed.
 */
export function orderAdmission(orders: LedgerOrder[], request: OrderAdmissionRequest, now: Date): OrderAdmission {
  const { limits } = request;
  if (request.replaces || !limits) return { admit: true };
  const mine = orders.filter((o) => o.directoryUrl === request.account.directoryUrl && o.email === request.account.email);
  const checks: { used: number; limit: number; until: Date; what: string }[] = [];
  if (limits.newOrders) {
    const { limit, windowMs } = limits.newOrders;
    const counted = mine.filter((o) => !o.replaced && o.at > now.getTime() - windowMs).map((o) => o.at);
    checks.push({
      used: counted.length,
      limit,
      until: freedAt(counted, limit, windowMs, now),
      what: `${counted.length} of ${limit} new orders in the last ${hours(windowMs)}`,
    });
  }
  if (limits.failedAuthorizations) {
    const { limit, windowMs } = limits.failedAuthorizations;
    for (const name of new Set(request.names.map(authorizationName))) {
      const failed = mine.filter((o) => o.at > now.getTime() - windowMs && (o.failedNames ?? []).map(authorizationName).includes(name)).map((o) => o.at);
      checks.push({
        used: failed.length,
        limit,
        until: freedAt(failed, limit, windowMs, now),
        what: `${failed.length} of ${limit} failed authorizations for ${name} in the last ${hours(windowMs)}`,
      });
    }
  }
  const spent = checks.filter((c) => c.used >= c.limit);
  if (spent.length > 0) {
    const until = new Date(Math.max(...spent.map((c) => c.until.getTime())));
    const message = `${spent.map((c) => c.what).join('; ')}: the CA would refuse; not ordering before ${until.toISOString()}`;
    if (request.force && request.yes) return { admit: true, warning: `${message} (ordering anyway: --force --yes)` };
    return { admit: false, exhausted: true, until, message };
  }
  const last = checks.filter((c) => c.used + 1 >= c.limit);
  if (last.length > 0 && request.force && !request.yes) {
    const until = new Date(Math.max(...last.map((c) => c.until.getTime())));
    return {
      admit: false,
      exhausted: false,
      until,
      message: `${last.map((c) => c.what).join('; ')}: this forced order would spend the last one (confirm with --force --yes)`,
    };
  }
  return { admit: true };
}

/** Failed authorizations are counted per identifier: a wildcard's is its base name. */
function authorizationName(name: string): string {
  return name.toLowerCase().replace(/^\*\./, '');
}

/** When enough of `times` (inside the window) have aged out that one more fits under `limit`. */
function freedAt(times: number[], limit: number, windowMs: number, now: Date): Date {
  const newestFirst = [...times].sort((a, b) => b - a);
  // With `used` events, one more fits once used - limit + 1 of the oldest have left the window.
  const blocking = newestFirst[limit - 1];
  return new Date(blocking === undefined ? now.getTime() : blocking + windowMs);
}

function hours(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : `${Math.round(ms / 60_000)} min`;
}

/**
 * How long an order may wait for a spent new-orders (or failed-authorization) budget to free a
 * unit before it is refused as today. A mass re-issue (`renew --force --yes`) then goes out at the
 * budget's pace instead of bursting past it: the units left now, then one as each frees up.
 */
export const DEFAULT_ORDER_PACE_WAIT_MS = 10 * 60_000;

/** What to do with one order now: send it, wait `ms` and ask again, or take the admission's refusal. */
export type OrderPace =
  | { action: 'order'; admission: OrderAdmission & { admit: true } }
  | { action: 'wait'; ms: number; message: string }
  | { action: 'refuse'; admission: OrderAdmission & { admit: false } };

/**
 * Paces one order to the local budgets. A budget that is spent now but frees a unit within
 * `maxWaitMs` (what is left of the order's bound on waiting) is waited for, forced and confirmed
 * or not: waiting beats both a refusal and an order the CA would refuse. Anything else is
 * `orderAdmission`'s answer (orders carrying `replaces` are exempt and always go).
 */
export function paceOrder(orders: LedgerOrder[], request: OrderAdmissionRequest, now: Date, maxWaitMs: number): OrderPace {
  const spent = orderAdmission(orders, { ...request, force: false, yes: false }, now);
  if (!spent.admit && spent.exhausted) {
    const ms = spent.until.getTime() - now.getTime();
    if (ms > 0 && ms <= maxWaitMs) return { action: 'wait', ms, message: `${spent.message}; waiting ${Math.ceil(ms / 1000)} s for a unit to free up` };
  }
  const admission = orderAdmission(orders, request, now);
  return admission.admit ? { action: 'order', admission } : { action: 'refuse', admission };
}
