// /api/v1/account/contacts… and /api/v1/account/calendar…: a signed-in user imports, downloads,
// and switches collected addresses off, through the same service layer as the CLI.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startDav, PASSWORD } from "./harness.ts";
import type { DavServer } from "./harness.ts";

let s: DavServer;
before(async () => {
  s = await startDav();
});
after(async () => {
  await s?.close();
});

test("import, download and the collect switch over the API", async () => {
  const login = await s.req("POST", "/api/v1/session", { body: JSON.stringify({ address: "u@a.test", password: PASSWORD }), headers: { "content-type": "application/json" } });
  assert.equal(login.status, 200, login.text);
  const cookie = [login.headers["set-cookie"] ?? []].flat()[0].split(";")[0];
  const csrf = JSON.parse(login.text).csrfToken as string;
  const auth = { cookie, "x-csrf-token": csrf, "content-type": "application/json" };
  const csv = "First Name,Last Name,E-mail Address\nÅsa,Öberg,asa@fjord.se\n";
  const imp = await s.req("POST", "/api/v1/account/contacts/import", { headers: auth, body: JSON.stringify({ fileName: "outlook.csv", data: csv }) });
  assert.equal(imp.status, 200, imp.text);
  assert.deepEqual(JSON.parse(imp.text), { imported: 1, refused: [] });
  const empty = await s.req("POST", "/api/v1/account/calendar/import", { headers: auth, body: JSON.stringify({ fileName: "x.ics", data: "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n" }) });
  assert.equal(empty.status, 400);
  const bad = await s.req("POST", "/api/v1/account/calendar/import", {
    headers: auth,
    body: JSON.stringify({ fileName: "x.ics", data: "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nSUMMARY:no uid\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n" }),
  });
  assert.equal(bad.status, 200);
  assert.equal(JSON.parse(bad.text).imported, 0);
  assert.equal(JSON.parse(bad.text).refused.length, 1);
  const dl = await s.req("GET", "/api/v1/account/contacts", { headers: { cookie } });
  assert.equal(dl.status, 200);
  assert.match(String(dl.headers["content-type"]), /^text\/vcard/);
  assert.match(dl.text, /FN:Åsa Öberg/);
  assert.match(dl.text, /EMAIL;TYPE=work:asa@fjord.se/);
  const off = await s.req("PUT", "/api/v1/account/contacts/collect", { headers: auth, body: JSON.stringify({ enabled: false }) });
  assert.deepEqual(JSON.parse(off.text), { enabled: false });
  assert.deepEqual(JSON.parse((await s.req("GET", "/api/v1/account/contacts/collect", { headers: { cookie } })).text), { enabled: false });
  assert.equal((await s.req("GET", "/api/v1/account/calendar")).status, 401);
});
