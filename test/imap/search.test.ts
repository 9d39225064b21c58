// SEARCH from the index: deliveries are indexed in the background (no blob read at search time),
// the lazy path indexes what was missed, decoded text matches (RFC 2047 words, quoted-printable
// ISO-8859-1 bodies), substrings of any length match case-insensitively (RFC 9051 §6.4.4).
import { test } from "node:test";
import assert from "node:assert/strict";
import { PASSWORD, USER, sampleMessage, startHarness } from "./harness.ts";
import { RawClient } from "./raw-client.ts";

const qpLatin1 =
  "From: =?ISO-8859-1?Q?J=F6rg?= <j@example.org>\r\nSubject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\r\nMIME-Version: 1.0\r\n" +
  "Content-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nSch=F6ne Gr=FC=DFe, caf=E9 cr=E8me\r\n";

test("SEARCH uses the index: eager for deliveries, lazy for the rest; decoded text; short strings", async () => {
  const h = await startHarness();
  try {
    for (let i = 1; i <= 20; i++) await h.deliver("INBOX", sampleMessage(i));
    await h.deliver("INBOX", qpLatin1);
    await h.indexer.idle();
    assert.equal(h.indexer.indexed, 21, "every delivery indexed in the background");
    // Reading a blob at search time would fail now: the index alone must answer.
    const realRead = h.blobs.readAll.bind(h.blobs);
    let reads = 0;
    h.blobs.readAll = async (id) => {
      reads++;
      return realRead(id);
    };
    const c = await RawClient.connect(h.port);
    await c.login(USER, PASSWORD);
    await c.cmd("SELECT INBOX");
    const u = (r: { untagged: string[] }): string => r.untagged.find((l) => l.startsWith("* SEARCH"))!;
    assert.equal(u(await c.cmd("SEARCH BODY \"body 17\"")), "* SEARCH 17");
    assert.equal(u(await c.cmd("SEARCH SUBJECT \"NUMBER 2\"")), "* SEARCH 2 20");
    assert.equal(u(await c.cmd("SEARCH FROM sender1")), "* SEARCH 1 10 11 12 13 14 15 16 17 18 19");
    const term = Buffer.from("grüße", "utf8");
    c.send(`s1 SEARCH CHARSET UTF-8 BODY {${term.length}}\r\n`);
    assert.match(await c.line(), /^\+/);
    c.send(Buffer.concat([term, Buffer.from("\r\n")]));
    assert.equal((await c.until("s1")).untagged[0], "* SEARCH 21");
    assert.equal(u(await c.cmd("SEARCH FROM jörg")), "* SEARCH 21", "RFC 2047 encoded display name decoded");
    assert.equal(u(await c.cmd("SEARCH TEXT CAFÉ")), "* SEARCH 21", "case-insensitive, non-ASCII");
    assert.equal(u(await c.cmd("SEARCH BODY 17")), "* SEARCH 17", "two characters: scanned from stored text");
    assert.equal(u(await c.cmd("SEARCH NOT BODY e")), "* SEARCH", "one character");
    assert.equal(reads, 0, "no message was read to answer SEARCH");
    // A message copied in is not indexed yet: the lazy path reads it once, then never again.
    await c.cmd("COPY 21 Archive");
    await c.cmd("SELECT Archive");
    assert.equal(u(await c.cmd("SEARCH BODY crème")), "* SEARCH 1");
    assert.equal(reads, 1);
    assert.equal(u(await c.cmd("SEARCH BODY crème")), "* SEARCH 1");
    assert.equal(reads, 1);
    c.close();
  } finally {
    await h.close();
  }
});
