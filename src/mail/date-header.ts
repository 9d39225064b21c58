// The calendar day a Date: header names (RFC 5322 §3.3 date-time, with §4.3 obsolete forms:
// two- and three-digit years, comments, missing seconds or weekday). SENTBEFORE/SENTON/SENTSINCE
// compare this day "disregarding time and timezone" (RFC 3501 §6.4.4, RFC 9051 §6.4.4): the
// date as written in the sender's own zone, so "Sun, 25 Mar 2007 00:00:00 +0200" is 25 March even
// though the instant is 24 March in UTC (as Dovecot answers). Nothing here throws.

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/** Days since 1970-01-01 of the date the header value names, or null when it names none. */
export function writtenDay(value: string): number | null {
  // RFC 5322 §3.2.2: comments may appear anywhere CFWS is allowed; nested ones included.
  let v = value;
  for (let i = 0; i < 5 && v.includes("("); i++) v = v.replace(/\([^()]*\)/g, " ");
  // [day-of-week ","] day month year (§3.3; §4.3 obs-day-of-week allows CFWS around it).
  const m = /^\s*(?:[A-Za-z]{3}[A-Za-z]*\s*,\s*)?(\d{1,2})\s*[-\s]\s*([A-Za-z]{3})[A-Za-z]*\s*[-\s]\s*(\d{2,4})(?=\s|$)/.exec(v);
  if (!m) return null;
  const day = Number(m[1]);
  const month = MONTHS.indexOf(m[2].toLowerCase());
  let year = Number(m[3]);
  // RFC 5322 §4.3: a two-digit year below 50 is 20xx, otherwise 19xx; three digits add 1900.
  if (m[3].length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3].length === 3) year += 1900;
  if (month < 0 || day < 1 || day > 31) return null;
  const t = Date.UTC(year, month, day);
  // Reject days the month does not have (31 Feb) instead of rolling over into March.
  if (new Date(t).getUTCDate() !== day) return null;
  return Math.floor(t / 86_400_000);
}
