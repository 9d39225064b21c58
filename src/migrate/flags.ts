// Flag and date encodings of the file formats Freehold exports and imports. Pure functions.
//
// Maildir info (https://cr.yp.to/proto/maildir.html, "Info semantics"): after ":2," the
// flags in ASCII order, D draft, F flagged, P passed, R replied, S seen, T trashed; Dovecot
// adds lowercase letters a..z for the keywords numbered 0..25 in the folder's dovecot-keywords
// file (https://doc.dovecot.org/main/core/config/mailbox_formats/maildir.html).
// mbox (Dovecot/mutt/Pine convention, documented in Dovecot's "mbox" format page): Status: R
// read, O old; X-Status: A answered, F flagged, T draft, D deleted; X-Keywords: space-separated.

export const MAILDIR_FLAG: Record<string, string> = { "\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S", "\\Deleted": "T" };
const MAILDIR_LETTER: Record<string, string> = Object.fromEntries(Object.entries(MAILDIR_FLAG).map(([k, v]) => [v, k]));

export function isSystemFlag(f: string): boolean {
  return f.startsWith("\\");
}

/** The info part ("2,FRS" + keyword letters) for a message's flags; keywords indexed by `keywordIndex`. */
export function maildirInfo(flags: readonly string[], keywordIndex: (kw: string) => number): string {
  const std = flags.map((f) => MAILDIR_FLAG[f]).filter((x): x is string => x !== undefined);
  const kws: string[] = [];
  for (const f of flags) {
    if (isSystemFlag(f)) continue;
    const i = keywordIndex(f);
    if (i >= 0 && i < 26) kws.push(String.fromCharCode(97 + i));
  }
  return "2," + [...new Set(std)].sort().join("") + [...new Set(kws)].sort().join("");
}

/** Flags from a Maildir file name's info; `keywords` is the folder's dovecot-keywords list. */
export function parseMaildirInfo(fileName: string, keywords: ReadonlyMap<number, string>): string[] {
  const at = fileName.lastIndexOf(":2,");
  if (at < 0) return [];
  const out: string[] = [];
  for (const ch of fileName.slice(at + 3)) {
    if (MAILDIR_LETTER[ch]) out.push(MAILDIR_LETTER[ch]);
    else if (ch >= "a" && ch <= "z") {
      const kw = keywords.get(ch.charCodeAt(0) - 97);
      if (kw) out.push(kw);
    }
  }
  return [...new Set(out)];
}

/** dovecot-keywords: one "N name" line per keyword. */
export function parseDovecotKeywords(text: string): Map<number, string> {
  const m = new Map<number, string>();
  for (const line of text.split(/\r?\n/)) {
    const r = /^(\d+) (\S+)$/.exec(line);
    if (r) m.set(Number(r[1]), r[2]);
  }
  return m;
}

export interface MboxStatus {
  status: string;
  xStatus: string;
  keywords: string[];
}

export function mboxStatus(flags: readonly string[]): MboxStatus {
  const has = (f: string) => flags.includes(f);
  return {
    status: (has("\\Seen") ? "R" : "") + "O",
    xStatus: (has("\\Answered") ? "A" : "") + (has("\\Flagged") ? "F" : "") + (has("\\Draft") ? "T" : "") + (has("\\Deleted") ? "D" : ""),
    keywords: flags.filter((f) => !isSystemFlag(f)),
  };
}

export function flagsFromMboxStatus(status: string | undefined, xStatus: string | undefined, keywords: string | undefined): string[] {
  const out: string[] = [];
  if (status?.includes("R")) out.push("\\Seen");
  const x = xStatus ?? "";
  if (x.includes("A")) out.push("\\Answered");
  if (x.includes("F")) out.push("\\Flagged");
  if (x.includes("T")) out.push("\\Draft");
  if (x.includes("D")) out.push("\\Deleted");
  for (const k of (keywords ?? "").split(/[\s,]+/)) if (k !== "") out.push(sanitizeKeyword(k));
  return [...new Set(out)];
}

/**
 * An IMAP keyword is an atom (RFC 9051 §9 flag-keyword = "$MDNSent" / "$Forwarded" / ... / atom):
 * no space, no ( ) { % * " \ ] and no controls. Other characters become "_".
 */
export function sanitizeKeyword(k: string): string {
  const s = k.replace(/[\x00-\x20\x7f()\{%*"\\\]]/g, "_").replace(/[^\x21-\x7e]/g, "_");
  return s === "" ? "_" : s;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** The asctime(3) date of an mbox From_ line, in UTC: "Mon Dec  7 11:01:02 2026". */
export function asctime(ms: number): string {
  const d = new Date(ms);
  const p2 = (n: number) => String(n).padStart(2, "0");
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, " ")} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/**
 * The date of a From_ line ("From sender asctime", optionally with a zone as Google Takeout
 * writes: "Sat Jan 01 00:00:00 +0000 2022"), in ms; null when there is none.
 */
export function parseFromLineDate(line: string): number | null {
  const r = /(?:Sun|Mon|Tue|Wed|Thu|Fri|Sat)\s+(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})(?:\s+([+-])(\d{2})(\d{2}))?\s+(\d{4})/.exec(line);
  if (!r) return null;
  const t = Date.UTC(Number(r[9]), MONTHS.indexOf(r[1]), Number(r[2]), Number(r[3]), Number(r[4]), Number(r[5]));
  const off = r[6] ? (r[6] === "-" ? -1 : 1) * (Number(r[7]) * 60 + Number(r[8])) * 60_000 : 0;
  return t - off;
}
