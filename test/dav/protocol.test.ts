// CardDAV/CalDAV over real sockets: discovery as Thunderbird and iOS do it, authentication,
// ETags and preconditions, sync-collection, multiget, calendar-query with a time range, the
// company directory, and bad input (each a 4xx with a DAV:error body, nothing stored).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startDav } from "./harness.ts";
import type { DavServer } from "./harness.ts";

let s: DavServer;
before(async () => {
  s = await startDav();
});
after(async () => {
  await s?.close();
});

const U = { user: "u@a.test" };
const BOOK = "/dav/addressbooks/u@a.test/default/";
const CAL = "/dav/calendars/u@a.test/default/";
const card = (uid: string, fn: string) => `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:${uid}\r\nFN:${fn}\r\nN:${fn};;;;\r\nEMAIL:${uid}@example.org\r\nEND:VCARD\r\n`;
const event = (uid: string, start: string, end: string, extra = "") =>
  `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:${start}\r\nDTEND:${end}\r\nSUMMARY:${uid}\r\n${extra}END:VEVENT\r\nEND:VCALENDAR\r\n`;
const propfind = (props: string) => `<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cal="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/"><d:prop>${props}</d:prop></d:propfind>`;
const hrefsIn = (xml: string) => [...xml.matchAll(/<d:href>([^<]*)<\/d:href>/g)].map((m) => m[1]);
const isDavError = (text: string) => assert.match(text, /<d:error [^>]*>/);

describe("discovery", () => {
  it("/.well-known/carddav and caldav redirect to the context path (RFC 6764 §5)", async () => {
    for (const p of ["/.well-known/carddav", "/.well-known/caldav"]) {
      const r = await s.req("PROPFIND", p, { headers: { depth: "0" } });
      assert.equal(r.status, 301);
      assert.equal(r.headers.location, "/dav/");
    }
  });
  it("PROPFIND on the context path, then the principal, gives the homes (Thunderbird/iOS path)", async () => {
    const r1 = await s.req("PROPFIND", "/dav/", { ...U, headers: { depth: "0" }, body: propfind("<d:current-user-principal/><d:principal-URL/>") });
    assert.equal(r1.status, 207);
    assert.match(r1.text, /<d:current-user-principal><d:href>\/dav\/principals\/u@a.test\/<\/d:href>/);
    const r2 = await s.req("PROPFIND", "/dav/principals/u@a.test/", { ...U, headers: { depth: "0" }, body: propfind("<card:addressbook-home-set/><cal:calendar-home-set/><cal:calendar-user-address-set/><d:displayname/>") });
    assert.equal(r2.status, 207);
    assert.match(r2.text, /<card:addressbook-home-set><d:href>\/dav\/addressbooks\/u@a.test\/<\/d:href>/);
    assert.match(r2.text, /<cal:calendar-home-set><d:href>\/dav\/calendars\/u@a.test\/<\/d:href>/);
    assert.match(r2.text, /mailto:u@a.test/);
    const r3 = await s.req("PROPFIND", "/dav/calendars/u@a.test/", { ...U, headers: { depth: "1" }, body: propfind("<d:resourcetype/><cs:getctag/><cal:supported-calendar-component-set/>") });
    assert.equal(r3.status, 207);
    assert.ok(hrefsIn(r3.text).includes(CAL), r3.text);
    assert.match(r3.text, /<cal:comp name="VEVENT"\/>/);
  });
  it("without credentials: 401 with WWW-Authenticate; a wrong password too", async () => {
    const r = await s.req("PROPFIND", "/dav/", { headers: { depth: "0" } });
    assert.equal(r.status, 401);
    assert.match(String(r.headers["www-authenticate"]), /^Basic realm=/);
    isDavError(r.text);
    const w = await s.req("PROPFIND", "/dav/", { user: "u@a.test", password: "wrong", headers: { depth: "0" } });
    assert.equal(w.status, 401);
  });
  it("Depth: infinity is refused with propfind-finite-depth (RFC 4918 §9.1)", async () => {
    const r = await s.req("PROPFIND", "/dav/addressbooks/u@a.test/", { ...U, body: propfind("<d:resourcetype/>") });
    assert.equal(r.status, 403);
    assert.match(r.text, /propfind-finite-depth/);
  });
});

describe("resources", () => {
  it("PUT stores the exact bytes, GET returns them with the same strong ETag; If-Match guards changes", async () => {
    const body = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:zoe\r\nFN:Zoë Ñúñez 山田\r\nEND:VCARD\r\n";
    const put = await s.req("PUT", `${BOOK}zoe.vcf`, { ...U, headers: { "content-type": "text/vcard", "if-none-match": "*" }, body });
    assert.equal(put.status, 201);
    const etag = String(put.headers.etag);
    assert.match(etag, /^"[^"]+"$/);
    const get = await s.req("GET", `${BOOK}zoe.vcf`, U);
    assert.equal(get.status, 200);
    assert.equal(get.text, body);
    assert.equal(get.headers.etag, etag);
    const again = await s.req("PUT", `${BOOK}zoe.vcf`, { ...U, headers: { "content-type": "text/vcard", "if-none-match": "*" }, body });
    assert.equal(again.status, 412);
    const wrong = await s.req("PUT", `${BOOK}zoe.vcf`, { ...U, headers: { "content-type": "text/vcard", "if-match": '"nope"' }, body: body.replace("Zoë", "Zoe") });
    assert.equal(wrong.status, 412);
    isDavError(wrong.text);
    assert.equal((await s.req("GET", `${BOOK}zoe.vcf`, U)).text, body, "nothing stored after a wrong If-Match");
    const right = await s.req("PUT", `${BOOK}zoe.vcf`, { ...U, headers: { "content-type": "text/vcard", "if-match": etag }, body: body.replace("Zoë", "Zoe") });
    assert.equal(right.status, 204);
    assert.notEqual(right.headers.etag, etag);
    const del = await s.req("DELETE", `${BOOK}zoe.vcf`, { ...U, headers: { "if-match": etag } });
    assert.equal(del.status, 412);
    assert.equal((await s.req("DELETE", `${BOOK}zoe.vcf`, { ...U, headers: { "if-match": String(right.headers.etag) } })).status, 204);
    assert.equal((await s.req("GET", `${BOOK}zoe.vcf`, U)).status, 404);
  });

  it("sync-collection reports changes and deletions since a token (RFC 6578)", async () => {
    const sync = (token: string) => `<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>${token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`;
    const first = await s.req("REPORT", BOOK, { ...U, body: sync("") });
    assert.equal(first.status, 207);
    const token = /<d:sync-token>([^<]+)<\/d:sync-token>/.exec(first.text)![1];
    await s.req("PUT", `${BOOK}s1.vcf`, { ...U, headers: { "content-type": "text/vcard" }, body: card("s1", "Sync One") });
    await s.req("PUT", `${BOOK}s2.vcf`, { ...U, headers: { "content-type": "text/vcard" }, body: card("s2", "Sync Two") });
    await s.req("DELETE", `${BOOK}s2.vcf`, U);
    const next = await s.req("REPORT", BOOK, { ...U, body: sync(token) });
    assert.equal(next.status, 207);
    assert.deepEqual(hrefsIn(next.text).sort(), [`${BOOK}s1.vcf`, `${BOOK}s2.vcf`]);
    assert.match(next.text, /s2\.vcf<\/d:href><d:status>HTTP\/1.1 404 Not Found/);
    const token2 = /<d:sync-token>([^<]+)<\/d:sync-token>/.exec(next.text)![1];
    assert.notEqual(token2, token);
    const none = await s.req("REPORT", BOOK, { ...U, body: sync(token2) });
    assert.deepEqual(hrefsIn(none.text), []);
    const bad = await s.req("REPORT", BOOK, { ...U, body: sync("http://elsewhere/1") });
    assert.equal(bad.status, 403);
    assert.match(bad.text, /valid-sync-token/);
  });

  it("addressbook-multiget and addressbook-query", async () => {
    await s.req("PUT", `${BOOK}m1.vcf`, { ...U, headers: { "content-type": "text/vcard" }, body: card("m1", "Märta Multiget") });
    const mg = await s.req("REPORT", BOOK, {
      ...U,
      headers: { depth: "1" },
      body: `<card:addressbook-multiget xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><card:address-data/></d:prop><d:href>${BOOK}m1.vcf</d:href><d:href>${BOOK}missing.vcf</d:href></card:addressbook-multiget>`,
    });
    assert.equal(mg.status, 207);
    assert.match(mg.text, /FN:Märta Multiget/);
    assert.match(mg.text, /missing\.vcf<\/d:href><d:status>HTTP\/1.1 404/);
    const q = await s.req("REPORT", BOOK, {
      ...U,
      headers: { depth: "1" },
      body: `<card:addressbook-query xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/></d:prop><card:filter><card:prop-filter name="FN"><card:text-match match-type="contains">märta</card:text-match></card:prop-filter></card:filter></card:addressbook-query>`,
    });
    assert.deepEqual(hrefsIn(q.text), [`${BOOK}m1.vcf`]);
  });

  it("calendar-query with a time-range finds the events in the range", async () => {
    await s.req("PUT", `${CAL}jan.ics`, { ...U, headers: { "content-type": "text/calendar" }, body: event("jan", "20270110T090000Z", "20270110T100000Z") });
    await s.req("PUT", `${CAL}mar.ics`, { ...U, headers: { "content-type": "text/calendar" }, body: event("mar", "20270310T090000Z", "20270310T100000Z") });
    const q = (start: string, end: string) =>
      s.req("REPORT", CAL, {
        ...U,
        headers: { depth: "1" },
        body: `<cal:calendar-query xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop><cal:filter><cal:comp-filter name="VCALENDAR"><cal:comp-filter name="VEVENT"><cal:time-range start="${start}" end="${end}"/></cal:comp-filter></cal:comp-filter></cal:filter></cal:calendar-query>`,
      });
    assert.deepEqual(hrefsIn((await q("20270101T000000Z", "20270201T000000Z")).text), [`${CAL}jan.ics`]);
    assert.deepEqual(hrefsIn((await q("20270101T000000Z", "20270401T000000Z")).text).sort(), [`${CAL}jan.ics`, `${CAL}mar.ics`]);
    assert.deepEqual(hrefsIn((await q("20270110T100000Z", "20270111T000000Z")).text), [], "an event ending at the range start is outside (RFC 4791 §9.9)");
    const fb = await s.req("REPORT", CAL, { ...U, body: `<cal:free-busy-query xmlns:cal="urn:ietf:params:xml:ns:caldav"><cal:time-range start="20270101T000000Z" end="20270201T000000Z"/></cal:free-busy-query>` });
    assert.equal(fb.status, 200);
    assert.match(fb.text, /FREEBUSY:20270110T090000Z\/20270110T100000Z/);
  });

  it("MKCALENDAR and extended MKCOL create collections; PROPPATCH renames", async () => {
    assert.equal((await s.req("MKCALENDAR", "/dav/calendars/u@a.test/work/", U)).status, 201);
    assert.equal((await s.req("MKCALENDAR", "/dav/calendars/u@a.test/work/", U)).status, 405);
    const mk = await s.req("MKCOL", "/dav/addressbooks/u@a.test/clients/", {
      ...U,
      body: `<d:mkcol xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><card:addressbook/></d:resourcetype><d:displayname>Clients</d:displayname></d:prop></d:set></d:mkcol>`,
    });
    assert.equal(mk.status, 201);
    const pp = await s.req("PROPPATCH", "/dav/calendars/u@a.test/work/", { ...U, body: `<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>Work</d:displayname></d:prop></d:set></d:propertyupdate>` });
    assert.equal(pp.status, 207);
    assert.match(pp.text, /200 OK/);
    const pf = await s.req("PROPFIND", "/dav/calendars/u@a.test/work/", { ...U, headers: { depth: "0" }, body: propfind("<d:displayname/>") });
    assert.match(pf.text, /<d:displayname>Work<\/d:displayname>/);
  });

  it("the company directory lists the domain's users, read-only", async () => {
    const r = await s.req("PROPFIND", "/dav/addressbooks/u@a.test/directory/", { ...U, headers: { depth: "1" }, body: propfind("<d:getetag/><card:address-data/>") });
    assert.equal(r.status, 207);
    assert.match(r.text, /EMAIL;TYPE=work:v@a.test/);
    assert.doesNotMatch(r.text, /w@b.test/, "only the caller's domain");
    const put = await s.req("PUT", "/dav/addressbooks/u@a.test/directory/x.vcf", { ...U, headers: { "content-type": "text/vcard" }, body: card("x", "X") });
    assert.equal(put.status, 403);
    isDavError(put.text);
  });
});

describe("bad input: a 4xx with a DAV error body, nothing stored", () => {
  const absent = async (p: string) => assert.equal((await s.req("GET", p, U)).status, 404);
  it("a malformed vCard and a malformed iCalendar", async () => {
    const r1 = await s.req("PUT", `${BOOK}bad.vcf`, { ...U, headers: { "content-type": "text/vcard" }, body: "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:x\r\n" });
    assert.equal(r1.status, 400);
    assert.match(r1.text, /valid-address-data/);
    await absent(`${BOOK}bad.vcf`);
    const r2 = await s.req("PUT", `${CAL}bad.ics`, { ...U, headers: { "content-type": "text/calendar" }, body: "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nDTSTART:20270101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n" });
    assert.equal(r2.status, 400);
    assert.match(r2.text, /valid-calendar-data/);
    await absent(`${CAL}bad.ics`);
  });
  it("a PUT over 10 MiB is 413", async () => {
    const big = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:big\r\nNOTE:" + "x".repeat(10 * 1024 * 1024) + "\r\nEND:VCARD\r\n";
    const r = await s.req("PUT", `${BOOK}big.vcf`, { ...U, headers: { "content-type": "text/vcard" }, body: big });
    assert.equal(r.status, 413);
    isDavError(r.text);
    await absent(`${BOOK}big.vcf`);
  });
  it("another user's collection is 403 need-privileges, and nothing is written there", async () => {
    const r = await s.req("PUT", "/dav/addressbooks/v@a.test/default/x.vcf", { ...U, headers: { "content-type": "text/vcard" }, body: card("x", "X") });
    assert.equal(r.status, 403);
    assert.match(r.text, /need-privileges/);
    const pf = await s.req("PROPFIND", "/dav/addressbooks/v@a.test/default/", { ...U, headers: { depth: "1" }, body: propfind("<d:getetag/>") });
    assert.equal(pf.status, 403);
    const own = await s.req("PROPFIND", "/dav/addressbooks/v@a.test/default/", { user: "v@a.test", headers: { depth: "1" }, body: propfind("<d:getetag/>") });
    assert.deepEqual(hrefsIn(own.text), ["/dav/addressbooks/v@a.test/default/"]);
  });
  it("XML with a DOCTYPE (XXE) or not well-formed is 400", async () => {
    const xxe = `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><d:propfind xmlns:d="DAV:"><d:prop><d:displayname>&e;</d:displayname></d:prop></d:propfind>`;
    const r = await s.req("PROPFIND", BOOK, { ...U, headers: { depth: "0" }, body: xxe });
    assert.equal(r.status, 400);
    isDavError(r.text);
    const r2 = await s.req("PROPFIND", BOOK, { ...U, headers: { depth: "0" }, body: "<d:propfind xmlns:d='DAV:'><d:prop>" });
    assert.equal(r2.status, 400);
  });
});
