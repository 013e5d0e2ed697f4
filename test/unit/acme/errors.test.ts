// Classifying ACME problems into CertkeeperError codes and retryability.

import { describe, expect, it } from 'vitest';
import { classifyProblem, parseProblem, parseRetryAfter, problemToError, toAcmeError, type AcmeProblem } from '../../../src/acme/errors.js';
import { CertkeeperError } from '../../../src/core/errors.js';

const NS = 'urn:ietf:params:acme:error:';

function problem(type: string, extra: Partial<AcmeProblem> = {}): AcmeProblem {
  return { type, detail: `${type} happened`, ...extra };
}

describe('parseProblem', () => {
  it('reads type, detail and subproblems, shortening the ACME namespace', () => {
    const parsed = parseProblem(
      {
        type: `${NS}rejectedIdentifier`,
        detail: 'some names were rejected',
        status: 400,
        subproblems: [{ type: `${NS}rejectedIdentifier`, detail: 'forbidden name', identifier: { type: 'dns', value: 'bad.example' } }],
      },
      { status: 400, url: 'https://ca/new-order' },
    );
    expect(parsed).toEqual({
      type: 'rejectedIdentifier',
      detail: 'some names were rejected',
      status: 400,
      retryAfterSeconds: undefined,
      subproblems: [{ type: 'rejectedIdentifier', detail: 'forbidden name', identifier: 'bad.example' }],
      url: 'https://ca/new-order',
    });
  });

  it('is undefined for anything that is not a problem document', () => {
    expect(parseProblem(undefined)).toBeUndefined();
    expect(parseProblem('<html>bad gateway</html>')).toBeUndefined();
    expect(parseProblem({ status: 'pending' })).toBeUndefined();
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('2026-11-22T10:00:00Z');
  it('takes delta-seconds and HTTP dates', () => {
    expect(parseRetryAfter('120', now)).toBe(120);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Sun, 22 Nov 2026 11:00:00 GMT', now)).toBe(3600);
    expect(parseRetryAfter('Sun, 22 Nov 2026 09:00:00 GMT', now)).toBe(0);
  });
  it('ignores absent or unusable values', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    // Date.parse reads "1.5" as 2001-01-05 (so: retry at once); it is neither form of RFC 9110.
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
  });
  it("measures a date from the response's own Date header: the CA's clock skew does not count", () => {
    expect(parseRetryAfter('Sun, 22 Nov 2026 12:00:00 GMT', now, 'Sun, 22 Nov 2026 11:30:00 GMT')).toBe(1800);
    // asctime carries no zone and means UTC, whatever the local zone is.
    expect(parseRetryAfter('Sun Nov 22 11:00:00 2026', now)).toBe(3600);
  });
});

describe('classifyProblem', () => {
  it.each([
    ['rateLimited', 429, 'response', 'ACME_RATE_LIMITED', true],
    ['', 429, 'response', 'ACME_RATE_LIMITED', true],
    ['serverInternal', 500, 'response', 'ACME_ERROR', true],
    ['', 503, 'response', 'ACME_ERROR', true],
    ['badNonce', 400, 'response', 'ACME_ERROR', true],
    ['orderNotReady', 403, 'response', 'ACME_ERROR', true],
    ['malformed', 400, 'response', 'ACME_ERROR', false],
    ['badCSR', 400, 'response', 'ACME_ERROR', false],
    ['rejectedIdentifier', 400, 'response', 'ACME_ERROR', false],
    ['externalAccountRequired', 403, 'response', 'ACME_ERROR', false],
    ['unauthorized', 403, 'response', 'ACME_ERROR', false],
    ['userActionRequired', 403, 'response', 'ACME_ERROR', false],
    ['dns', 400, 'response', 'VALIDATION_FAILED', true],
    ['caa', 403, 'response', 'VALIDATION_FAILED', false],
    ['unauthorized', undefined, 'challenge', 'VALIDATION_FAILED', true],
    ['incorrectResponse', undefined, 'challenge', 'VALIDATION_FAILED', true],
    ['connection', undefined, 'challenge', 'VALIDATION_FAILED', true],
    ['caa', undefined, 'challenge', 'VALIDATION_FAILED', false],
    ['somethingNew', 400, 'response', 'ACME_ERROR', true],
  ] as const)('%s (HTTP %s) from a %s → %s, retryable %s', (type, status, source, code, retryable) => {
    expect(classifyProblem(problem(type, { status }), source)).toEqual({ code, retryable });
  });
});

describe('problemToError', () => {
  it('keeps the CA detail, subproblems, Retry-After and context', () => {
    const error = problemToError(
      problem('rateLimited', {
        status: 429,
        detail: 'too many certificates already issued',
        retryAfterSeconds: 3600,
        subproblems: [{ type: 'rateLimited', detail: 'limit for example.com', identifier: 'example.com' }],
      }),
      { operation: 'creating the order', source: 'response', details: { cert: 'www' } },
    );
    expect(error.code).toBe('ACME_RATE_LIMITED');
    expect(error.retryAfterSeconds).toBe(3600);
    expect(error.message).toBe('creating the order failed: too many certificates already issued (rateLimited); example.com: limit for example.com');
    expect(error.details).toMatchObject({ acmeType: 'rateLimited', httpStatus: 429, cert: 'www' });
  });
});

describe('toAcmeError', () => {
  it('passes CertkeeperErrors through', () => {
    const original = new CertkeeperError('ACME_UNREACHABLE', 'down');
    expect(toAcmeError(original, problem('malformed'), 'x')).toBe(original);
  });

  it('turns aborts into CANCELLED', () => {
    const abort = Object.assign(new Error('aborted'), { name: 'AbortError' });
    expect(toAcmeError(abort, undefined, 'x').code).toBe('CANCELLED');
  });

  it("explains acme-client's plain Error with the recorded problem, keeping it as the cause", () => {
    const thrown = new Error('Rate limit exceeded');
    const error = toAcmeError(thrown, problem('rateLimited', { status: 429, retryAfterSeconds: 60 }), 'creating the order');
    expect(error.code).toBe('ACME_RATE_LIMITED');
    expect(error.retryAfterSeconds).toBe(60);
    expect(error.cause).toBe(thrown);
  });

  it('falls back to a retryable ACME_ERROR when no response explains the failure', () => {
    const error = toAcmeError(new Error('Creating a new order did not return an order link'), undefined, 'creating the order');
    expect(error.code).toBe('ACME_ERROR');
    expect(error.retryable).toBe(true);
    expect(error.message).toBe('creating the order failed: Creating a new order did not return an order link');
  });
});
