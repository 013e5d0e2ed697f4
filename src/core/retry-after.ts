// Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. A date is read strictly in the
// three formats of §5.6.7, never through Date.parse: that takes "1.5" for 2001-01-05 and reads
// asctime dates in local time.

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY = '(?:mon|tue|wed|thu|fri|sat|sun)';
const DAY_LONG = '(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)';
const MONTH = '(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)';
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
/** Sun, 06 Nov 1994 08:49:37 GMT */
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`, 'i');
/** Sunday, 06-Nov-94 08:49:37 GMT (obsolete) */
const RFC850_DATE = new RegExp(`^${DAY_LONG}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`, 'i');
/** Sun Nov  6 08:49:37 1994 (obsolete; UTC although it says no zone) */
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`, 'i');

/**
 * An HTTP-date as epoch milliseconds, or undefined when `text` is not one (or names no real day).
 * `now` places rfc850's two-digit year: a year more than 50 years ahead is the century before.
 */
export function parseHttpDate(text: string, now: Date): number | undefined {
  const value = text.trim();
  let match = IMF_FIXDATE.exec(value);
  if (match) return utc(Number(match[3]), match[2]!, match[1]!, match[4]!, match[5]!, match[6]!);
  match = RFC850_DATE.exec(value);
  if (match) {
    const thisYear = now.getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + Number(match[3]);
    if (year > thisYear + 50) year -= 100;
    return utc(year, match[2]!, match[1]!, match[4]!, match[5]!, match[6]!);
  }
  match = ASCTIME_DATE.exec(value);
  if (match) return utc(Number(match[6]), match[1]!, match[2]!.trim(), match[3]!, match[4]!, match[5]!);
  return undefined;
}

function utc(year: number, month: string, day: string, hour: string, minute: string, second: string): number | undefined {
  const m = MONTHS.indexOf(month.toLowerCase());
  const [d, h, min, s] = [Number(day), Number(hour), Number(minute), Number(second)];
  // Second 60: a leap second, as the grammar allows; it is the next minute's first.
  if (d < 1 || h > 23 || min > 59 || s > 60) return undefined;
  const midnight = new Date(0);
  midnight.setUTCFullYear(year, m, d); // not Date.UTC: it reads years 0-99 as 1900-1999
  // 31 Feb and the like roll over into the next month: not a real day.
  if (midnight.getUTCDate() !== d) return undefined;
  return midnight.getTime() + ((h * 60 + min) * 60 + s) * 1000;
}

/**
 * Seconds to wait from a Retry-After value, or undefined when absent or unusable. A date is
 * measured from the response's own `Date` when it has a valid one (both come from the receiver's
 * clock, so skew between its clock and ours does not matter), else from `now`. A date in the past
 * is 0. Whole seconds, rounded up: never earlier than asked.
 */
export function retryAfterSeconds(value: string | null | undefined, responseDate: string | null | undefined, now: Date): number | undefined {
  const trimmed = value?.trim() ?? '';
  if (trimmed === '') return undefined;
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = parseHttpDate(trimmed, now);
  if (at === undefined) return undefined;
  const from = (responseDate ? parseHttpDate(responseDate, now) : undefined) ?? now.getTime();
  return Math.max(0, Math.ceil((at - from) / 1000));
}
