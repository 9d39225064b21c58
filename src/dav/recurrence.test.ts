// Unit tests for src/dav/recurrence.ts (RFC 4791 §9.9, RFC 5545 §3.8.5).
import { test } from "node:test";
import assert from "node:assert/strict";
import { busyPeriods, instancesIn, matchesTimeRange, parseCalendar } from "./recurrence.ts";

const BERLIN = [
  "BEGIN:VTIMEZONE", "TZID:Europe/Berlin",
  "BEGIN:DAYLIGHT", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "TZNAME:CEST", "DTSTART:19700329T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT",
  "BEGIN:STANDARD", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "TZNAME:CET", "DTSTART:19701025T030000", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD",
  "END:VTIMEZONE",
];
const cal = (...lines: string[]) => ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//t//EN", ...lines, "END:VCALENDAR", ""].join("\r\n");
const u = (s: string) => Date.parse(s);

// Weekly on Mondays 10:00–11:00 Berlin from 2026-03-16 (CET, UTC+1) across the DST change on 2026-03-29.
const weekly = cal(...BERLIN,
  "BEGIN:VEVENT", "UID:w1", "DTSTAMP:20260301T000000Z", "DTSTART;TZID=Europe/Berlin:20260316T100000", "DTEND;TZID=Europe/Berlin:20260316T110000",
  "RRULE:FREQ=WEEKLY;COUNT=6", "EXDATE;TZID=Europe/Berlin:20260323T100000", "END:VEVENT",
  "BEGIN:VEVENT", "UID:w1", "DTSTAMP:20260301T000000Z", "RECURRENCE-ID;TZID=Europe/Berlin:20260406T100000",
  "DTSTART;TZID=Europe/Berlin:20260407T150000", "DTEND;TZID=Europe/Berlin:20260407T160000", "END:VEVENT");

test("TZID times use the object's VTIMEZONE, across a DST change", () => {
  const c = parseCalendar(weekly)!;
  const got = instancesIn(c, "vevent", u("2026-03-01T00:00:00Z"), u("2026-05-01T00:00:00Z")).instances.map((i) => new Date(i.start).toISOString());
  assert.deepEqual(got, [
    "2026-03-16T09:00:00.000Z", // CET
    // 03-23 is EXDATE'd
    "2026-03-30T08:00:00.000Z", // CEST
    "2026-04-07T13:00:00.000Z", // 04-06 moved to 04-07 15:00 CEST
    "2026-04-13T08:00:00.000Z",
    "2026-04-20T08:00:00.000Z",
  ]);
});

test("time-range: a later recurrence matches, the EXDATE'd date and the moved instance's old time do not", () => {
  const c = parseCalendar(weekly)!;
  assert.equal(matchesTimeRange(c, "VEVENT", u("2026-04-20T07:00:00Z"), u("2026-04-20T09:00:00Z")), true);
  assert.equal(matchesTimeRange(c, "VEVENT", u("2026-03-23T00:00:00Z"), u("2026-03-24T00:00:00Z")), false);
  assert.equal(matchesTimeRange(c, "VEVENT", u("2026-04-06T00:00:00Z"), u("2026-04-07T00:00:00Z")), false);
  assert.equal(matchesTimeRange(c, "VEVENT", u("2026-04-07T13:30:00Z"), u("2026-04-07T14:00:00Z")), true);
  // After COUNT is exhausted.
  assert.equal(matchesTimeRange(c, "VEVENT", u("2026-04-27T00:00:00Z"), u("2027-01-01T00:00:00Z")), false);
  // The ranges touch but do not overlap an hour-long instance.
  assert.equal(matchesTimeRange(c, "VEVENT", u("2026-04-20T09:00:00Z"), u("2026-04-20T10:00:00Z")), false);
});

test("an unbounded RRULE stops at the range end and at the iteration cap", () => {
  const c = parseCalendar(cal("BEGIN:VEVENT", "UID:u", "DTSTAMP:20200101T000000Z", "DTSTART:20000101T000000Z", "DURATION:PT1M", "RRULE:FREQ=MINUTELY", "END:VEVENT"))!;
  const t0 = process.cpuUsage();
  // Far beyond 10,000 minutes after DTSTART: the cap stops the walk (and finds nothing).
  assert.equal(matchesTimeRange(c, "VEVENT", u("2030-01-01T00:00:00Z"), u("2030-01-02T00:00:00Z")), false);
  // Near the start it is found.
  assert.equal(instancesIn(c, "VEVENT", u("2000-01-01T00:10:00Z"), u("2000-01-01T00:13:00Z")).instances.length, 3);
  const cpu = process.cpuUsage(t0);
  assert.ok(cpu.user + cpu.system < 30_000_000, "bounded work");
});

test("floating times and all-day dates are read as UTC (RFC 4791 §9.9)", () => {
  const c = parseCalendar(cal(
    "BEGIN:VEVENT", "UID:f", "DTSTAMP:20200101T000000Z", "DTSTART:20260510T120000", "DTEND:20260510T130000", "END:VEVENT",
    "BEGIN:VEVENT", "UID:d", "DTSTAMP:20200101T000000Z", "DTSTART;VALUE=DATE:20260601", "RRULE:FREQ=YEARLY", "END:VEVENT"))!;
  const f = instancesIn(c, "VEVENT", u("2026-05-10T00:00:00Z"), u("2026-05-11T00:00:00Z")).instances;
  assert.deepEqual(f.map((i) => [i.start, i.end]), [[u("2026-05-10T12:00:00Z"), u("2026-05-10T13:00:00Z")]]);
  const d = instancesIn(c, "VEVENT", u("2028-06-01T23:00:00Z"), u("2028-06-02T01:00:00Z")).instances;
  assert.deepEqual(d.map((i) => [i.start, i.end]), [[u("2028-06-01T00:00:00Z"), u("2028-06-02T00:00:00Z")]]);
});

test("free-busy: one clipped period per busy instance; transparent and cancelled ones are free", () => {
  const c = parseCalendar(weekly)!;
  const b = busyPeriods(c, u("2026-03-30T08:30:00Z"), u("2026-04-13T00:00:00Z"))!;
  assert.deepEqual(b.map((p) => [new Date(p.start).toISOString(), new Date(p.end).toISOString()]), [
    ["2026-03-30T08:30:00.000Z", "2026-03-30T09:00:00.000Z"],
    ["2026-04-07T13:00:00.000Z", "2026-04-07T14:00:00.000Z"],
  ]);
  const t = parseCalendar(cal(
    "BEGIN:VEVENT", "UID:t", "DTSTAMP:20200101T000000Z", "DTSTART:20260101T100000Z", "DTEND:20260101T110000Z", "RRULE:FREQ=DAILY;COUNT=3", "TRANSP:TRANSPARENT", "END:VEVENT",
    "BEGIN:VEVENT", "UID:c", "DTSTAMP:20200101T000000Z", "DTSTART:20260101T120000Z", "DTEND:20260101T130000Z", "RRULE:FREQ=DAILY;COUNT=3", "END:VEVENT",
    "BEGIN:VEVENT", "UID:c", "DTSTAMP:20200101T000000Z", "RECURRENCE-ID:20260102T120000Z", "DTSTART:20260102T120000Z", "DTEND:20260102T130000Z", "STATUS:CANCELLED", "END:VEVENT"))!;
  assert.deepEqual(busyPeriods(t, u("2026-01-01T00:00:00Z"), u("2026-01-04T00:00:00Z"))!.map((p) => new Date(p.start).toISOString()),
    ["2026-01-01T12:00:00.000Z", "2026-01-03T12:00:00.000Z"]);
});

test("unreadable text is null, not a throw", () => {
  assert.equal(parseCalendar("BEGIN:VCALENDAR\r\nnonsense"), null);
  assert.equal(parseCalendar(""), null);
});
