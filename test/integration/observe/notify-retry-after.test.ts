// A receiver that rate-limits with an HTTP-date Retry-After (RFC 9110 §10.2.3), over a real
// loopback socket: the webhook target waits until that date, measured from the receiver's own
// `Date` (so its clock may be hours off ours), or from our clock when it sends none, and never
// longer than the dispatcher's cap. The dispatcher runs on a hand-moved clock: each arrival is
// stamped with that clock, so the waits are exact, not measured.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import type { AgentEvent } from '../../../src/observe/events.js';
import type { NotificationResult } from '../../../src/observe/metrics.js';
import { Dispatcher } from '../../../src/observe/notify/dispatcher.js';
import { buildNotifyTargets } from '../../../src/observe/notify/registry.js';
import { notifySchema } from '../../../src/observe/notify/schema.js';
import { ManualClock } from '../../helpers/clock.js';

const SECOND = 1000;
const HOUR = 3_600_000;

interface Answer {
  status: number;
  /** Headers of the answer; `date: null` sends none. */
  headers: Record<string, string | null>;
}

let clock: ManualClock;
/** Per arrival: the dispatcher's clock when it came in. */
const arrivals: number[] = [];
let answers: Answer[] = [];
const server = http.createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    arrivals.push(clock.now().getTime());
    const answer = answers.shift() ?? { status: 200, headers: {} };
    if (answer.headers.date === null) response.sendDate = false;
    for (const [name, value] of Object.entries(answer.headers)) if (value !== null) response.setHeader(name, value);
    response.writeHead(answer.status).end(answer.status === 429 ? 'slow down' : 'ok');
  });
});
let url = '';

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** One webhook target on `clock`, with no retries: only honouring the Retry-After can deliver. */
async function deliverThrough(first: Answer): Promise<{ waitedMs: number; results: NotificationResult[] }> {
  clock = new ManualClock('2026-03-01T12:00:00.250Z');
  arrivals.length = 0;
  answers = [first];
  const results: NotificationResult[] = [];
  const dispatcher = new Dispatcher({
    targets: buildNotifyTargets(notifySchema.parse({ ops: { type: 'webhook', url, retries: 0, groupWindow: 0 } }), { logger: silentLogger, clock }),
    clock,
    logger: silentLogger,
    onResult: (_target, result) => results.push(result),
  });
  const event: AgentEvent = {
    type: 'failed',
    severity: 'warning',
    at: clock.now().toISOString(),
    cert: 'www',
    domains: ['www.example.com'],
    message: 'renewal of www failed',
  };
  dispatcher.dispatch(event);
  await dispatcher.flush();
  await dispatcher.close(0);
  expect(arrivals).toHaveLength(2);
  return { waitedMs: arrivals[1]! - arrivals[0]!, results };
}

describe('a 429 whose Retry-After is an HTTP date', () => {
  it("waits until the date by the receiver's own clock, an hour ahead of ours", async () => {
    const theirs = new Date('2026-03-01T13:00:00Z'); // the receiver's clock: an hour ahead
    const { waitedMs, results } = await deliverThrough({
      status: 429,
      headers: { date: theirs.toUTCString(), 'retry-after': new Date(theirs.getTime() + 7 * SECOND).toUTCString() },
    });
    expect(waitedMs).toBe(7 * SECOND);
    // Not counted against retries (0): the receiver asked, and was obeyed.
    expect(results).toEqual(['retrying', 'delivered']);
  });

  it('and an hour behind', async () => {
    const theirs = new Date('2026-03-01T11:00:00Z');
    const { waitedMs } = await deliverThrough({
      status: 429,
      headers: { date: theirs.toUTCString(), 'retry-after': new Date(theirs.getTime() + 7 * SECOND).toUTCString() },
    });
    expect(waitedMs).toBe(7 * SECOND);
  });

  it('in the obsolete asctime format too', async () => {
    const { waitedMs } = await deliverThrough({ status: 429, headers: { date: 'Sun Mar  1 13:00:00 2026', 'retry-after': 'Sun Mar  1 13:00:09 2026' } });
    expect(waitedMs).toBe(9 * SECOND);
  });

  it('measures from our clock when the answer carries no Date (rounded up to whole seconds)', async () => {
    // Our clock reads 12:00:00.250; the date is 12 s after 12:00:00.
    const { waitedMs, results } = await deliverThrough({ status: 429, headers: { date: null, 'retry-after': 'Sun, 01 Mar 2026 12:00:12 GMT' } });
    expect(waitedMs).toBe(12 * SECOND);
    expect(results).toEqual(['retrying', 'delivered']);
  });

  it('a date already past means now', async () => {
    const theirs = new Date('2026-03-01T13:00:00Z');
    const { waitedMs } = await deliverThrough({
      status: 429,
      headers: { date: theirs.toUTCString(), 'retry-after': new Date(theirs.getTime() - HOUR).toUTCString() },
    });
    expect(waitedMs).toBe(0);
  });

  it('is capped like delay-seconds (10 min)', async () => {
    const theirs = new Date('2026-03-01T13:00:00Z');
    const { waitedMs } = await deliverThrough({
      status: 429,
      headers: { date: theirs.toUTCString(), 'retry-after': new Date(theirs.getTime() + 24 * HOUR).toUTCString() },
    });
    expect(waitedMs).toBe(10 * 60 * SECOND);
  });
});
