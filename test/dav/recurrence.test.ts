// CalDAV over HTTP: a weekly event in Europe/Berlin (its own VTIMEZONE) with an EXDATE and a
// moved instance; calendar-query time ranges and free-busy decide per instance
// (RFC 4791 §9.9, §7.10; RFC 5545 §3.8.5, §3.8.4.4). The PUT bytes come back byte-identical.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startDav } from "./harness.ts";
import type { DavServer } from "./harness.ts";

let s: DavServer;
before(async () => {
  s = await startDav("127.0.32.1");
});
after(async () => {
  await s?.close();
});

const U = { user: "u@a.test" };
const CAL = "/dav/calendars/u@a.test/rec/";
// Mondays 10:00–11:00 Berlin from 2026-03-16 (CET, UTC+1); DST starts 2026-03-29 (CEST, UTC+2).
// 2026-03-23 is EXDATE'd; 2026-04-06 is moved to Tuesday 2026-04-07 15:00–16:00.
const ICS = [
  "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//rec//EN",
  "BEGIN:VTIMEZONE", "TZID:Europe/Berlin",
  "BEGIN:DAYLIGHT", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "TZNAME:CEST", "DTSTART:19700329T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT",
  "BEGIN:STANDARD", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "TZNAME:CET", "DTSTART:19701025T030000", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD",
  "END:VTIMEZONE",
  "BEGIN:VEVENT", "UID:weekly-berlin", "DTSTAMP:20260301T000000Z", "SUMMARY:Weekly Grüße",
  "DTSTART;TZID=Europe/Berlin:20260316T100000", "DTEND;TZID=Europe/Berlin:20260316T110000",
  "RRULE:FREQ=WEEKLY;BYDAY=MO", "EXDATE;TZID=Europe/Berlin:20260323T100000", "END:VEVENT",
  "BEGIN:VEVENT", "UID:weekly-berlin", "DTSTAMP:20260301T000000Z", "SUMMARY:Weekly (moved)",
  "RECURRENCE-ID;TZID=Europe/Berlin:20260406T100000",
  "DTSTART;TZID=Europe/Berlin:20260407T150000", "DTEND;TZID=Europe/Berlin:20260407T160000", "END:VEVENT",
  "END:VCALENDAR", "",
].join("\r\n");

const query = (start: string, end: string) =>
  s.req("REPORT", CAL, {
    ...U,
    headers: { depth: "1" },
    body: `<cal:calendar-query xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop><cal:filter><cal:comp-filter name="VCALENDAR"><cal:comp-filter name="VEVENT"><cal:time-range start="${start}" end="${end}"/></cal:comp-filter></cal:comp-filter></cal:filter></cal:calendar-query>`,
  });
const hrefsIn = (xml: string) => [...xml.matchAll(/<d:href>([^<]*)<\/d:href>/g)].map((m) => m[1]);

describe("recurrence and time zones over CalDAV", () => {
  it("PUT, then GET gives the same bytes", async () => {
    assert.equal((await s.req("MKCALENDAR", CAL, U)).status, 201);
    const put = await s.req("PUT", `${CAL}weekly.ics`, { ...U, headers: { "content-type": "text/calendar" }, body: ICS });
    assert.equal(put.status, 201, put.text);
    const get = await s.req("GET", `${CAL}weekly.ics`, U);
    assert.equal(get.status, 200);
    assert.ok(Buffer.from(get.text, "utf8").equals(Buffer.from(ICS, "utf8")), "byte-identical");
  });

  it("a later recurrence is found, in Berlin summer time", async () => {
    // 2026-05-18 10:00 CEST = 08:00Z; a range covering only 08:30–08:45Z of that day.
    assert.deepEqual(hrefsIn((await query("20260518T083000Z", "20260518T084500Z")).text), [`${CAL}weekly.ics`]);
    // 09:00Z–10:00Z that day is after the instance (it would be inside if TZID were read as UTC).
    assert.deepEqual(hrefsIn((await query("20260518T090000Z", "20260518T100000Z")).text), []);
  });

  it("the EXDATE'd date is not found", async () => {
    assert.deepEqual(hrefsIn((await query("20260323T000000Z", "20260324T000000Z")).text), []);
  });

  it("the moved instance is found at its new time, not at its old one", async () => {
    assert.deepEqual(hrefsIn((await query("20260407T130000Z", "20260407T140000Z")).text), [`${CAL}weekly.ics`]);
    assert.deepEqual(hrefsIn((await query("20260406T000000Z", "20260407T000000Z")).text), []);
  });

  it("free-busy over two weeks gives one UTC period per instance", async () => {
    const fb = await s.req("REPORT", CAL, {
      ...U,
      body: `<cal:free-busy-query xmlns:cal="urn:ietf:params:xml:ns:caldav"><cal:time-range start="20260323T000000Z" end="20260413T000000Z"/></cal:free-busy-query>`,
    });
    assert.equal(fb.status, 200);
    assert.match(String(fb.headers["content-type"]), /^text\/calendar/);
    const periods = [...fb.text.matchAll(/^FREEBUSY:(\S+)$/gm)].map((m) => m[1]);
    assert.deepEqual(periods, [
      // 03-23 EXDATE'd: nothing that week.
      "20260330T080000Z/20260330T090000Z", // CEST
      "20260407T130000Z/20260407T140000Z", // 04-06 moved to 04-07 15:00 CEST
    ]);
  });
});
