// Where the page's data comes from: the status rows and watch results the caller already has,
// plus, for one certificate's detail view, its recent history from the store. Shared by the
// agent's GET / and `certkeeper report --html`.

import type { HistoryEntry } from '../../core/types.js';
import type { StatusRow } from '../../core/status.js';
import type { StateStore } from '../../state/contract.js';
import type { CertDetail } from './model.js';

/** History entries read for a detail view: the strip shows 30, the sinks' last deploys come from the same read. */
export const DETAIL_HISTORY = 200;

export async function certDetail(row: StatusRow, sinks: readonly string[], store: Pick<StateStore, 'readHistory'>): Promise<CertDetail> {
  const history = await store.readHistory({ cert: row.name, limit: DETAIL_HISTORY });
  return { row, history, sinks: sinkDeploys(row, sinks, history) };
}

/** Each sink's last successful deploy (newest-first history), and whether it has the current certificate. */
export function sinkDeploys(row: Pick<StatusRow, 'pendingSinks' | 'serial'>, sinks: readonly string[], history: readonly HistoryEntry[]): CertDetail['sinks'] {
  return sinks.map((name) => {
    const last = history.find((h) => h.sink === name && h.result === 'success' && (h.action === 'deploy' || h.action === 'issue' || h.action === 'renew'));
    return { name, serial: last?.serial ?? null, at: last?.at ?? null, current: row.serial !== null && !row.pendingSinks.includes(name) };
  });
}
