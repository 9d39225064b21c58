// The request handler fuzzed: any method, path, headers and body give a response (a 4xx for
// bad input), never an exception, and a response status in the HTTP range.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { handleDav } from "./handler.ts";
import { DavStore, openDavDb } from "./store.ts";

const dir = mkdtempSync(path.join(os.tmpdir(), "freehold-davh-"));
const db = openDavDb(dir);
after(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});
const ctx = { store: new DavStore(db), domainUsers: async () => [{ address: "u@a.test", displayName: "U" }] };
const user = { address: "u@a.test", displayName: "U" };

test("fuzz: every request gets a response", async () => {
  const method = fc.constantFrom("PROPFIND", "PROPPATCH", "MKCOL", "MKCALENDAR", "GET", "HEAD", "PUT", "DELETE", "REPORT", "OPTIONS", "BREW");
  const seg = fc.constantFrom("dav", "principals", "addressbooks", "calendars", "u@a.test", "v@a.test", "default", "directory", "x.vcf", "..", "", "%", "new");
  const body = fc.constantFrom(
    "",
    "<d:propfind xmlns:d='DAV:'><d:allprop/></d:propfind>",
    "<d:sync-collection xmlns:d='DAV:'><d:sync-token>garbage</d:sync-token></d:sync-collection>",
    "<c:calendar-query xmlns:c='urn:ietf:params:xml:ns:caldav'><c:filter><c:comp-filter name='VCALENDAR'><c:comp-filter name='VEVENT'><c:time-range start='bad'/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>",
    "<c:free-busy-query xmlns:c='urn:ietf:params:xml:ns:caldav'/>",
    "<d:propertyupdate xmlns:d='DAV:'><d:set><d:prop><d:getetag>x</d:getetag></d:prop></d:set></d:propertyupdate>",
    "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:x\r\nEND:VCARD\r\n",
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTART:20270101\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    "<not xml",
  );
  const depth = fc.constantFrom(undefined, "0", "1", "infinity", "x");
  await fc.assert(
    fc.asyncProperty(method, fc.array(seg, { maxLength: 5 }), body, depth, fc.constantFrom(undefined, "*", '"x"'), async (m, segs, b, d, im) => {
      const res = await handleDav(ctx, user, { method: m, path: "/" + segs.join("/"), headers: { depth: d, "if-match": im }, body: Buffer.from(b) });
      assert.ok(res.status >= 200 && res.status < 500, `${m} /${segs.join("/")}: ${res.status}`);
    }),
    { numRuns: 600 },
  );
});
