import { test } from "node:test";
import assert from "node:assert/strict";
import { applySubmissionFixups } from "./fixups.ts";

const opts = { now: Date.UTC(2026, 10, 23, 9, 30, 0), hostname: "mail.y.example", uniqueId: () => "fixed-id" };

function headerOf(m: Buffer): string {
  const s = m.toString("latin1");
  return s.slice(0, s.indexOf("\r\n\r\n") + 2);
}

test("Date and Message-ID are added when missing, Bcc removed with its continuation lines", () => {
  const msg = Buffer.from(
    ["From: me@y.example", "To: a@x.example", "Bcc: secret1@x.example,", "\tsecret2@x.example", "Subject: hi", "", "Bcc: in the body stays", ""].join("\r\n"),
  );
  const r = applySubmissionFixups(msg, opts);
  assert.deepEqual(r.added, ["Date", "Message-ID"]);
  assert.equal(r.bccRemoved, 1);
  const h = headerOf(r.message);
  assert.doesNotMatch(h, /secret/i);
  assert.match(h, /^Date: Mon, 23 Nov 2026 09:30:00 \+0000\r$/m);
  assert.match(h, /^Message-ID: <fixed-id@mail\.y\.example>\r$/m);
  assert.match(h, /^Subject: hi\r$/m);
  assert.ok(r.message.toString("latin1").endsWith("\r\n\r\nBcc: in the body stays\r\n"), "body untouched");
});

test("a complete message is returned as it was", () => {
  const msg = Buffer.from("From: me@y.example\r\nDate: Sun, 1 Nov 2026 00:00:00 +0000\r\nmessage-id: <a@b>\r\n\r\nbody\r\n");
  const r = applySubmissionFixups(msg, opts);
  assert.equal(r.message, msg);
  assert.deepEqual(r.added, []);
  assert.equal(r.bccRemoved, 0);
});

test("every Bcc goes, in any case, also an empty one", () => {
  const msg = Buffer.from("BCC: a@x.example\r\nFrom: me@y.example\r\nbcc:\r\nDate: x\r\nMessage-ID: <a@b>\r\n\r\nb");
  const r = applySubmissionFixups(msg, opts);
  assert.equal(r.bccRemoved, 2);
  assert.equal(r.message.toString(), "From: me@y.example\r\nDate: x\r\nMessage-ID: <a@b>\r\n\r\nb");
});

test("a message that is all header, or LF-only, still comes out well formed", () => {
  const r = applySubmissionFixups(Buffer.from("From: me@y.example"), opts);
  assert.match(r.message.toString(), /^From: me@y\.example\r\nDate: .*\r\nMessage-ID: <fixed-id@mail\.y\.example>\r\n\r\n$/);
  const lf = applySubmissionFixups(Buffer.from("From: me@y.example\nSubject: s\n\nbody\n"), opts);
  assert.match(lf.message.toString(), /^From: me@y\.example\nSubject: s\nDate: [^\r\n]+\nMessage-ID: [^\r\n]+\n\nbody\n$/);
});
