// Checks of vCard (RFC 6350, and 3.0: RFC 2426) and iCalendar (RFC 5545) bodies before they are
// stored: content lines (RFC 5545 §3.1 / RFC 6350 §3.2: folding, name, parameters, value),
// BEGIN/END nesting, exactly one object, and the UID a collection must keep unique.
// The original bytes are what is stored and served; this only reads them.
//
// Time ranges (RFC 4791 §9.9) are decided per instance in recurrence.ts (ical.js); overlaps()
// here is the fallback for an object ical.js cannot read: DTSTART/DTEND/DURATION as UTC, and a
// recurring event (RRULE/RDATE) overlaps any range that ends after its first instance starts.

export class ContentError extends Error {}

export interface ContentLine {
  name: string;
  params: Record<string, string>;
  value: string;
}

export interface Component {
  name: string;
  props: ContentLine[];
  children: Component[];
}

const LINE = /^([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)?)((?:;[A-Za-z0-9-]+=(?:"[^"]*"|[^";:,]*)(?:,(?:"[^"]*"|[^";:,]*))*)*):(.*)$/s;

/** Unfolds and parses content lines into one top-level component. */
export function parseComponents(text: string): Component {
  if (text.includes("\u0000")) throw new ContentError("NUL in the body");
  const raw = text.replace(/\r\n[ \t]/g, "").replace(/\n[ \t]/g, "").split(/\r?\n/).filter((l) => l !== "");
  const stack: Component[] = [];
  let root: Component | null = null;
  for (const l of raw) {
    const m = LINE.exec(l);
    if (!m) throw new ContentError(`not a content line: ${l.slice(0, 60)}`);
    const name = m[1].replace(/^[^.]*\./, "").toUpperCase();
    const params: Record<string, string> = {};
    for (const p of m[2].split(/;(?=[A-Za-z0-9-]+=)/).slice(1)) {
      const i = p.indexOf("=");
      params[p.slice(0, i).toUpperCase()] = p.slice(i + 1).replace(/^"|"$/g, "");
    }
    const value = m[3];
    if (name === "BEGIN") {
      if (root && stack.length === 0) throw new ContentError("more than one object in the body");
      const c: Component = { name: value.toUpperCase(), props: [], children: [] };
      if (stack.length) stack[stack.length - 1].children.push(c);
      else root = c;
      stack.push(c);
    } else if (name === "END") {
      const top = stack.pop();
      if (!top || top.name !== value.toUpperCase()) throw new ContentError(`END:${value} does not close ${top?.name ?? "anything"}`);
    } else {
      if (!stack.length) throw new ContentError("a property outside BEGIN/END");
      stack[stack.length - 1].props.push({ name, params, value });
    }
  }
  if (stack.length) throw new ContentError(`${stack[stack.length - 1].name} is not closed`);
  if (!root) throw new ContentError("empty body");
  return root;
}

export const prop = (c: Component, name: string): ContentLine | undefined => c.props.find((p) => p.name === name);

/** A vCard 3.0 or 4.0: its UID (may be absent in 3.0). */
export function checkVcard(bytes: Buffer): { uid: string | null; card: Component } {
  const text = utf8(bytes);
  const card = parseComponents(text);
  if (card.name !== "VCARD") throw new ContentError("not a vCard (BEGIN:VCARD)");
  const version = prop(card, "VERSION")?.value;
  if (version !== "3.0" && version !== "4.0") throw new ContentError("VERSION must be 3.0 or 4.0 (RFC 6350 §6.7.9)");
  // RFC 6350 §6.2.1: FN is required (1*); 3.0 requires N too but clients often omit it.
  if (!prop(card, "FN")) throw new ContentError("FN is required (RFC 6350 §6.2.1)");
  return { uid: prop(card, "UID")?.value ?? null, card };
}

/** An iCalendar object for a calendar collection (RFC 4791 §4.1): one UID, components of one type. */
export function checkIcal(bytes: Buffer): { uid: string; cal: Component; kind: string } {
  const text = utf8(bytes);
  const cal = parseComponents(text);
  if (cal.name !== "VCALENDAR") throw new ContentError("not an iCalendar object (BEGIN:VCALENDAR)");
  if (prop(cal, "VERSION")?.value !== "2.0") throw new ContentError("VERSION:2.0 is required (RFC 5545 §3.7.4)");
  if (!prop(cal, "PRODID")) throw new ContentError("PRODID is required (RFC 5545 §3.7.3)");
  const items = cal.children.filter((c) => c.name !== "VTIMEZONE");
  if (!items.length) throw new ContentError("no VEVENT, VTODO or VJOURNAL");
  const kinds = new Set(items.map((c) => c.name));
  if (kinds.size !== 1) throw new ContentError("components of more than one type (RFC 4791 §4.1)");
  const uids = new Set(items.map((c) => prop(c, "UID")?.value));
  if (uids.has(undefined)) throw new ContentError("every component needs a UID (RFC 5545 §3.8.4.7)");
  if (uids.size !== 1) throw new ContentError("more than one UID in one resource (RFC 4791 §4.1)");
  for (const c of items) {
    if (c.name === "VEVENT" && !prop(c, "DTSTART")) throw new ContentError("VEVENT needs DTSTART (RFC 5545 §3.6.1)");
    if (c.name === "VEVENT" && prop(c, "DTSTART") && parseIcalDate(prop(c, "DTSTART")!.value) === null) throw new ContentError("DTSTART is not a date or date-time");
  }
  return { uid: [...uids][0]!, cal, kind: [...kinds][0]! };
}

function utf8(bytes: Buffer): string {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  if (text.includes("\ufffd") && !bytes.includes(Buffer.from("\ufffd"))) throw new ContentError("the body is not UTF-8");
  return text;
}

/** A DATE or DATE-TIME value (RFC 5545 §3.3.4/§3.3.5) as ms; floating and TZID times are read as UTC. */
export function parseIcalDate(v: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})Z?)?$/.exec(v);
  if (!m) return null;
  const t = Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0));
  return Number.isNaN(t) ? null : t;
}

/** RFC 5545 §3.3.6 DURATION as ms (weeks, days, hours, minutes, seconds). */
export function parseDuration(v: string): number | null {
  const m = /^([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(v);
  if (!m) return null;
  const ms = ((+(m[2] ?? 0) * 7 + +(m[3] ?? 0)) * 86400 + +(m[4] ?? 0) * 3600 + +(m[5] ?? 0) * 60 + +(m[6] ?? 0)) * 1000;
  return m[1] === "-" ? -ms : ms;
}

/** Does the component overlap [start, end) (RFC 4791 §9.9 table)? */
export function overlaps(c: Component, start: number, end: number): boolean {
  const ds = prop(c, "DTSTART");
  const s = ds ? parseIcalDate(ds.value) : null;
  if (s === null) return true;
  const recurring = !!prop(c, "RRULE") || !!prop(c, "RDATE");
  const de = prop(c, "DTEND") ?? prop(c, "DUE");
  const dur = prop(c, "DURATION");
  let e = de ? parseIcalDate(de.value) : dur ? (parseDuration(dur.value) ?? 0) + s : null;
  // A DATE start with no end lasts one day; a DATE-TIME start with no end is an instant.
  if (e === null) e = ds!.value.length === 8 ? s + 86_400_000 : s;
  if (recurring) return s < end;
  if (e === s) return start <= s && s < end;
  return s < end && e > start;
}
