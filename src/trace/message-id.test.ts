import { test } from "node:test";
import assert from "node:assert/strict";
import { messageIdOf } from "./message-id.ts";

test("Message-ID: found in the header only, folded or not, any case; none gives null", () => {
  assert.equal(messageIdOf("Subject: x\r\nMessage-ID: <a.b@c.test>\r\n\r\nbody"), "<a.b@c.test>");
  assert.equal(messageIdOf("message-id:\r\n <folded@c.test>\r\nX: y\r\n\r\n"), "<folded@c.test>");
  assert.equal(messageIdOf("Subject: x\r\n\r\nMessage-ID: <in-body@c.test>\r\n"), null, "not from the body");
  assert.equal(messageIdOf("Subject: x\r\n\r\n"), null);
  assert.equal(messageIdOf("Message-ID: no brackets\r\n\r\n"), null);
  assert.equal(messageIdOf(Buffer.from("Message-Id: <x@y>\n\nb")), "<x@y>", "bare LF too");
});
