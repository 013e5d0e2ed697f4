// The local rate-limit budgets during one run: the recent history, read once (under the state lock,
// and only when a forced order is planned or the first order is about to go out, so a run with
// nothing due reads nothing), kept up to date with this run's own orders, and asked before every
// order and before every forced one (the duplicate-certificate budget).

import { describeError } from '../core/errors.js';
import type { OrderRecord } from '../core/types.js';
import type { IssuerSettings } from '../config/issuers.js';
import { DUPLICATE_WINDOW_MS, duplicateBudget, orderAdmission, ordersFromHistory, type BudgetCheck, type LedgerOrder, type OrderAdmission } from '../plan/budget.js';
import type { HistoryEntry } from '../core/types.js';
import type { EngineDeps } from './contracts.js';
import type { OrderNotice } from '../issuers/contract.js';

export class OrderLedger {
  private history: Promise<HistoryEntry[]> | undefined;
  private loaded: Promise<LedgerOrder[]> | undefined;

  constructor(private readonly deps: Pick<EngineDeps, 'store' | 'clock' | 'logger' | 'config'>) {}

  /** May an order for `names` go to `issuer` now? */
  async admit(issuer: IssuerSettings, names: string[], replaces: boolean, flags: { force: boolean; yes: boolean }): Promise<OrderAdmission> {
    if (!issuer.rateLimits) return { admit: true };
    const orders = await this.orders();
    return orderAdmission(
      orders,
      { account: { directoryUrl: issuer.directoryUrl, email: issuer.email }, names, limits: issuer.rateLimits, replaces, force: flags.force, yes: flags.yes },
      this.deps.clock.now(),
    );
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
      const order: LedgerOrder = { issuer: issuer.name, directoryUrl: issuer.directoryUrl, email: issuer.email, replaced: notice.replaced, at: this.deps.clock.now().getTime() };
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
