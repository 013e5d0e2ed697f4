// One target's outbox: the alerts waiting to be delivered, in order. Events with the same merge
// key (type and cause) join a waiting alert instead of making another; a group held for its
// window waits until the window ends. Per certificate the order of events is kept (a recovery is
// never sent before the failure it ends). At the bound nothing is dropped: events are coalesced
// into waiting alerts of their type, and counted.

import type { AgentEvent, AgentEventType } from '../events.js';
import { alertStage, ALERT_TYPES, type AlertCause } from './alert.js';

export interface OutboxItem {
  id: number;
  /** `type|cause key`: events with equal keys merge. */
  key: string;
  type: AgentEventType;
  cause: AlertCause | undefined;
  /** One event per certificate, in arrival order. */
  events: AgentEvent[];
  /** The certificates of `events` (a fleet-wide outage puts thousands in one alert). */
  names: Set<string>;
  /** Events merged in because the outbox was full. */
  coalesced: number;
  /** Epoch ms; not sent before (a group's window end, or an earlier alert about the same certificate). */
  notBefore: number;
  /** Failed attempts so far (not counting waits a receiver asked for with Retry-After). */
  attempts: number;
  /** Attempts answered with Retry-After. */
  rateLimited: number;
  /** An attempt is running: its payload is fixed, nothing merges in. */
  inFlight: boolean;
}

export type PlaceResult =
  | { placed: 'new'; item: OutboxItem }
  | { placed: 'merged'; item: OutboxItem }
  /** Merged because the outbox was full; `count` events were coalesced. */
  | { placed: 'coalesced'; item: OutboxItem; count: number }
  /** Past the bound: nothing could be merged without reordering one certificate's events. */
  | { placed: 'over-limit'; item: OutboxItem };

const MIXED: AlertCause = { kind: 'none', key: '*', label: 'various causes' };

export class Outbox {
  readonly items: OutboxItem[] = [];
  private nextId = 1;

  constructor(readonly limit: number) {}

  get size(): number {
    return this.items.length;
  }

  /** Restores a saved item (ids are not saved). */
  restore(item: Omit<OutboxItem, 'id' | 'inFlight' | 'rateLimited' | 'names'>): void {
    this.items.push({ ...item, names: new Set(item.events.map((event) => event.cert)), id: this.nextId++, inFlight: false, rateLimited: 0 });
  }

  remove(item: OutboxItem): void {
    const index = this.items.indexOf(item);
    if (index >= 0) this.items.splice(index, 1);
  }

  /** The first item, in order, that may go at `now`. */
  nextDue(now: number): OutboxItem | undefined {
    return this.items.find((item) => item.notBefore <= now);
  }

  earliestNotBefore(): number {
    return this.items.reduce((min, item) => Math.min(min, item.notBefore), Infinity);
  }

  /** Whether an alert (failure) naming `cert` waits here; `types` narrows it. */
  pendingAlert(cert: string, types: ReadonlySet<AgentEventType> = ALERT_TYPES): OutboxItem | undefined {
    for (let i = this.items.length - 1; i >= 0; i--) {
      const item = this.items[i]!;
      if (types.has(item.type) && item.names.has(cert)) return item;
    }
    return undefined;
  }

  /** Whether a recovery naming `cert` waits here. */
  pendingRecovery(cert: string): boolean {
    return this.items.some((item) => item.type === 'recovered' && item.names.has(cert));
  }

  /**
   * Adds `event` under `key`: into the last waiting item with that key when that keeps the
   * certificate's order, else as a new item not sent before `holdUntil` (a group window's end).
   */
  place(event: AgentEvent, key: string, cause: AlertCause | undefined, holdUntil: number): PlaceResult {
    for (let i = this.items.length - 1; i >= 0; i--) {
      const item = this.items[i]!;
      if (item.key !== key || item.inFlight) continue;
      if (this.orderAllows(i, event.cert)) {
        merge(item, event);
        return { placed: 'merged', item };
      }
      break;
    }
    let freed = 0;
    if (this.items.length >= this.limit) {
      const into = this.coalesceInto(event, cause);
      if (into) return { placed: 'coalesced', item: into, count: 1 };
      freed = this.mergePair();
    }
    const notBefore = Math.max(holdUntil, this.latestNotBefore(event.cert, this.items.length));
    const item: OutboxItem = {
      id: this.nextId++,
      key,
      type: event.type,
      cause,
      events: [event],
      names: new Set([event.cert]),
      coalesced: 0,
      notBefore,
      attempts: 0,
      rateLimited: 0,
      inFlight: false,
    };
    this.items.push(item);
    if (freed > 0) return { placed: 'coalesced', item, count: freed };
    return this.items.length > this.limit ? { placed: 'over-limit', item } : { placed: 'new', item };
  }

  /** The outbox is full: merge `event` into the last waiting item of its type, whatever its cause. */
  private coalesceInto(event: AgentEvent, cause: AlertCause | undefined): OutboxItem | undefined {
    for (let i = this.items.length - 1; i >= 0; i--) {
      const item = this.items[i]!;
      if (item.type !== event.type || item.inFlight || !this.orderAllows(i, event.cert)) continue;
      generalise(item, cause);
      merge(item, event);
      item.coalesced++;
      return item;
    }
    return undefined;
  }

  /**
   * Still full: merge two waiting items of one type that share no certificate with any other item
   * (so nobody's events are reordered). Returns how many events moved (0: no such pair).
   */
  private mergePair(): number {
    for (let i = 0; i < this.items.length; i++) {
      const first = this.items[i]!;
      if (first.inFlight || !this.isolated(first, undefined)) continue;
      for (let j = i + 1; j < this.items.length; j++) {
        const second = this.items[j]!;
        if (second.type !== first.type || second.inFlight || !this.isolated(second, first)) continue;
        generalise(first, second.cause);
        for (const moved of second.events) merge(first, moved);
        const count = second.events.length + second.coalesced;
        first.coalesced += count;
        first.notBefore = Math.max(first.notBefore, second.notBefore);
        first.attempts = Math.min(first.attempts, second.attempts);
        this.items.splice(j, 1);
        return count;
      }
    }
    return 0;
  }

  /** No item after `index` names `cert`, and none before it names `cert` with a later notBefore. */
  private orderAllows(index: number, cert: string): boolean {
    const target = this.items[index]!;
    for (let k = 0; k < this.items.length; k++) {
      if (k === index) continue;
      const other = this.items[k]!;
      if (!other.names.has(cert)) continue;
      if (k > index) return false;
      if (other.notBefore > target.notBefore) return false;
    }
    return true;
  }

  /** `item` shares no certificate with any item other than itself and `except`. */
  private isolated(item: OutboxItem, except: OutboxItem | undefined): boolean {
    return this.items.every((other) => other === item || other === except || ![...item.names].some((cert) => other.names.has(cert)));
  }

  /** The latest notBefore among the first `end` items that name `cert` (0 when none). */
  private latestNotBefore(cert: string, end: number): number {
    let latest = 0;
    for (let k = 0; k < end; k++) {
      const item = this.items[k]!;
      if (item.notBefore > latest && item.names.has(cert)) latest = item.notBefore;
    }
    return latest;
  }
}

/** Sets an item's events (some left out before sending), keeping `names` in step. */
export function setEvents(item: OutboxItem, events: AgentEvent[]): void {
  item.events = events;
  item.names = new Set(events.map((event) => event.cert));
}

/** One event per certificate: a newer one replaces it, unless it is a lower stage (keep the escalation). */
function merge(item: OutboxItem, event: AgentEvent): void {
  if (!item.names.has(event.cert)) {
    item.events.push(event);
    item.names.add(event.cert);
    return;
  }
  const index = item.events.findIndex((existing) => existing.cert === event.cert);
  const existing = item.events[index]!;
  if (ALERT_TYPES.has(event.type) && alertStage(event) < alertStage(existing)) return;
  item.events[index] = event;
}

/** An item taking an event of another cause says "various causes" instead of a wrong one. */
function generalise(item: OutboxItem, cause: AlertCause | undefined): void {
  if (item.cause?.key === MIXED.key || item.cause?.key === cause?.key) return;
  item.cause = MIXED;
  item.key = `${item.type}|${MIXED.key}`;
}
