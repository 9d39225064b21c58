import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { SMTP_ERRORS, SmtpError, toSmtpError } from "./errors.ts";
import { formatReply } from "./reply.ts";

test("docs/smtp.md lists every catalogue entry with its reply", () => {
  const doc = readFileSync(path.join(import.meta.dirname, "../../docs/smtp.md"), "utf8");
  for (const [code, e] of Object.entries(SMTP_ERRORS)) {
    const row = doc.split("\n").find((l) => l.startsWith(`| \`${code}\` |`));
    assert.ok(row, `docs/smtp.md has no row for ${code}`);
    assert.ok(row.includes(`| ${e.reply} ${e.enhanced} |`), `docs/smtp.md row for ${code} is stale`);
  }
});

test("local faults are 4xx; closing errors are 421, 552 or 554", () => {
  for (const [code, e] of Object.entries(SMTP_ERRORS)) {
    if (e.fault === "server") assert.equal(Math.floor(e.reply / 100), 4, code);
    assert.equal(e.enhanced[0], String(e.reply)[0], `${code}: enhanced class matches the reply`);
    if ("close" in e && e.close) assert.ok([421, 552, 554].includes(e.reply), code);
  }
  assert.equal(toSmtpError(new Error("boom")).entry.reply, 451);
  assert.equal(toSmtpError(Object.assign(new Error("x"), { code: "ENOSPC" })).code, "storageFull");
  const e = new SmtpError("unknownUser", "No mailbox bob");
  assert.equal(formatReply(e.toReply()), "550 5.1.1 No mailbox bob\r\n");
});

test("reply text cannot inject lines", () => {
  assert.equal(formatReply(new SmtpError("badArguments", "a\r\n250 fake").toReply()), "501 5.5.4 a 250 fake\r\n");
});
