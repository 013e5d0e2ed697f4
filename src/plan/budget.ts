// A local budget of the CA's published limits, counted from history: Let's Encrypt allows 5
// certificates per exact set of names per 7 days. A forced order that would spend the last one
// is refused unless the operator confirms (--force --yes) or the order carries ARI `replaces`
// (renewals with `replaces` are exempt).

import type { HistoryEntry } from '../core/types.js';

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
