// IMAP dates: date-time for INTERNALDATE and APPEND (RFC 9051 §9), date for SEARCH.

export const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** An instant with the zone the client (or the message) gave it. */
export interface ImapDateTime {
  /** Milliseconds since the Unix epoch. */
  time: number;
  /** Zone offset east of UTC in minutes (-0700 → -420). */
  offset: number;
}

/** A calendar day, as SEARCH compares them (RFC 9051 §6.4.4: disregarding time and timezone). */
export interface SearchDate {
  year: number;
  month: number; // 1..12
  day: number;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function monthIndex(name: string): number {
  const i = MONTHS.findIndex((m) => m.toLowerCase() === name.toLowerCase());
  return i < 0 ? -1 : i + 1;
}

/** RFC 9051 §9: date-text = date-day "-" date-month "-" date-year. Returns null if invalid. */
export function parseDateText(s: string): SearchDate | null {
  const m = /^([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})$/.exec(s);
  if (!m) return null;
  const day = Number(m[1]);
  const month = monthIndex(m[2]);
  const year = Number(m[3]);
  if (month < 0 || day < 1 || day > daysIn(year, month)) return null;
  return { year, month, day };
}

/**
 * RFC 9051 §9: date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone
 * DQUOTE, date-day-fixed = (SP DIGIT) / 2DIGIT. Takes the text between the quotes.
 */
export function parseDateTime(s: string): ImapDateTime | null {
  const m = /^( [0-9]|[0-9]{2})-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})$/.exec(s);
  if (!m) return null;
  const day = Number(m[1].trim());
  const month = monthIndex(m[2]);
  const year = Number(m[3]);
  const [hh, mm, ss] = [Number(m[4]), Number(m[5]), Number(m[6])];
  const zh = Number(m[8]);
  const zm = Number(m[9]);
  if (month < 0 || day < 1 || day > daysIn(year, month) || hh > 23 || mm > 59 || ss > 60 || zm > 59) return null;
  const offset = (m[7] === '-' ? -1 : 1) * (zh * 60 + zm);
  const local = Date.UTC(year, month - 1, day, hh, mm, Math.min(ss, 59));
  return { time: local - offset * 60_000, offset };
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** The quoted date-time as sent in INTERNALDATE, e.g. "17-Jul-1996 02:44:25 -0700" (with quotes). */
export function formatDateTime(dt: ImapDateTime): string {
  const d = new Date(dt.time + dt.offset * 60_000);
  const day = d.getUTCDate();
  const sign = dt.offset < 0 ? '-' : '+';
  const abs = Math.abs(dt.offset);
  return (
    `"${day < 10 ? ' ' + day : day}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} ` +
    `${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}"`
  );
}

export function formatDateText(d: SearchDate): string {
  return `${d.day}-${MONTHS[d.month - 1]}-${d.year}`;
}
