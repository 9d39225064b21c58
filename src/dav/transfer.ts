// Address books and calendars in and out (issue 11 §3): .vcf and .ics files, Google Contacts and
// Outlook CSV exports mapped onto vCard fields, and a copy from another CardDAV/CalDAV server.
// Pure functions over text, plus DavTransfer on the DavStore, which the CLI and the API call.
import { createHash } from "node:crypto";
import type { CollectionKind, DavStore } from "./store.ts";
import { ContentError, checkIcal, checkVcard } from "./content.ts";

/** The objects of a multi-object file, each as its original text (CRLF line ends). */
export function splitObjects(text: string, begin: "VCARD" | "VCALENDAR"): string[] {
  const lines = text.replace(/\r?\n/g, "\r\n").split("\r\n");
  const out: string[] = [];
  let cur: string[] | null = null;
  for (const l of lines) {
    if (cur === null && l.toUpperCase() === `BEGIN:${begin}`) cur = [];
    if (cur !== null) cur.push(l);
    if (cur !== null && l.toUpperCase() === `END:${begin}`) {
      out.push(cur.join("\r\n") + "\r\n");
      cur = null;
    }
  }
  if (cur !== null) throw new ContentError(`BEGIN:${begin} without END`);
  return out;
}

/**
 * One .ics file (possibly many events) → one calendar object per UID (RFC 4791 §4.1), each with
 * the calendar's VTIMEZONEs and its overrides (RECURRENCE-ID) kept together with the master.
 */
export function splitCalendar(text: string): string[] {
  const out: string[] = [];
  for (const cal of splitObjects(text, "VCALENDAR")) {
    const lines = cal.split("\r\n");
    const head: string[] = [];
    const tz: string[] = [];
    const byUid = new Map<string, string[]>();
    let comp: string[] | null = null;
    let depth = 0;
    let name = "";
    for (const l of lines.slice(1)) {
      const u = l.toUpperCase();
      if (comp === null && u === "END:VCALENDAR") break;
      if (comp === null && u.startsWith("BEGIN:")) {
        comp = [l];
        depth = 1;
        name = u.slice(6);
        continue;
      }
      if (comp === null) {
        if (l !== "") head.push(l);
        continue;
      }
      comp.push(l);
      if (u.startsWith("BEGIN:")) depth++;
      if (u.startsWith("END:") && --depth === 0) {
        if (name === "VTIMEZONE") tz.push(...comp);
        else {
          const uid = /^UID:(.*)$/im.exec(comp.filter((x, i) => i === 0 || !/^\s/.test(x)).join("\n"))?.[1] ?? `no-uid-${byUid.size}`;
          byUid.set(uid, [...(byUid.get(uid) ?? []), ...comp]);
        }
        comp = null;
      }
    }
    for (const comps of byUid.values()) out.push(["BEGIN:VCALENDAR", ...head, ...tz, ...comps, "END:VCALENDAR", ""].join("\r\n"));
  }
  return out;
}

/** RFC 4180 CSV (quoted fields, doubled quotes, newlines inside quotes). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let f = "";
  let q = false;
  const s = text.replace(/^\ufeff/, "");
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) {
      if (c === '"' && s[i + 1] === '"') (f += '"'), i++;
      else if (c === '"') q = false;
      else f += c;
    } else if (c === '"') q = true;
    else if (c === ",") row.push(f), (f = "");
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && s[i + 1] === "\n") i++;
      row.push(f);
      rows.push(row);
      row = [];
      f = "";
    } else f += c;
  }
  if (f !== "" || row.length) row.push(f), rows.push(row);
  return rows.filter((r) => r.some((x) => x !== ""));
}

/** RFC 6350 §3.4 text escaping. */
const esc = (s: string) => s.replace(/\\/g, "\\\\").replace(/,/g, "\\,").replace(/;/g, "\\;").replace(/\r?\n/g, "\\n");
const escComp = (s: string) => s.replace(/\\/g, "\\\\").replace(/,/g, "\\,").replace(/;/g, "\\;").replace(/\r?\n/g, "\\n");

/** RFC 6350 §3.2: lines longer than 75 octets are folded. */
function fold(line: string): string {
  const b = Buffer.from(line, "utf8");
  if (b.length <= 75) return line;
  const parts: string[] = [];
  let cur = "";
  for (const ch of line) {
    if (Buffer.byteLength(cur + ch) > (parts.length ? 74 : 75)) parts.push(cur), (cur = "");
    cur += ch;
  }
  parts.push(cur);
  return parts.join("\r\n ");
}

export interface CsvContact {
  given: string;
  family: string;
  middle: string;
  prefix: string;
  suffix: string;
  fn: string;
  nickname: string;
  org: string;
  title: string;
  emails: Array<{ type: string; value: string }>;
  phones: Array<{ type: string; value: string }>;
  note: string;
  birthday: string;
  groups: string[];
}

/**
 * Google Contacts CSV ("Given Name"/"First Name", "E-mail 1 - Value", "Phone 1 - Value",
 * "Group Membership") and Outlook CSV ("First Name", "E-mail Address", "Mobile Phone",
 * "Categories") onto vCard fields. The header row decides which columns mean what.
 */
export function csvToContacts(text: string): CsvContact[] {
  const rows = parseCsv(text);
  if (rows.length < 1) return [];
  const h = rows[0].map((x) => x.trim().toLowerCase());
  const col = (...names: string[]) => {
    for (const n of names) {
      const i = h.indexOf(n.toLowerCase());
      if (i >= 0) return i;
    }
    return -1;
  };
  const at = (r: string[], i: number) => (i >= 0 ? (r[i] ?? "").trim() : "");
  const c = {
    given: col("Given Name", "First Name"),
    family: col("Family Name", "Last Name"),
    middle: col("Additional Name", "Middle Name"),
    prefix: col("Name Prefix", "Title"),
    suffix: col("Name Suffix", "Suffix"),
    fn: col("Name", "Display Name"),
    nickname: col("Nickname"),
    org: col("Organization 1 - Name", "Organization Name", "Company"),
    title: col("Organization 1 - Title", "Organization Title", "Job Title"),
    note: col("Notes", "Note"),
    birthday: col("Birthday"),
    groups: col("Group Membership", "Labels", "Categories"),
  };
  const emailCols: Array<{ v: number; t: number }> = [];
  const phoneCols: Array<{ v: number; t: number }> = [];
  h.forEach((name, i) => {
    let m = /^e-mail (\d+) - value$/.exec(name);
    if (m) emailCols.push({ v: i, t: h.indexOf(`e-mail ${m[1]} - type`) });
    m = /^phone (\d+) - value$/.exec(name);
    if (m) phoneCols.push({ v: i, t: h.indexOf(`phone ${m[1]} - type`) });
  });
  // Outlook: fixed columns per kind.
  for (const [name, type] of [["e-mail address", "work"], ["e-mail 2 address", "home"], ["e-mail 3 address", "other"]] as const) if (h.indexOf(name) >= 0) emailCols.push({ v: h.indexOf(name), t: -1 - ["work", "home", "other"].indexOf(type) });
  const outlookPhones: Array<[string, string]> = [["mobile phone", "cell"], ["business phone", "work"], ["home phone", "home"], ["primary phone", "voice"]];
  for (const [name] of outlookPhones) if (h.indexOf(name) >= 0) phoneCols.push({ v: h.indexOf(name), t: -100 - outlookPhones.findIndex((p) => p[0] === name) });
  const typeOf = (r: string[], t: number, kind: "email" | "phone") => {
    if (t <= -100) return outlookPhones[-100 - t][1];
    if (t < 0) return ["work", "home", "other"][-1 - t];
    const raw = at(r, t).replace(/^\*\s*/, "").toLowerCase();
    if (kind === "phone" && raw === "mobile") return "cell";
    return raw || "other";
  };
  return rows.slice(1).map((r) => {
    const groups = at(r, c.groups)
      .split(/\s*(?::::|;)\s*/)
      .map((g) => g.replace(/^\*\s*/, "").trim())
      .filter((g) => g !== "" && g !== "myContacts" && g !== "* myContacts");
    const split = (v: string) => v.split(/\s*:::\s*/).filter((x) => x !== "");
    return {
      given: at(r, c.given),
      family: at(r, c.family),
      middle: at(r, c.middle),
      prefix: at(r, c.prefix),
      suffix: at(r, c.suffix),
      fn: at(r, c.fn),
      nickname: at(r, c.nickname),
      org: at(r, c.org),
      title: at(r, c.title),
      note: at(r, c.note),
      birthday: at(r, c.birthday),
      groups,
      emails: emailCols.flatMap((e) => split(at(r, e.v)).map((value) => ({ type: typeOf(r, e.t, "email"), value }))),
      phones: phoneCols.flatMap((p) => split(at(r, p.v)).map((value) => ({ type: typeOf(r, p.t, "phone"), value }))),
    };
  });
}

/** A CSV contact as a vCard 4.0 (RFC 6350); the UID is derived from the content, so a re-import replaces rather than duplicates. */
export function contactToVcard(c: CsvContact): string {
  const fn = c.fn || [c.prefix, c.given, c.middle, c.family, c.suffix].filter(Boolean).join(" ") || c.org || c.emails[0]?.value || "Unnamed";
  const uid = createHash("sha256").update(JSON.stringify(c)).digest("hex").slice(0, 32);
  const lines = ["BEGIN:VCARD", "VERSION:4.0", `UID:urn:uuid:${uid.slice(0, 8)}-${uid.slice(8, 12)}-${uid.slice(12, 16)}-${uid.slice(16, 20)}-${uid.slice(20, 32)}`, `FN:${esc(fn)}`];
  lines.push(`N:${[c.family, c.given, c.middle, c.prefix, c.suffix].map(escComp).join(";")}`);
  if (c.nickname) lines.push(`NICKNAME:${esc(c.nickname)}`);
  if (c.org) lines.push(`ORG:${escComp(c.org)}`);
  if (c.title) lines.push(`TITLE:${esc(c.title)}`);
  for (const e of c.emails) lines.push(`EMAIL;TYPE=${e.type.replace(/[^a-z0-9-]/gi, "")}:${e.value}`);
  for (const p of c.phones) lines.push(`TEL;TYPE=${p.type.replace(/[^a-z0-9-]/gi, "")}:${p.value}`);
  if (c.birthday && /^\d{4}-\d{2}-\d{2}$/.test(c.birthday)) lines.push(`BDAY:${c.birthday.replace(/-/g, "")}`);
  if (c.note) lines.push(`NOTE:${esc(c.note)}`);
  if (c.groups.length) lines.push(`CATEGORIES:${c.groups.map(esc).join(",")}`);
  lines.push("END:VCARD", "");
  return lines.map(fold).join("\r\n");
}

const fileName = (uid: string | null, bytes: string, ext: string) => `${createHash("sha256").update(uid ?? bytes).digest("hex").slice(0, 24)}.${ext}`;

export interface ImportResult {
  imported: number;
  /** Objects refused, with why (the others are still imported). */
  refused: Array<{ index: number; reason: string }>;
}

/** Export and import over the store: the CLI (freehold contacts|calendar) and the API call these. */
export class DavTransfer {
  readonly #store: DavStore;
  constructor(store: DavStore) {
    this.#store = store;
  }

  /** Every address book (or calendar) of the user as one .vcf (or .ics) text, original bytes concatenated. */
  async exportAll(owner: string, kind: CollectionKind): Promise<string> {
    await this.#store.ensureDefaults(owner);
    const parts: string[] = [];
    for (const c of await this.#store.listCollections(owner, kind)) for (const r of await this.#store.listResources(c.id)) parts.push(r.bytes!.toString("utf8").replace(/\r?\n$/, "") + "\r\n");
    return parts.join("");
  }

  /** Imports objects into a collection (default: "default"); the same UID replaces the earlier copy. */
  async importObjects(owner: string, kind: CollectionKind, objects: string[], collection = "default"): Promise<ImportResult> {
    await this.#store.ensureDefaults(owner);
    const coll = await this.#store.getCollection(owner, kind, collection);
    if (!coll) throw new ContentError(`no ${kind} named ${collection}`);
    const result: ImportResult = { imported: 0, refused: [] };
    for (const [index, text] of objects.entries()) {
      const bytes = Buffer.from(text, "utf8");
      try {
        const uid = kind === "addressbook" ? checkVcard(bytes).uid : checkIcal(bytes).uid;
        const existing = uid === null ? null : (await this.#store.listResources(coll.id)).find((r) => r.uid === uid);
        const name = existing?.name ?? fileName(uid, text, kind === "addressbook" ? "vcf" : "ics");
        const r = await this.#store.putResource(coll.id, { name, uid, contentType: kind === "addressbook" ? "text/vcard; charset=utf-8" : "text/calendar; charset=utf-8", bytes }, {});
        if (!r.ok) throw new ContentError(r.reason);
        result.imported++;
      } catch (e) {
        if (!(e instanceof ContentError)) throw e;
        result.refused.push({ index, reason: e.message });
      }
    }
    return result;
  }

  /** A .vcf, .csv (Google or Outlook) or .ics file's text as objects for importObjects. */
  static objectsOf(kind: CollectionKind, fileName: string, text: string): string[] {
    if (kind === "calendar") return splitCalendar(text);
    if (/\.csv$/i.test(fileName)) return csvToContacts(text).map(contactToVcard);
    return splitObjects(text, "VCARD");
  }
}

/**
 * The objects of a remote CardDAV/CalDAV collection (`--from`): one REPORT query with the data
 * (RFC 6352 §8.6 addressbook-query / RFC 4791 §7.8 calendar-query), Basic or Bearer auth.
 * Only https, or http to loopback (tests, a server on the same machine).
 */
export async function fetchRemote(url: string, kind: CollectionKind, auth: { basic?: { user: string; password: string }; bearer?: string }): Promise<string[]> {
  const u = new URL(url);
  const loop = u.hostname === "localhost" || u.hostname.startsWith("127.") || u.hostname === "[::1]";
  if (u.protocol !== "https:" && !(u.protocol === "http:" && loop)) throw new ContentError("--from must be an https:// URL");
  const headers: Record<string, string> = { depth: "1", "content-type": "application/xml; charset=utf-8" };
  if (auth.bearer) headers.authorization = `Bearer ${auth.bearer}`;
  else if (auth.basic) headers.authorization = `Basic ${Buffer.from(`${auth.basic.user}:${auth.basic.password}`).toString("base64")}`;
  const body =
    kind === "addressbook"
      ? `<?xml version="1.0"?><c:addressbook-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><c:address-data/></d:prop></c:addressbook-query>`
      : `<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"/></c:filter></c:calendar-query>`;
  const res = await fetch(u, { method: "REPORT", headers, body, redirect: "error" });
  if (res.status !== 207) throw new ContentError(`the server answered ${res.status} to the ${kind === "addressbook" ? "addressbook" : "calendar"}-query`);
  const xml = await res.text();
  const { parseXml, children, child, DAV, CARDDAV, CALDAV } = await import("./xml.ts");
  const root = parseXml(xml);
  const out: string[] = [];
  for (const r of children(root, DAV, "response")) {
    for (const ps of children(r, DAV, "propstat")) {
      const data = child(child(ps, DAV, "prop"), kind === "addressbook" ? CARDDAV : CALDAV, kind === "addressbook" ? "address-data" : "calendar-data");
      if (data && data.text.trim() !== "") out.push(data.text.replace(/\r?\n/g, "\r\n"));
    }
  }
  return out;
}
