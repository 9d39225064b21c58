// Recurrence expansion and time zones for CalDAV time-range filters and free-busy
// (RFC 4791 §9.9, §7.10; RFC 5545 §3.8.5 RRULE/RDATE/EXDATE, §3.8.4.4 RECURRENCE-ID,
// §3.6.5 VTIMEZONE). Pure: text in, instants out. ical.js parses and expands; time
// zones come from the object's own VTIMEZONE components (ical.js resolves a TZID
// through the component tree), never from a global registry.
import ICAL from "ical.js";

/** Upper bound on recurrence iterations per component, so an unbounded RRULE cannot hang. */
export const MAX_ITERATIONS = 10_000;

const DAY = 86_400_000;

/** One instance of a component: [start, end) in ms since the epoch (UTC). */
export interface Instance {
  start: number;
  end: number;
  /** The component that describes this instance (the master or a RECURRENCE-ID override). */
  item: ICAL.Component;
}

/** Parse iCalendar text; null when ical.js cannot read it. */
export function parseCalendar(text: string): ICAL.Component | null {
  try {
    const c = new ICAL.Component(ICAL.parse(text));
    return c.name === "vcalendar" ? c : null;
  } catch {
    return null;
  }
}

// RFC 4791 §9.9: floating times (no TZID, no Z) are compared as UTC here, the server
// having no calendar time zone of its own; a TZID with no VTIMEZONE in the object is
// read the same way. ical.js's "floating" zone has offset 0, which gives exactly that.
function ms(t: ICAL.Time): number {
  return t.toUnixTime() * 1000;
}

function timeOf(c: ICAL.Component, name: string): ICAL.Time | null {
  const v = c.getFirstPropertyValue(name);
  return v instanceof ICAL.Time ? v : null;
}

/** Length of the component (RFC 4791 §9.9 table): DTEND/DUE − DTSTART, DURATION, else one day for a DATE, zero for a DATE-TIME. */
function lengthOf(c: ICAL.Component, start: ICAL.Time): number {
  const end = timeOf(c, "dtend") ?? timeOf(c, "due");
  if (end) return Math.max(0, ms(end) - ms(start));
  const dur = c.getFirstPropertyValue("duration");
  if (dur instanceof ICAL.Duration) return dur.toSeconds() * 1000;
  return start.isDate ? DAY : 0;
}

/** RFC 4791 §9.9: an instant matches when start <= s < end, an interval when s < end and e > start. */
export function overlapsInstance(i: { start: number; end: number }, start: number, end: number): boolean {
  if (i.end === i.start) return start <= i.start && i.start < end;
  return i.start < end && i.end > start;
}

/**
 * The instances of the components named `name` (e.g. "vevent") that overlap [start, end),
 * and whether any such component has no DTSTART (RFC 4791 §9.9: it matches every range).
 * Masters are expanded by RRULE/RDATE minus EXDATE; an instance with a RECURRENCE-ID override
 * takes the override's own time (which may move it into or out of the range).
 */
export function instancesIn(cal: ICAL.Component, name: string, start: number, end: number): { instances: Instance[]; undated: boolean } {
  const comps = cal.getAllSubcomponents(name.toLowerCase());
  const out: Instance[] = [];
  let undated = false;
  const overrides = comps.filter((c) => c.hasProperty("recurrence-id"));
  const masters = comps.filter((c) => !c.hasProperty("recurrence-id"));
  const uidOf = (c: ICAL.Component) => String(c.getFirstPropertyValue("uid") ?? "");
  // Overrides: each is its own instance, at its own (possibly moved) time.
  for (const o of overrides) {
    const s = timeOf(o, "dtstart");
    if (!s) {
      undated = true;
      continue;
    }
    const i = { start: ms(s), end: ms(s) + lengthOf(o, s), item: o };
    if (overlapsInstance(i, start, end)) out.push(i);
  }
  for (const m of masters) {
    const s = timeOf(m, "dtstart");
    if (!s) {
      undated = true;
      continue;
    }
    const len = lengthOf(m, s);
    if (!m.hasProperty("rrule") && !m.hasProperty("rdate")) {
      const i = { start: ms(s), end: ms(s) + len, item: m };
      if (overlapsInstance(i, start, end)) out.push(i);
      continue;
    }
    // Recurrence ids (as UTC ms) that an override of this master replaces.
    const replaced = new Set<number>();
    for (const o of overrides) {
      const rid = timeOf(o, "recurrence-id");
      if (rid && uidOf(o) === uidOf(m)) replaced.add(ms(rid));
    }
    let it: ICAL.RecurExpansion;
    try {
      it = new ICAL.Event(m, { exceptions: [] }).iterator();
    } catch {
      continue;
    }
    for (let n = 0; n < MAX_ITERATIONS; n++) {
      let next: ICAL.Time | null;
      try {
        next = it.next() ?? null;
      } catch {
        break;
      }
      if (!next) break;
      const t = ms(next);
      if (t >= end) break; // instances come in order: none later can overlap
      if (replaced.has(t)) continue;
      const i = { start: t, end: t + len, item: m };
      if (overlapsInstance(i, start, end)) out.push(i);
    }
  }
  out.sort((a, b) => a.start - b.start);
  return { instances: out, undated };
}

/** Does any instance of a `name` component overlap [start, end)? (RFC 4791 §9.9.) */
export function matchesTimeRange(cal: ICAL.Component, name: string, start: number, end: number): boolean | null {
  try {
    const r = instancesIn(cal, name, start, end);
    return r.undated || r.instances.length > 0;
  } catch {
    return null; // a value ical.js cannot read: the caller falls back
  }
}

/**
 * RFC 4791 §7.10: busy periods of the VEVENT instances in [start, end), clipped to it.
 * TRANSP:TRANSPARENT and STATUS:CANCELLED instances (master or override) are free.
 */
export function busyPeriods(cal: ICAL.Component, start: number, end: number): Array<{ start: number; end: number }> | null {
  const out: Array<{ start: number; end: number }> = [];
  let all: Instance[];
  try {
    all = instancesIn(cal, "vevent", start, end).instances;
  } catch {
    return null; // a value ical.js cannot read: the caller falls back
  }
  for (const i of all) {
    const transp = String(i.item.getFirstPropertyValue("transp") ?? "").toUpperCase();
    const status = String(i.item.getFirstPropertyValue("status") ?? "").toUpperCase();
    if (transp === "TRANSPARENT" || status === "CANCELLED") continue;
    out.push({ start: Math.max(i.start, start), end: Math.min(i.end, end) });
  }
  return out;
}
