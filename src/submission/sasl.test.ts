import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeResponse, parsePlain } from "./sasl.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");

test("responses: * cancels, = is empty, anything not base64 is refused", () => {
  assert.deepEqual(decodeResponse("*"), { ok: false, reason: "cancelled" });
  assert.deepEqual(decodeResponse("="), { ok: true, value: Buffer.alloc(0) });
  for (const bad of ["abc", "ab=c", "a b", "!!!!", "YQ"]) assert.deepEqual(decodeResponse(bad), { ok: false, reason: "bad-base64" }, bad);
  const ok = decodeResponse(b64("\0u\0p"));
  assert.ok(ok.ok && ok.value.equals(Buffer.from("\0u\0p")));
});

test("PLAIN: authzid NUL authcid NUL passwd (RFC 4616 §2), UTF-8, and its malformed forms", () => {
  assert.deepEqual(parsePlain(Buffer.from("\0alice@x.test\0pässword")), { ok: true, value: { authzid: "", user: "alice@x.test", password: "pässword" } });
  assert.deepEqual(parsePlain(Buffer.from("bob@x.test\0alice@x.test\0pw")), { ok: true, value: { authzid: "bob@x.test", user: "alice@x.test", password: "pw" } });
  for (const bad of ["alice\0pw", "\0\0pw", "\0alice\0", "\0a\0b\0c", "nonul"]) {
    assert.deepEqual(parsePlain(Buffer.from(bad)), { ok: false, reason: "bad-message" }, JSON.stringify(bad));
  }
  assert.equal(parsePlain(Buffer.from(`\0${"u".repeat(256)}\0pw`)).ok, false, "authcid over 255 octets");
  assert.equal(parsePlain(Buffer.from(`\0u\0${"p".repeat(255)}`)).ok, true);
});
