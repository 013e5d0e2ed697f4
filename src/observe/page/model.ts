// What the status page shows, decided without HTML: the order of rows (worst first), what needs
// attention, the page of rows asked for, and each row's timeline in numbers. Pure: `now` is given.

import type { StatusRow } from '../../core/status.js';
import type { HistoryEntry } from '../../core/types.js';
import { earliestServedExpiry, type WatchResult } from '../../core/endpoint-results.js';

/** Everything one render needs; the agent builds it from its status rows and last watch round. */
export interface PageData {
  now: Date;
  agentId: string | null;
  certificates: readonly StatusRow[];
  endpoints: readonly WatchResult[];
  /** The alert thresholds drawn on every bar, in days before expiry. */
  alertDays: readonly number[];
}

/** One certificate's detail view: its row plus what only a store read knows. */
export interface CertDetail {
  row: StatusRow;
  /** Newest first. */
  history: readonly HistoryEntry[];
  /** Each configured sink: the serial it last received, when, and whether that is the current one. */
  sinks: readonly { name: string; serial: string | null; at: string | null; current: boolean }[];
}

export const DEFAULT_ALERT_DAYS = [21, 7, 1] as const;
export const PAGE_SIZE = 100;
/** Attention items listed in full; the rest are counted. */
export const ATTENTION_LIMIT = 50;
const DAY = 86_400_000;

/** Most urgent first (the order `status` uses): expired, failing, due, never issued, valid; then the earliest expiry. */
const URGENCY: Record<StatusRow['state'], number> = { expired: 0, failing: 1, due: 2, missing: 3, valid: 4 };

export function worstFirst(rows: readonly StatusRow[]): StatusRow[] {
  // Among failing rows, one that has never been issued serves nothing at all: it comes first.
  const expiry = (row: StatusRow): number =>
    row.notAfter ? Date.parse(row.notAfter) : row.state === 'failing' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  const failingFirst = (row: StatusRow): number => (row.state === 'failing' ? -1 : URGENCY[row.state]);
  // Keys computed once per row, not per comparison (10,000 rows: 280,000 date parses otherwise).
  const keyed = rows.map((row) => ({ row, rank: failingFirst(row), expiry: expiry(row) }));
  keyed.sort((a, b) => a.rank - b.rank || a.expiry - b.expiry || (a.row.name < b.row.name ? -1 : a.row.name > b.row.name ? 1 : 0));
  return keyed.map((k) => k.row);
}

export interface AttentionItem {
  kind: 'failing' | 'expired' | 'pending-sinks' | 'verify' | 'endpoint' | 'drift';
  /** The certificate or endpoint. */
  subject: string;
  /** For certificates: the detail view's name. */
  cert: string | null;
  title: string;
  detail: string | null;
  /** ISO time of the next automatic try, when backing off. */
  nextTry: string | null;
}

/** What a person should look at first: failures, expiries, pending sinks, verify and watch problems. */
export function attentionItems(data: Pick<PageData, 'certificates' | 'endpoints'>, sorted = worstFirst(data.certificates)): AttentionItem[] {
  const items: AttentionItem[] = [];
  for (const row of sorted) {
    const base = { subject: row.name, cert: row.name, nextTry: null };
    if (row.state === 'failing') {
      items.push({
        ...base,
        kind: 'failing',
        title: `failing: ${row.consecutiveFailures} attempt${row.consecutiveFailures === 1 ? '' : 's'} in a row`,
        detail: row.lastResult?.error ?? null,
        nextTry: row.nextAttemptAt,
      });
    } else if (row.state === 'expired') {
      items.push({ ...base, kind: 'expired', title: 'expired', detail: row.lastResult?.result === 'failure' ? row.lastResult.error : null });
    }
    if (row.serial && row.pendingSinks.length > 0)
      items.push({ ...base, kind: 'pending-sinks', title: `not yet deployed to ${row.pendingSinks.join(', ')}`, detail: null });
    if (row.serving === 'old' || row.serving === 'unreachable') {
      items.push({
        ...base,
        kind: 'verify',
        title: row.serving === 'old' ? 'a verify: endpoint still serves the old certificate' : 'a verify: endpoint is unreachable',
        detail: null,
      });
    }
  }
  for (const endpoint of data.endpoints) {
    if (!endpoint.ok) {
      items.push({
        kind: 'endpoint',
        subject: endpoint.endpoint,
        cert: null,
        title: endpoint.alert.alert ? `serves a certificate expiring ${endpoint.alert.reason === 'expired' ? '(expired)' : 'soon'}` : 'has a problem',
        detail: endpoint.messages.join('; ') || endpoint.error,
        nextTry: null,
      });
    }
    if (endpoint.drift && !endpoint.drift.current)
      items.push({
        kind: 'drift',
        subject: endpoint.endpoint,
        cert: endpoint.drift.cert,
        title: 'serves an older version of a managed certificate',
        detail: endpoint.drift.message,
        nextTry: null,
      });
  }
  return items;
}

export interface PageSlice<T> {
  items: T[];
  page: number;
  pages: number;
  total: number;
}

export function paginate<T>(items: readonly T[], page: number, size = PAGE_SIZE): PageSlice<T> {
  const pages = Math.max(1, Math.ceil(items.length / size));
  const current = Math.min(Math.max(1, Number.isFinite(page) ? Math.floor(page) : 1), pages);
  return { items: items.slice((current - 1) * size, current * size), page: current, pages, total: items.length };
}

/** The time axis shared by the rows of one page: from the earliest start to the latest end, around now. */
export interface Axis {
  start: number;
  end: number;
}

/** Bars further out than this are cut at the axis (a 5-year certificate would squash the 90-day ones). */
const AXIS_REACH = 400 * DAY;

export function axisFor(spans: readonly { start: number | null; end: number | null }[], now: Date): Axis {
  const t = now.getTime();
  let start = t - 7 * DAY;
  let end = t + 30 * DAY;
  for (const span of spans) {
    if (span.start !== null) start = Math.min(start, span.start);
    if (span.end !== null) end = Math.max(end, span.end);
  }
  return { start: Math.max(start, t - AXIS_REACH), end: Math.min(end, t + AXIS_REACH) };
}

/** Width of the SVG's coordinate system: positions are 0…SCALE along the axis. */
export const SCALE = 1000;

export function position(axis: Axis, at: number): number {
  const x = ((at - axis.start) / (axis.end - axis.start)) * SCALE;
  return Math.round(Math.min(SCALE, Math.max(0, x)) * 100) / 100;
}

function inside(axis: Axis, at: number): boolean {
  return at >= axis.start && at <= axis.end;
}

/** One timeline row in the axis' coordinates; null parts are not drawn. */
export interface Timeline {
  bar: { x: number; width: number; cutStart: boolean; cutEnd: boolean } | null;
  now: number;
  renewAt: number | null;
  ari: { x: number; width: number } | null;
  thresholds: { days: number; x: number }[];
}

export function timeline(
  axis: Axis,
  now: Date,
  span: { start: number | null; end: number | null },
  extra: { renewAt?: string | null; ari?: { start: string; end: string } | null },
  alertDays: readonly number[],
): Timeline {
  const bar =
    span.start !== null && span.end !== null
      ? (() => {
          const x = position(axis, span.start);
          return { x, width: Math.round((position(axis, span.end) - x) * 100) / 100, cutStart: span.start < axis.start, cutEnd: span.end > axis.end };
        })()
      : null;
  const ari = extra.ari ? { x: position(axis, Date.parse(extra.ari.start)), width: 0 } : null;
  if (ari && extra.ari) ari.width = Math.round((position(axis, Date.parse(extra.ari.end)) - ari.x) * 100) / 100;
  return {
    bar,
    now: position(axis, now.getTime()),
    // A marker past the axis would sit on its edge and lie about the date: it is left out.
    renewAt: extra.renewAt && inside(axis, Date.parse(extra.renewAt)) ? position(axis, Date.parse(extra.renewAt)) : null,
    ari,
    thresholds:
      span.end === null
        ? []
        : alertDays.filter((days) => inside(axis, span.end! - days * DAY)).map((days) => ({ days, x: position(axis, span.end! - days * DAY) })),
  };
}

/** The span an endpoint's bar covers: the leaf's start to the earliest expiry in its chain. */
export function endpointSpan(endpoint: WatchResult): { start: number | null; end: number | null; intermediate: string | null } {
  if (!endpoint.leaf) return { start: null, end: null, intermediate: null };
  const earliest = earliestServedExpiry(endpoint.chain) ?? endpoint.leaf.notAfter;
  const intermediate =
    Date.parse(earliest) < Date.parse(endpoint.leaf.notAfter) ? (endpoint.chain.find((c) => c.notAfter === earliest)?.subject ?? '(unnamed)') : null;
  return { start: Date.parse(endpoint.leaf.notBefore), end: Date.parse(earliest), intermediate };
}

export function certSpan(row: Pick<StatusRow, 'notBefore' | 'notAfter'>): { start: number | null; end: number | null } {
  return { start: row.notBefore ? Date.parse(row.notBefore) : null, end: row.notAfter ? Date.parse(row.notAfter) : null };
}

/** Endpoints worst first: problems, then the earliest expiry. */
export function endpointsWorstFirst(endpoints: readonly WatchResult[]): WatchResult[] {
  const end = (e: WatchResult): number => endpointSpan(e).end ?? Number.NEGATIVE_INFINITY;
  return [...endpoints].sort((a, b) => Number(a.ok) - Number(b.ok) || end(a) - end(b) || a.endpoint.localeCompare(b.endpoint));
}
