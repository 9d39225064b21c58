// In and out (issue 11 §3): Google Contacts CSV, Outlook CSV and a vCard file with a photo,
// groups and non-ASCII names import and export losslessly (vCard fields compared); an .ics with
// a recurring event, an exception and a time zone round-trips byte for byte per object, and a
// time-range query finds it. The CLI runs once each way; --from copies from a CardDAV server.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { startDav, PASSWORD } from "./harness.ts";
import type { DavServer } from "./harness.ts";
import { runFreeholdCli } from "../support/freehold.ts";
import { DavTransfer, csvToContacts, splitCalendar, splitObjects } from "../../src/dav/transfer.ts";
import { DavStore } from "../../src/dav/store.ts";
import { parseComponents } from "../../src/dav/content.ts";

let s: DavServer;
let tmp: string;
let t: DavTransfer;
before(async () => {
  s = await startDav();
  tmp = await mkdtemp(path.join(os.tmpdir(), "freehold-davx-"));
  t = new DavTransfer(new DavStore(s.davDb));
});
after(async () => {
  await s?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** A vCard's fields as a sorted list of "NAME;PARAMS:VALUE" (folding undone). */
const fields = (card: string) =>
  parseComponents(card)
    .props.map((p) => `${p.name};${Object.entries(p.params).map(([k, v]) => `${k}=${v}`).sort().join(";")}:${p.value}`)
    .sort();

const GOOGLE = `Name,Given Name,Additional Name,Family Name,Nickname,Name Prefix,Name Suffix,Birthday,Notes,Group Membership,E-mail 1 - Type,E-mail 1 - Value,E-mail 2 - Type,E-mail 2 - Value,Phone 1 - Type,Phone 1 - Value,Organization 1 - Name,Organization 1 - Title
Zoë Ñúñez,Zoë,,Ñúñez,Zo,,,1990-04-01,"Met at the fair, 2024",* myContacts ::: Clients,* Work,zoe@example.org,Home,zoe.home@example.org,Mobile,+34 600 000 000,Acme; S.L.,Boss
山田 太郎,太郎,,山田,,,,,,* myContacts,* Other,taro@example.jp,,,,,,
`;
const OUTLOOK = `First Name,Middle Name,Last Name,Title,Suffix,Company,Job Title,E-mail Address,E-mail 2 Address,Mobile Phone,Business Phone,Categories,Notes
Åsa,,Öberg,Dr.,,Fjord AB,CTO,asa@fjord.se,,+46 70 000,+46 8 000,Partners;Nordics,"Line one
Line two"
`;
const PHOTO = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
const VCF = [
  "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:p1\r\nFN:Łukasz Żółć\r\nN:Żółć;Łukasz;;;\r\nCATEGORIES:Family,Friends\r\nPHOTO;ENCODING=b;TYPE=PNG:" + PHOTO + "\r\nEMAIL;TYPE=INTERNET:lukasz@example.pl\r\nEND:VCARD\r\n",
  "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:g1\r\nKIND:group\r\nFN:Team Ünïcode\r\nMEMBER:urn:uuid:p1\r\nEND:VCARD\r\n",
].join("");

const ICS = `BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//EN\r
BEGIN:VTIMEZONE\r
TZID:Europe/Madrid\r
BEGIN:STANDARD\r
DTSTART:19701025T030000\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
END:STANDARD\r
BEGIN:DAYLIGHT\r
DTSTART:19700329T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
END:DAYLIGHT\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:weekly\r
DTSTAMP:20260101T000000Z\r
DTSTART;TZID=Europe/Madrid:20270104T090000\r
DTEND;TZID=Europe/Madrid:20270104T100000\r
RRULE:FREQ=WEEKLY;COUNT=10\r
SUMMARY:Stand-up ☕\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:weekly\r
DTSTAMP:20260101T000000Z\r
RECURRENCE-ID;TZID=Europe/Madrid:20270111T090000\r
DTSTART;TZID=Europe/Madrid:20270111T110000\r
DTEND;TZID=Europe/Madrid:20270111T120000\r
SUMMARY:Stand-up (moved)\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:once\r
DTSTAMP:20260101T000000Z\r
DTSTART:20270601T120000Z\r
DTEND:20270601T130000Z\r
SUMMARY:Lunch\r
END:VEVENT\r
END:VCALENDAR\r
`;

describe("contacts in and out", () => {
  it("Google CSV maps names, emails, phones, org, birthday, notes and groups", () => {
    const [zoe, taro] = csvToContacts(GOOGLE);
    assert.equal(zoe.given, "Zoë");
    assert.equal(zoe.family, "Ñúñez");
    assert.deepEqual(zoe.emails, [{ type: "work", value: "zoe@example.org" }, { type: "home", value: "zoe.home@example.org" }]);
    assert.deepEqual(zoe.phones, [{ type: "cell", value: "+34 600 000 000" }]);
    assert.deepEqual(zoe.groups, ["Clients"]);
    assert.equal(zoe.note, "Met at the fair, 2024");
    assert.equal(taro.fn, "山田 太郎");
  });
  it("CSV and vCard imports export losslessly (fields compared)", async () => {
    const owner = "u@a.test";
    const objs = [...DavTransfer.objectsOf("addressbook", "g.csv", GOOGLE), ...DavTransfer.objectsOf("addressbook", "o.csv", OUTLOOK), ...DavTransfer.objectsOf("addressbook", "c.vcf", VCF)];
    const r = await t.importObjects(owner, "addressbook", objs);
    assert.deepEqual(r.refused, []);
    assert.equal(r.imported, 5);
    const out = splitObjects(await t.exportAll(owner, "addressbook"), "VCARD");
    assert.equal(out.length, 5);
    const byFn = (cards: string[], fn: string) => cards.find((c) => fields(c).some((f) => f === `FN;:${fn}`))!;
    for (const fn of ["Zoë Ñúñez", "山田 太郎", "Dr. Åsa Öberg", "Łukasz Żółć", "Team Ünïcode"]) {
      assert.ok(byFn(out, fn), `${fn} exported`);
      assert.deepEqual(fields(byFn(out, fn)), fields(byFn(objs, fn)), fn);
    }
    const asa = fields(byFn(out, "Dr. Åsa Öberg"));
    assert.ok(asa.includes("CATEGORIES;:Partners,Nordics"), asa.join("\n"));
    assert.ok(asa.includes("NOTE;:Line one\\nLine two"));
    assert.ok(asa.includes("TEL;TYPE=cell:+46 70 000"));
    // The vCard file's objects come back byte for byte.
    for (const orig of splitObjects(VCF, "VCARD")) assert.ok(out.includes(orig));
    // Importing again replaces (same UID), it does not duplicate.
    await t.importObjects(owner, "addressbook", objs);
    assert.equal(splitObjects(await t.exportAll(owner, "addressbook"), "VCARD").length, 5);
  });
});

describe("calendars in and out", () => {
  it("an .ics with a recurring event, an exception and a time zone round-trips; time-range finds it", async () => {
    const owner = "v@a.test";
    const objs = splitCalendar(ICS);
    assert.equal(objs.length, 2, "one object per UID, the exception beside its master");
    assert.match(objs[0], /RECURRENCE-ID/);
    assert.match(objs[0], /BEGIN:VTIMEZONE/);
    const r = await t.importObjects(owner, "calendar", objs);
    assert.deepEqual(r.refused, []);
    const out = splitCalendar(await t.exportAll(owner, "calendar"));
    assert.deepEqual(out.sort(), objs.slice().sort());
    const q = await s.req("REPORT", "/dav/calendars/v@a.test/default/", {
      user: "v@a.test",
      headers: { depth: "1" },
      body: `<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="20270201T000000Z" end="20270202T000000Z"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`,
    });
    assert.equal(q.status, 207);
    assert.match(q.text, /UID:weekly/, "the weekly series is found in February");
    assert.doesNotMatch(q.text, /UID:once/, "the June lunch is not");
  });
});

describe("the CLI", () => {
  it("contacts import FILE.csv, contacts export --out, and calendar import --from a CalDAV server", async () => {
    const csv = path.join(tmp, "google.csv");
    await writeFile(csv, GOOGLE);
    const imp = await runFreeholdCli(["--data", s.data.dir, "contacts", "import", "w@b.test", csv]);
    assert.equal(imp.code, 0, imp.stderr + imp.stdout);
    assert.match(imp.stdout, /Imported 2 of 2/);
    const out = path.join(tmp, "out.vcf");
    const exp = await runFreeholdCli(["--data", s.data.dir, "contacts", "export", "w@b.test", "--out", out]);
    assert.equal(exp.code, 0, exp.stderr);
    assert.equal(splitObjects(await readFile(out, "utf8"), "VCARD").length, 2);
    // Copy v@a.test's calendar (imported above) from this server over CalDAV into w@b.test's.
    const from = await runFreeholdCli(["--data", s.data.dir, "calendar", "import", "w@b.test", "--from", `${s.base}/dav/calendars/v@a.test/default/`, "--username", "v@a.test"], `${PASSWORD}\n`);
    assert.equal(from.code, 0, from.stderr + from.stdout);
    assert.match(from.stdout, /Imported 2 of 2/);
    // The account export (freehold export) carries the address books and calendars too.
    const acct = path.join(tmp, "acct");
    const ex = await runFreeholdCli(["--data", s.data.dir, "export", "w@b.test", "--format", "mbox", "--out", acct]);
    assert.equal(ex.code, 0, ex.stderr + ex.stdout);
    assert.equal(splitObjects(await readFile(path.join(acct, "contacts.vcf"), "utf8"), "VCARD").length, 2);
    assert.equal(splitCalendar(await readFile(path.join(acct, "calendar.ics"), "utf8")).length, 2);
    const bad = await runFreeholdCli(["--data", s.data.dir, "contacts", "import", "nobody@b.test", csv]);
    assert.notEqual(bad.code, 0);
  });
});
