import { test } from "node:test";
import assert from "node:assert/strict";
import { writtenDay } from "./date-header.ts";

const day = (y: number, m: number, d: number): number => Date.UTC(y, m - 1, d) / 86_400_000;

test("Date: header day is the date as written, in its own zone (RFC 3501 §6.4.4)", () => {
  assert.equal(writtenDay("Sun, 25 Mar 2007 00:00:00 +0200"), day(2007, 3, 25), "UTC would say 24 March");
  assert.equal(writtenDay("Sat, 24 Mar 2007 23:30:00 -0500"), day(2007, 3, 24), "UTC would say 25 March");
  assert.equal(writtenDay("25 Mar 2007 10:00 GMT"), day(2007, 3, 25), "no weekday, no seconds");
  assert.equal(writtenDay("Sun (comment) , 25 (x) Mar 2007 00:00:00 +0200 (EET)"), day(2007, 3, 25), "comments");
  assert.equal(writtenDay("Fri, 3 Jan 97 09:55:06 GMT"), day(1997, 1, 3), "RFC 5322 §4.3: two-digit year ≥ 50");
  assert.equal(writtenDay("3 Jan 07 09:55:06 GMT"), day(2007, 1, 3), "two-digit year < 50");
  assert.equal(writtenDay("3 Jan 107 09:55:06 GMT"), day(2007, 1, 3), "three-digit year");
  assert.equal(writtenDay("3 January 2007"), day(2007, 1, 3), "a spelled-out month is read by its first three letters");
  assert.equal(writtenDay("31 Feb 2007 10:00:00 +0000"), null, "no such day");
  assert.equal(writtenDay("yesterday"), null);
  assert.equal(writtenDay(""), null);
  assert.equal(writtenDay("25 Foo 2007"), null);
});

test("property: writtenDay never throws; a day it returns is a whole day that round-trips", async () => {
  const fc = (await import("fast-check")).default;
  const unit = fc.constantFrom(..."0123456789 ,:+-()JanFebMarSunOctGMTxz\t".split(""));
  fc.assert(
    fc.property(fc.string({ unit, maxLength: 40 }), (s) => {
      const d = writtenDay(s);
      if (d !== null) assert.ok(Number.isInteger(d), s);
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.date({ min: new Date(Date.UTC(1950, 0, 1)), max: new Date(Date.UTC(2049, 11, 31)), noInvalidDate: true }), fc.integer({ min: -1200, max: 1400 }), (t, zone) => {
      const mon = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][t.getUTCMonth()];
      const z = `${zone < 0 ? "-" : "+"}${String(Math.abs(zone)).padStart(4, "0")}`;
      const header = `${t.getUTCDate()} ${mon} ${t.getUTCFullYear()} 23:59:59 ${z}`;
      assert.equal(writtenDay(header), Math.floor(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate()) / 86_400_000), header);
    }),
    { numRuns: 500 },
  );
});
