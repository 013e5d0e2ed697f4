import { describe, expect, it } from 'vitest';
import { recordFailure, recordSuccess } from '../../../src/plan/record.js';
import { emptyRecord } from '../../../src/state/contract.js';

const now = new Date('2026-06-01T12:00:00Z');
const MIN = 60_000;

describe('recordFailure', () => {
  it('counts the failure, backs off by the next step and remembers the config it failed with', () => {
    const once = recordFailure({ ...emptyRecord(), deployed: { web: 'AB' } }, { action: 'renew', error: 'boom', now, fingerprint: 'f1' });
    expect(once).toEqual({
      deployed: { web: 'AB' },
      consecutiveFailures: 1,
      lastAttemptAt: now.toISOString(),
      lastSuccessAt: null,
      lastResult: { at: now.toISOString(), action: 'renew', result: 'failure', error: 'boom' },
      nextAttemptAt: new Date(now.getTime() + MIN).toISOString(),
      configFingerprint: 'f1',
    });
    const twice = recordFailure(once, { action: 'deploy', error: 'sink down', now, fingerprint: 'f1' });
    expect(twice).toMatchObject({ consecutiveFailures: 2, nextAttemptAt: new Date(now.getTime() + 10 * MIN).toISOString() });
  });

  it('uses the configured steps, and a longer Retry-After from the CA', () => {
    const failure = { action: 'renew', error: 'x', now, fingerprint: null };
    expect(recordFailure(emptyRecord(), { ...failure, backoffMs: [5000] }).nextAttemptAt).toBe(new Date(now.getTime() + 5000).toISOString());
    expect(recordFailure(emptyRecord(), { ...failure, retryAfterSeconds: 3600 }).nextAttemptAt).toBe(new Date(now.getTime() + 3_600_000).toISOString());
  });
});

describe('recordSuccess', () => {
  const failure = { action: 'renew', error: 'x', now, fingerprint: 'f1' };
  const failing = recordFailure(recordFailure(emptyRecord(), failure), failure);

  it('an order clears the failures and the backoff and is the last success', () => {
    expect(recordSuccess(failing, { action: 'renew', now })).toEqual({
      ...failing,
      consecutiveFailures: 0,
      nextAttemptAt: null,
      lastSuccessAt: now.toISOString(),
      lastAttemptAt: now.toISOString(),
      lastResult: { at: now.toISOString(), action: 'renew', result: 'success', error: null },
    });
  });

  it('a deploy clears them too, but is not an order: the last success stays', () => {
    const deployed = recordSuccess(failing, { action: 'deploy', now });
    expect(deployed).toMatchObject({ consecutiveFailures: 0, nextAttemptAt: null, lastSuccessAt: null, lastResult: { action: 'deploy', result: 'success' } });
  });
});
