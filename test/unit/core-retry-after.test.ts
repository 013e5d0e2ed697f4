// Retry-After in both forms of RFC 9110 §10.2.3, and the HTTP-date formats of §5.6.7.

import { describe, expect, it } from 'vitest';
import { parseHttpDate, retryAfterSeconds } from '../../src/core/retry-after.js';

const NOW = new Date('2026-03-01T12:00:00Z');
const at = (iso: string): number => new Date(iso).getTime();

describe('parseHttpDate', () => {
  it('reads all three formats as the same instant, in UTC', () => {
    const expected = at('1994-11-06T08:49:37Z');
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT', NOW)).toBe(expected);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', NOW)).toBe(expected);
    // asctime carries no zone: it is UTC whatever the process's TZ (Date.parse would use local time).
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994', NOW)).toBe(expected);
    expect(parseHttpDate('Sun Nov 16 08:49:37 1994', NOW)).toBe(at('1994-11-16T08:49:37Z'));
    expect(parseHttpDate('  sun, 06 nov 1994 08:49:37 gmt ', NOW)).toBe(expected);
  });

  it("places rfc850's two-digit year within 50 years ahead, else the century before", () => {
    expect(parseHttpDate('Monday, 01-Mar-27 00:00:00 GMT', NOW)).toBe(at('2027-03-01T00:00:00Z'));
    expect(parseHttpDate('Monday, 01-Mar-76 00:00:00 GMT', NOW)).toBe(at('2076-03-01T00:00:00Z'));
    expect(parseHttpDate('Monday, 01-Mar-77 00:00:00 GMT', NOW)).toBe(at('1977-03-01T00:00:00Z'));
  });

  it('refuses what Date.parse would guess at, and days that do not exist', () => {
    for (const text of [
      '1.5',
      '-1',
      '2026',
      'tomorrow',
      '',
      '2026-03-01T12:00:00Z',
      'Sun, 06 Nov 1994 08:49:37 UTC',
      'Sun, 06 Nov 1994 08:49:37',
      'Sun, 6 Nov 1994 08:49:37 GMT',
    ]) {
      expect(parseHttpDate(text, NOW), text).toBeUndefined();
    }
    expect(parseHttpDate('Sat, 31 Feb 2026 00:00:00 GMT', NOW)).toBeUndefined();
    expect(parseHttpDate('Sun, 00 Mar 2026 00:00:00 GMT', NOW)).toBeUndefined();
    expect(parseHttpDate('Sun, 01 Mar 2026 24:00:00 GMT', NOW)).toBeUndefined();
    expect(parseHttpDate('Sun, 01 Mar 2026 23:60:00 GMT', NOW)).toBeUndefined();
    expect(parseHttpDate('Sun, 29 Feb 2028 00:00:00 GMT', NOW)).toBe(at('2028-02-29T00:00:00Z'));
    // A leap second is the next minute's first.
    expect(parseHttpDate('Wed, 31 Dec 2025 23:59:60 GMT', NOW)).toBe(at('2026-01-01T00:00:00Z'));
  });
});

describe('retryAfterSeconds', () => {
  it('takes delay-seconds as they are', () => {
    expect(retryAfterSeconds('120', null, NOW)).toBe(120);
    expect(retryAfterSeconds(' 0 ', null, NOW)).toBe(0);
  });

  it("measures a date from the response's own Date, so the receiver's clock skew does not matter", () => {
    // The receiver's clock is an hour ahead of ours; it asks for 30 s.
    expect(retryAfterSeconds('Sun, 01 Mar 2026 13:00:30 GMT', 'Sun, 01 Mar 2026 13:00:00 GMT', NOW)).toBe(30);
    // ... or an hour behind.
    expect(retryAfterSeconds('Sun, 01 Mar 2026 11:00:30 GMT', 'Sun, 01 Mar 2026 11:00:00 GMT', NOW)).toBe(30);
  });

  it('measures a date from our clock when the response has no usable Date', () => {
    expect(retryAfterSeconds('Sun, 01 Mar 2026 12:00:45 GMT', null, NOW)).toBe(45);
    expect(retryAfterSeconds('Sun, 01 Mar 2026 12:00:45 GMT', 'garbage', NOW)).toBe(45);
    // Rounded up to whole seconds: never earlier than asked.
    expect(retryAfterSeconds('Sun, 01 Mar 2026 12:00:45 GMT', null, new Date('2026-03-01T12:00:00.400Z'))).toBe(45);
  });

  it('clamps a date in the past to 0 and leaves the cap to the caller (a far date is its whole distance)', () => {
    expect(retryAfterSeconds('Sun, 01 Mar 2026 11:59:00 GMT', null, NOW)).toBe(0);
    expect(retryAfterSeconds('Sun, 01 Mar 2026 12:00:00 GMT', 'Sun, 01 Mar 2026 12:00:10 GMT', NOW)).toBe(0);
    expect(retryAfterSeconds('Mon, 02 Mar 2026 12:00:00 GMT', null, NOW)).toBe(86_400);
  });

  it('ignores an absent or unusable value', () => {
    for (const value of [null, undefined, '', '   ', '1.5', '-5', 'soon', '2026-03-01T12:05:00Z']) {
      expect(retryAfterSeconds(value, null, NOW), String(value)).toBeUndefined();
    }
  });
});
