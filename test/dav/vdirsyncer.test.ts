// vdirsyncer (Debian) against Freehold, both ways: CardDAV and CalDAV collections paired with
// folders of .vcf/.ics files. Create, change and delete on each side; a third run changes
// nothing; a conflicting change on both sides is reported (exit status, message), not lost.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile, unlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { startDav } from "./harness.ts";
import type { DavServer } from "./harness.ts";

let s: DavServer;
let dir: string;
const U = { user: "u@a.test" };
const BOOK = "/dav/addressbooks/u@a.test/default/";

function vdir(...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile("vdirsyncer", ["-c", path.join(dir, "config"), ...args], { timeout: 120_000, env: { ...process.env, LC_ALL: "C.UTF-8" } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

before(async () => {
  s = await startDav();
  dir = await mkdtemp(path.join(os.tmpdir(), "freehold-vdir-"));
  const conf = `[general]
status_path = "${dir}/status/"

[pair contacts]
a = "contacts_remote"
b = "contacts_local"
collections = ["default"]

[storage contacts_remote]
type = "carddav"
url = "${s.base}/"
username = "u@a.test"
password = "a long test password"

[storage contacts_local]
type = "filesystem"
path = "${dir}/contacts/"
fileext = ".vcf"

[pair calendar]
a = "calendar_remote"
b = "calendar_local"
collections = ["default"]

[storage calendar_remote]
type = "caldav"
url = "${s.base}/"
username = "u@a.test"
password = "a long test password"

[storage calendar_local]
type = "filesystem"
path = "${dir}/calendar/"
fileext = ".ics"
`;
  await writeFile(path.join(dir, "config"), conf);
  // The local collections exist, so discover does not ask whether to create them.
  await mkdir(path.join(dir, "contacts", "default"), { recursive: true });
  await mkdir(path.join(dir, "calendar", "default"), { recursive: true });
});
after(async () => {
  await s?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const card = (uid: string, fn: string) => `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:${uid}\r\nFN:${fn}\r\nEND:VCARD\r\n`;

describe("vdirsyncer", () => {
  it("discovers, syncs both ways, settles, and reports a conflict", async () => {
    await s.req("PUT", `${BOOK}server1.vcf`, { ...U, headers: { "content-type": "text/vcard" }, body: card("server1", "From Server") });
    await s.req("PUT", "/dav/calendars/u@a.test/default/ev1.ics", {
      ...U,
      headers: { "content-type": "text/calendar" },
      body: "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:ev1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20270101T100000Z\r\nDTEND:20270101T110000Z\r\nSUMMARY:Kick-off\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    });
    const disc = await vdir("discover");
    assert.equal(disc.code, 0, disc.out);
    const first = await vdir("sync");
    assert.equal(first.code, 0, first.out);
    const local = path.join(dir, "contacts", "default");
    const files = await readdir(local);
    assert.equal(files.length, 1, files.join(","));
    assert.match(await readFile(path.join(local, files[0]), "utf8"), /FN:From Server/);
    assert.equal((await readdir(path.join(dir, "calendar", "default"))).length, 1);

    // Local side: create one, change the server's one. Server side: create one.
    await writeFile(path.join(local, "local1.vcf"), card("local1", "From Laptop"));
    await writeFile(path.join(local, files[0]), card("server1", "Changed On Laptop"));
    await s.req("PUT", `${BOOK}server2.vcf`, { ...U, headers: { "content-type": "text/vcard" }, body: card("server2", "Second From Server") });
    const second = await vdir("sync");
    assert.equal(second.code, 0, second.out);
    const get1 = await s.req("GET", `${BOOK}server1.vcf`, U);
    assert.match(get1.text, /FN:Changed On Laptop/);
    const list = await s.req("PROPFIND", BOOK, { ...U, headers: { depth: "1" }, body: `<d:propfind xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><card:address-data/></d:prop></d:propfind>` });
    assert.match(list.text, /FN:From Laptop/);
    assert.equal((await readdir(local)).length, 3);

    // Deletes: one on the server, one locally.
    assert.equal((await s.req("DELETE", `${BOOK}server2.vcf`, U)).status, 204);
    const localCopyOfLaptop = (await readdir(local)).find((f) => f.startsWith("local1"))!;
    await unlink(path.join(local, localCopyOfLaptop));
    const third = await vdir("sync");
    assert.equal(third.code, 0, third.out);
    assert.equal((await readdir(local)).length, 1);
    const after3 = await s.req("PROPFIND", BOOK, { ...U, headers: { depth: "1" }, body: `<d:propfind xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><card:address-data/></d:prop></d:propfind>` });
    assert.doesNotMatch(after3.text, /From Laptop|Second From Server/);

    // A run with nothing changed copies nothing.
    const quiet = await vdir("-v", "debug", "sync");
    assert.equal(quiet.code, 0, quiet.out);
    assert.doesNotMatch(quiet.out, /Copying \(uploading\)|Copying \(updating\)|Deleting/, quiet.out);

    // Conflict: both sides change the same card.
    const etag = String((await s.req("GET", `${BOOK}server1.vcf`, U)).headers.etag);
    await s.req("PUT", `${BOOK}server1.vcf`, { ...U, headers: { "content-type": "text/vcard", "if-match": etag }, body: card("server1", "Server Edit") });
    await writeFile(path.join(local, (await readdir(local))[0]), card("server1", "Laptop Edit"));
    const conflict = await vdir("sync");
    assert.notEqual(conflict.code, 0, conflict.out);
    assert.match(conflict.out, /conflict|Both items changed/i);
    assert.match((await s.req("GET", `${BOOK}server1.vcf`, U)).text, /FN:Server Edit/, "the server's copy is not overwritten");
    assert.match(await readFile(path.join(local, (await readdir(local))[0]), "utf8"), /FN:Laptop Edit/, "nor the local one");
  });
});
