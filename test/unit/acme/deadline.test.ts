// The deadline building blocks (order deadline, waiting until aborted, a task under a deadline)
// and the issuer settings that configure them (`requestTimeout`, `orderTimeout`).

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { causedByAbort, defaultOrderTimeoutMs, orderDeadline, untilAborted, withDeadline } from '../../../src/acme/deadline.js';
import { ConfigError, parseConfig } from '../../../src/config/load.js';
import { CertkeeperError } from '../../../src/core/errors.js';

const abortError = (cause?: unknown): Error => Object.assign(new Error('aborted'), { name: 'AbortError', cause });

describe('orderDeadline', () => {
  it('aborts its signal when the time is up, and says the deadline did it', async () => {
    const deadline = orderDeadline(undefined, 50);
    await new Promise<void>((resolve) => deadline.signal.addEventListener('abort', () => resolve(), { once: true }));
    expect(deadline.expired).toBe(true);
    expect(deadline.signal.reason).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    deadline.clear();
  });

  it('follows the parent signal without calling that a deadline', () => {
    const parent = new AbortController();
    const deadline = orderDeadline(parent.signal, 60_000);
    parent.abort(new Error('shutdown'));
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.expired).toBe(false);
    deadline.clear();
  });

  it('does nothing once cleared', async () => {
    const deadline = orderDeadline(undefined, 20);
    deadline.clear();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(deadline.signal.aborted).toBe(false);
    expect(deadline.expired).toBe(false);
  });
});

describe('defaultOrderTimeoutMs', () => {
  it('is 10 minutes, or the propagation timeout plus 5 minutes when that is longer', () => {
    expect(defaultOrderTimeoutMs(undefined)).toBe(600_000);
    expect(defaultOrderTimeoutMs(120_000)).toBe(600_000);
    expect(defaultOrderTimeoutMs(30 * 60_000)).toBe(35 * 60_000);
  });
});

describe('causedByAbort', () => {
  it('finds an abort anywhere in the cause chain, but not a request deadline of its own', () => {
    expect(causedByAbort(abortError())).toBe(true);
    expect(causedByAbort(new CertkeeperError('DNS_UPDATE_FAILED', 'write failed', { cause: abortError() }))).toBe(true);
    expect(causedByAbort(new CertkeeperError('CANCELLED', 'cancelled'))).toBe(true);
    expect(causedByAbort(new CertkeeperError('VALIDATION_FAILED', 'no TXT'))).toBe(false);
    expect(causedByAbort(new CertkeeperError('DEADLINE_EXCEEDED', 'POST took too long', { details: { scope: 'request' } }))).toBe(false);
  });
});

describe('untilAborted', () => {
  it('stops waiting for a promise that never settles when the signal aborts', async () => {
    const controller = new AbortController();
    const waiting = untilAborted(new Promise(() => {}), controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('passes the value through', async () => {
    await expect(untilAborted(Promise.resolve(7), new AbortController().signal)).resolves.toBe(7);
  });
});

describe('withDeadline', () => {
  it('gives up on a task that ignores its signal, and aborts that signal', async () => {
    let seen: AbortSignal | undefined;
    const outcome = withDeadline(50, 'removing the TXT record x', (signal) => {
      seen = signal;
      return new Promise<void>(() => {});
    });
    await expect(outcome).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED', message: expect.stringContaining('removing the TXT record x') });
    expect(seen?.aborted).toBe(true);
  });

  it("returns the task's value and keeps its error", async () => {
    await expect(withDeadline(1000, 'x', async () => 'done')).resolves.toBe('done');
    const failure = new Error('refused');
    await expect(withDeadline(1000, 'x', async () => Promise.reject(failure))).rejects.toBe(failure);
  });
});

describe('issuer settings', () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'ck-deadline-')), 'certkeeper.yaml');
  const rest = `
dns:
  corp: { type: exec, command: ["/bin/true"] }
certificates:
  - { name: www, domains: [example.com], dns: corp }
`;
  const problems = (text: string): string[] => {
    try {
      parseConfig(text, file, { env: {} });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
    }
    throw new Error('expected the config to be rejected');
  };

  it('reads requestTimeout and orderTimeout on acme: and on every issuers: entry', () => {
    const one = parseConfig(`acme: { directory: letsencrypt, requestTimeout: 45s, orderTimeout: 15m }\n${rest}`, file, { env: {} });
    expect(one.issuers[0]).toMatchObject({ requestTimeoutMs: 45_000, orderTimeoutMs: 900_000 });
    const two = parseConfig(
      `issuers:\n  - { name: a, directory: letsencrypt, orderTimeout: 2m }\n  - { name: b, directory: letsencrypt-staging }\n${rest}`,
      file,
      { env: {} },
    );
    expect(two.issuers[0]).toMatchObject({ orderTimeoutMs: 120_000 });
    expect(two.issuers[0]!.requestTimeoutMs).toBeUndefined();
    expect(two.issuers[1]!.orderTimeoutMs).toBeUndefined();
  });

  it('refuses deadlines a timer cannot hold, and ones too short to mean anything', () => {
    expect(problems(`acme: { directory: letsencrypt, orderTimeout: 25d }\n${rest}`)).toEqual([expect.stringMatching(/^acme\.orderTimeout: /)]);
    expect(problems(`acme: { directory: letsencrypt, requestTimeout: 500ms }\n${rest}`)).toEqual([expect.stringMatching(/^acme\.requestTimeout: .*1s/)]);
    expect(problems(`issuers:\n  - { directory: letsencrypt, requestTimeout: soon }\n${rest}`)).toEqual([
      expect.stringMatching(/^issuers\[0\]\.requestTimeout: /),
    ]);
  });
});
