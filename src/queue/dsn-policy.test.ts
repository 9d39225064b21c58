import { test } from "node:test";
import assert from "node:assert/strict";
import { shouldSendDsn, successAction } from "./dsn-policy.ts";
import type { DsnAction } from "./dsn-policy.ts";

const ALL: DsnAction[] = ["failed", "delayed", "delivered", "relayed", "expanded"];

test("never a bounce of a bounce: null-sender failures go to the postmaster, once", () => {
  assert.deepEqual(shouldSendDsn({ mailFrom: "", action: "failed" }), { send: true, to: "postmaster" });
  assert.equal(shouldSendDsn({ mailFrom: "", action: "failed", isPostmasterNotice: true }).send, false);
  for (const action of ALL.filter((a) => a !== "failed")) {
    assert.equal(shouldSendDsn({ mailFrom: "", action, notify: ["SUCCESS", "DELAY"] }).send, false, action);
  }
});

test("NOTIFY=NEVER silences every action", () => {
  for (const action of ALL) assert.equal(shouldSendDsn({ mailFrom: "a@b.example", action, notify: ["NEVER"] }).send, false);
});

test("without NOTIFY: failures and delays are reported, successes are not", () => {
  const got = Object.fromEntries(ALL.map((action) => [action, shouldSendDsn({ mailFrom: "a@b.example", action }).send]));
  assert.deepEqual(got, { failed: true, delayed: true, delivered: false, relayed: false, expanded: false });
});

test("explicit NOTIFY lists are honoured keyword by keyword, case-insensitively", () => {
  const m = (notify: string[], action: DsnAction) => shouldSendDsn({ mailFrom: "a@b.example", notify, action }).send;
  assert.equal(m(["success"], "delivered"), true);
  assert.equal(m(["SUCCESS"], "relayed"), true);
  assert.equal(m(["SUCCESS"], "failed"), false);
  assert.equal(m(["FAILURE"], "delayed"), false);
  assert.equal(m(["DELAY"], "delayed"), true);
  assert.equal(m(["FAILURE", "DELAY"], "expanded"), false);
});

test("auto-submitted messages get no default delay warning, but failures and explicit DELAY stay", () => {
  const base = { mailFrom: "cron@b.example", autoSubmitted: "auto-generated" };
  assert.equal(shouldSendDsn({ ...base, action: "delayed" }).send, false);
  assert.equal(shouldSendDsn({ ...base, action: "delayed", notify: ["DELAY"] }).send, true);
  assert.equal(shouldSendDsn({ ...base, action: "failed" }).send, true);
  assert.equal(shouldSendDsn({ ...base, autoSubmitted: "no", action: "delayed" }).send, true);
  assert.equal(shouldSendDsn({ ...base, autoSubmitted: "No (comment)", action: "delayed" }).send, true);
});

test("a relayed DSN is owed only when the next hop lacks DSN", () => {
  assert.equal(successAction("local"), "delivered");
  assert.equal(successAction("remote-without-dsn"), "relayed");
  assert.equal(successAction("remote-with-dsn"), null);
});
