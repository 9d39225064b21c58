// server.processes (issue 14): how many serving processes a config asks for, and the errors that
// cross the pipe between a protocol process and the store owner.
import { test } from "node:test";
import assert from "node:assert/strict";
import { configFromObject } from "../config/load.ts";
import { ConfigError } from "../config/load.ts";
import { fromWire, processCount, toWire } from "./processes.ts";
import { StoreError, isStoreError } from "../store/errors.ts";
import { mapDeliveryError } from "../mx/handler.ts";
import { SmtpError } from "../smtp/errors.ts";

const parse = (server?: unknown) => configFromObject({ hostname: "mx.example.test", ...(server === undefined ? {} : { server }) }, { file: "freehold.yaml", dataDir: "/srv/fh" });

test("server.processes: default 1 (one process), a number, or auto = the core count", () => {
  assert.equal(processCount(parse()), 1);
  assert.equal(processCount(parse({ processes: 3 })), 3);
  assert.equal(processCount(parse({ processes: "auto" }), 2), 2);
  assert.equal(processCount(parse({ processes: "auto" }), 1), 1, "serve on one core: one process");
  for (const bad of [0, -1, 1.5, "two", 65]) assert.throws(() => parse({ processes: bad }), ConfigError, String(bad));
});

test("errors from the owner keep what the SMTP reply depends on (4xx for local faults)", () => {
  const quota = fromWire(toWire(new StoreError("over-quota", "over quota")));
  assert.ok(isStoreError(quota, "over-quota"));
  assert.equal((mapDeliveryError(quota) as SmtpError).toReply().code, new SmtpError("overQuota").toReply().code);
  const full = fromWire(toWire(Object.assign(new Error("no space"), { code: "ENOSPC" })));
  assert.equal((mapDeliveryError(full) as SmtpError).toReply().code, new SmtpError("storageFull").toReply().code);
  assert.ok(isStoreError(fromWire(toWire(new StoreError("busy", "locked"))), "busy"));
});
