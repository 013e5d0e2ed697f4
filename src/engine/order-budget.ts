// The local rate-limit budgets during one run: the recent history, read once (under the state lock,
// and only when a forced order is planned or the first order is about to go out, so a run with
// nothing due reads nothing), kept up to date with this run's own orders, and asked before every
// order and before every forced one (the duplicate-certificate budget).

import { describeError } from '../core/errors.js';
import type { OrderRecord } from '../core/types.js';
import type { IssuerSettings } from '../config/issuers.js';
import {
  DEFAULT_ORDER_PACE_WAIT_MS,
  DUPLICATE_WINDOW_MS,
  duplicateBudget,
  ordersFromHistory,
  paceOrder,
  type BudgetCheck,
  type LedgerOrder,
  type OrderAdmission,
} from '../plan/budget.js';
import type { HistoryEntry } from '../core/types.js';
import type { EngineDeps } from './contracts.js';
import type { OrderNotice } from '../issuers/contract.js';

export class OrderLedger {
  private history: Promise<HistoryEntry[]> | undefined;
  private loaded: Promise<LedgerOrder[]> | undefined;
  /** Units taken by admitted orders the CA has not reported yet (see `note`). */
  private readonly reserved: LedgerOrder[] = [];

  constructor(
    private readonly deps: Pick<EngineDeps, 'store' | 'clock' | 'logger' | 'config'>,
    /** The longest an order waits for a spent budget to free a unit (plan/budget.ts paceOrder). */
    private readonly maxWaitMs = DEFAULT_ORDER_PACE_WAIT_MS,
  ) {}

  /**
   * May an order for `names` go to `issuer` now? A spent budget that frees a unit soon is waited
   * for (cancelled by `signal`), so many orders at once go out at the budget's pace; an admitted
   * order takes its unit at once, before the CA reports it, so concurrent orders cannot overspend.
   */
  async admit(
    issuer: IssuerSettings,
    names: string[],
    replaces: boolean,
    flags: { force: boolean; yes: boolean; signal?: AbortSignal | undefined },
  ): Promise<OrderAdmission> {
    if (!issuer.rateLimits) return { admit: true };
    const orders = await this.orders();
    const request = {
      account: { directoryUrl: issuer.directoryUrl, email: issuer.email },
      names,
      limits: issuer.rateLimits,
      replaces,
      force: flags.force,
      yes: flags.yes,
    };
    const waitUntil = this.deps.clock.now().getTime() + this.maxWaitMs;
    for (;;) {
      const now = this.deps.clock.now();
      const pace = paceOrder(orders, request, now, waitUntil - now.getTime());
      if (pace.action === 'refuse') return pace.admission;
      if (pace.action === 'order') {
        if (!replaces) {
          const unit: LedgerOrder = { issuer: issuer.name, directoryUrl: issuer.directoryUrl, email: issuer.email, replaced: false, at: now.getTime() };
          orders.push(unit);
          this.reserved.push(unit);
        }
        return pace.admission;
      }
      this.deps.logger.info({ issuer: issuer.name, waitMs: pace.ms }, `pacing orders to ${issuer.name}: ${pace.message}`);
      await this.deps.clock.sleep(pace.ms, flags.signal);
    }
  }

  /** The duplicate-certificate budget of `cert` (successful orders in the last 7 days). */
  async duplicates(cert: string): Promise<BudgetCheck> {
    return duplicateBudget(await this.recentHistory(), cert, this.deps.clock.now());
  }

  /**
   * Counts what an issuer reports. `attempt` holds this attempt's orders (the same objects the
   * ledger counts) for its history line: see `historyOrders`.
   */
  note(notice: OrderNotice, attempt: LedgerOrder[]): void {
    const issuer = notice.issuer;
    if (!issuer) return;
    if (notice.type === 'created') {
      // An order admitted without `replaces` took its unit already: it becomes this attempt's.
      const unit = notice.replaced ? -1 : this.reserved.findIndex((o) => o.directoryUrl === issuer.directoryUrl && o.email === issuer.email);
      if (unit >= 0) {
        const [order] = this.reserved.splice(unit, 1);
        order!.at = this.deps.clock.now().getTime();
        attempt.push(order!);
        return;
      }
      const order: LedgerOrder = {
        issuer: issuer.name,
        directoryUrl: issuer.directoryUrl,
        email: issuer.email,
        replaced: notice.replaced,
        at: this.deps.clock.now().getTime(),
      };
      attempt.push(order);
      void this.orders().then((orders) => orders.push(order));
      return;
    }
    // The failure belongs to this attempt's latest order at that CA (the one being validated).
    const order = [...attempt].reverse().find((o) => o.directoryUrl === issuer.directoryUrl && o.email === issuer.email);
    if (order) order.failedNames = [...(order.failedNames ?? []), ...notice.names];
  }

  private orders(): Promise<LedgerOrder[]> {
    this.loaded ??= this.recentHistory().then((history) => {
      const horizon = this.deps.clock.now().getTime() - longestWindowMs(this.deps.config.issuers);
      return ordersFromHistory(history).filter((order) => order.at > horizon);
    });
    return this.loaded;
  }

  private recentHistory(): Promise<HistoryEntry[]> {
    this.history ??= this.deps.store.readHistory().then(
      (history) => {
        const horizon = this.deps.clock.now().getTime() - Math.max(DUPLICATE_WINDOW_MS, longestWindowMs(this.deps.config.issuers));
        return history.filter((entry) => Date.parse(entry.at) > horizon);
      },
      (error: unknown) => {
        // Without history the budgets cannot count; the CA's own limits still apply.
        this.deps.logger.warn({ err: describeError(error) }, 'cannot read history for the rate-limit budgets; ordering without them');
        return [];
      },
    );
    return this.history;
  }
}

function longestWindowMs(issuers: IssuerSettings[]): number {
  let longest = 0;
  for (const { rateLimits } of issuers) {
    longest = Math.max(longest, rateLimits?.newOrders?.windowMs ?? 0, rateLimits?.failedAuthorizations?.windowMs ?? 0);
  }
  return longest;
}

/** An attempt's orders as its history line keeps them. */
export function historyOrders(attempt: LedgerOrder[]): { orders?: OrderRecord[] } {
  if (attempt.length === 0) return {};
  return { orders: attempt.map(({ at: _at, ...order }) => ({ ...order, ...(order.failedNames ? { failedNames: [...order.failedNames] } : {}) })) };
}
