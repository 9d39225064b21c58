// vCard/iCalendar checks and the time-range overlap (RFC 4791 §9.9); fuzzed: any bytes are
// accepted or refused with ContentError, never another exception.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ContentError, checkIcal, checkVcard, overlaps, parseComponents } from "./content.ts";

const ev = (extra: string) => Buffer.from(`BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:u\r\n${extra}END:VEVENT\r\nEND:VCALENDAR\r\n`);

test("folded lines, groups and parameters", () => {
  const c = parseComponents("BEGIN:VCARD\r\nVERSION:4.0\r\nitem1.EMAIL;TYPE=\"work,pref\":a@b\r\nFN:Long\r\n  name\r\nEND:VCARD\r\n");
  assert.equal(c.props.find((p) => p.name === "FN")!.value, "Long name");
  assert.equal(c.props.find((p) => p.name === "EMAIL")!.params.TYPE, "work,pref");
});

test("refusals name the rule", () => {
  assert.throws(() => checkVcard(Buffer.from("BEGIN:VCARD\r\nVERSION:2.1\r\nFN:x\r\nEND:VCARD\r\n")), /VERSION/);
  assert.throws(() => checkVcard(Buffer.from("BEGIN:VCARD\r\nVERSION:4.0\r\nEND:VCARD\r\n")), /FN/);
  assert.throws(() => checkIcal(ev("DTSTART:20270101T000000Z\r\n").subarray(0, 60)), ContentError);
  assert.throws(() => checkIcal(Buffer.from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20270101\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:b\r\nDTSTART:20270101\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")), /more than one UID/);
  assert.equal(checkIcal(ev("DTSTART:20270101T000000Z\r\n")).uid, "u");
});

test("time-range overlap (RFC 4791 §9.9)", () => {
  const c = (extra: string) => parseComponents(ev(extra).toString()).children[0];
  const T = (s: string) => Date.parse(s);
  const timed = c("DTSTART:20270110T090000Z\r\nDTEND:20270110T100000Z\r\n");
  assert.equal(overlaps(timed, T("2027-01-10T09:30:00Z"), T("2027-01-10T09:45:00Z")), true);
  assert.equal(overlaps(timed, T("2027-01-10T10:00:00Z"), T("2027-01-11T00:00:00Z")), false);
  assert.equal(overlaps(timed, T("2027-01-09T00:00:00Z"), T("2027-01-10T09:00:00Z")), false);
  const allDay = c("DTSTART;VALUE=DATE:20270110\r\n");
  assert.equal(overlaps(allDay, T("2027-01-10T23:00:00Z"), T("2027-01-11T01:00:00Z")), true);
  const dur = c("DTSTART:20270110T090000Z\r\nDURATION:PT2H\r\n");
  assert.equal(overlaps(dur, T("2027-01-10T10:30:00Z"), T("2027-01-10T12:00:00Z")), true);
});

test("fuzz: any bytes are accepted or refused with ContentError", () => {
  const line = fc.constantFrom("BEGIN:VCARD", "END:VCARD", "BEGIN:VCALENDAR", "END:VCALENDAR", "BEGIN:VEVENT", "END:VEVENT", "VERSION:4.0", "VERSION:2.0", "PRODID:x", "FN:ä", "UID:1", "DTSTART:2027", "DTSTART:20270101T000000Z", " folded", "X;A=\"b\":c", ":", "", "\u0000", "\ufffd", "RRULE:FREQ=DAILY");
  fc.assert(
    fc.property(fc.array(line, { maxLength: 30 }), fc.constantFrom("\r\n", "\n"), (lines, nl) => {
      const b = Buffer.from(lines.join(nl));
      for (const check of [checkVcard, checkIcal]) {
        try {
          check(b);
        } catch (e) {
          if (!(e instanceof ContentError)) throw e;
        }
      }
    }),
    { numRuns: 2000 },
  );
});
