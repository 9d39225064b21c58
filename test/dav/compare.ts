// The scripted requests of the Radicale comparison (radicale.test.ts), and the reduction of a
// response to what is compared: the status, and for a multistatus each resource (by its last
// path segment) with the status of each property.
import type { Res } from "./harness.ts";
import { parseXml, children, child, DAV } from "../../src/dav/xml.ts";

export interface Paths {
  principal: string;
  book: string;
  cal: string;
}

export interface Step {
  name: string;
  method: string;
  path: (p: Paths) => string;
  headers?: Record<string, string>;
  body?: string;
}

const VCARD = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:cmp-1\r\nFN:Zoë Compare\r\nN:Compare;Zoë;;;\r\nEMAIL:zoe@example.org\r\nEND:VCARD\r\n";
const VEVENT = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:cmp-ev\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20270110T090000Z\r\nDTEND:20270110T100000Z\r\nSUMMARY:Compare\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
const NS = `xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cal="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/"`;
const pf = (props: string) => `<?xml version="1.0"?><d:propfind ${NS}><d:prop>${props}</d:prop></d:propfind>`;

export const STEPS: Step[] = [
  { name: "principal", method: "PROPFIND", path: (p) => p.principal, headers: { depth: "0" }, body: pf("<d:current-user-principal/><card:addressbook-home-set/><cal:calendar-home-set/><d:resourcetype/>") },
  {
    name: "mkcol-addressbook",
    method: "MKCOL",
    path: (p) => p.book,
    body: `<?xml version="1.0"?><d:mkcol ${NS}><d:set><d:prop><d:resourcetype><d:collection/><card:addressbook/></d:resourcetype><d:displayname>Cmp</d:displayname></d:prop></d:set></d:mkcol>`,
  },
  { name: "mkcalendar", method: "MKCALENDAR", path: (p) => p.cal },
  { name: "mkcalendar-again", method: "MKCALENDAR", path: (p) => p.cal },
  { name: "put-card", method: "PUT", path: (p) => `${p.book}cmp-1.vcf`, headers: { "content-type": "text/vcard; charset=utf-8", "if-none-match": "*" }, body: VCARD },
  { name: "put-card-exists", method: "PUT", path: (p) => `${p.book}cmp-1.vcf`, headers: { "content-type": "text/vcard; charset=utf-8", "if-none-match": "*" }, body: VCARD },
  { name: "put-card-wrong-if-match", method: "PUT", path: (p) => `${p.book}cmp-1.vcf`, headers: { "content-type": "text/vcard; charset=utf-8", "if-match": '"wrong"' }, body: VCARD },
  { name: "put-card-malformed", method: "PUT", path: (p) => `${p.book}bad.vcf`, headers: { "content-type": "text/vcard; charset=utf-8" }, body: "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\n" },
  { name: "get-card", method: "GET", path: (p) => `${p.book}cmp-1.vcf` },
  { name: "get-missing", method: "GET", path: (p) => `${p.book}missing.vcf` },
  { name: "propfind-book", method: "PROPFIND", path: (p) => p.book, headers: { depth: "1" }, body: pf("<d:resourcetype/><d:getetag/><d:displayname/><cs:getctag/><d:sync-token/><d:nonexistent-prop/>") },
  {
    name: "multiget",
    method: "REPORT",
    path: (p) => p.book,
    headers: { depth: "1" },
    body: `<?xml version="1.0"?><card:addressbook-multiget ${NS}><d:prop><d:getetag/><card:address-data/></d:prop><d:href>BOOK cmp-1.vcf</d:href></card:addressbook-multiget>`,
  },
  { name: "sync-initial", method: "REPORT", path: (p) => p.book, body: `<?xml version="1.0"?><d:sync-collection ${NS}><d:sync-token/><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>` },
  { name: "put-event", method: "PUT", path: (p) => `${p.cal}cmp-ev.ics`, headers: { "content-type": "text/calendar; charset=utf-8" }, body: VEVENT },
  {
    name: "calendar-query-in",
    method: "REPORT",
    path: (p) => p.cal,
    headers: { depth: "1" },
    body: `<?xml version="1.0"?><cal:calendar-query ${NS}><d:prop><d:getetag/></d:prop><cal:filter><cal:comp-filter name="VCALENDAR"><cal:comp-filter name="VEVENT"><cal:time-range start="20270101T000000Z" end="20270201T000000Z"/></cal:comp-filter></cal:comp-filter></cal:filter></cal:calendar-query>`,
  },
  {
    name: "calendar-query-out",
    method: "REPORT",
    path: (p) => p.cal,
    headers: { depth: "1" },
    body: `<?xml version="1.0"?><cal:calendar-query ${NS}><d:prop><d:getetag/></d:prop><cal:filter><cal:comp-filter name="VCALENDAR"><cal:comp-filter name="VEVENT"><cal:time-range start="20270301T000000Z" end="20270401T000000Z"/></cal:comp-filter></cal:comp-filter></cal:filter></cal:calendar-query>`,
  },
  { name: "proppatch-displayname", method: "PROPPATCH", path: (p) => p.cal, body: `<?xml version="1.0"?><d:propertyupdate ${NS}><d:set><d:prop><d:displayname>Renamed</d:displayname></d:prop></d:set></d:propertyupdate>` },
  { name: "delete-card", method: "DELETE", path: (p) => `${p.book}cmp-1.vcf` },
  { name: "delete-missing", method: "DELETE", path: (p) => `${p.book}cmp-1.vcf` },
];

/** What is compared: "status" and, for a 207, "<last segment> <prop>" → status. */
export function reduce(res: Res): Map<string, string> {
  const out = new Map<string, string>([["status", String(res.status)]]);
  if (res.status !== 207) return out;
  const root = parseXml(res.text.replace(/^<\?xml[^>]*\?>\s*/, ""));
  for (const r of children(root, DAV, "response")) {
    const href = child(r, DAV, "href")?.text.trim() ?? "";
    const seg = decodeURIComponent(href.replace(/\/$/, "").split("/").pop() ?? "");
    const direct = child(r, DAV, "status");
    if (direct) out.set(`${seg}`, direct.text.trim().split(" ")[1]);
    for (const ps of children(r, DAV, "propstat")) {
      const st = child(ps, DAV, "status")?.text.trim().split(" ")[1] ?? "?";
      for (const p of child(ps, DAV, "prop")?.children ?? []) out.set(`${seg} ${p.ns}${p.local}`, st);
    }
  }
  return out;
}
