import { test } from "node:test";
import assert from "node:assert/strict";
import { createMemoryResolve } from "../dns/memory-resolver.ts";
import { checkList, classifyCodes, queryName, zenMeaning } from "./dnsbl.ts";

test("query names: IPv4 reversed, IPv6 nibbles, domains as is (RFC 5782 §2.1, §2.4, §3)", () => {
  assert.equal(queryName("192.0.2.99", "zen.example"), "99.2.0.192.zen.example");
  assert.equal(queryName("2001:db8::1", "bl.example."), `1.${"0.".repeat(23)}8.b.d.0.1.0.0.2.bl.example`);
  assert.equal(queryName("Example.COM", "dbl.example"), "example.com.dbl.example");
});

test("codes: 127.255.255.x and non-loopback answers are unknown, never listed or clean", () => {
  assert.equal(classifyCodes(["127.255.255.254"]).status, "unknown");
  assert.equal(classifyCodes(["10.0.0.1"]).status, "unknown");
  assert.equal(classifyCodes(["127.0.0.4"]).status, "listed");
  assert.equal(zenMeaning("127.0.0.11")?.list, "PBL");
  assert.equal(zenMeaning("127.0.0.2")?.list, "SBL");
  assert.equal(zenMeaning("127.0.0.4")?.list, "XBL");
});

test("checkList: test entry first; failures are unknown", async () => {
  const zone = {
    "2.0.0.127.bl.test": { A: ["127.0.0.2"] },
    "10.2.0.192.bl.test": { A: ["127.0.0.10"], TXT: ["PBL listed"] },
    "2.0.0.127.refused.test": { A: ["127.255.255.254"] },
    "10.2.0.192.refused.test": { A: ["127.255.255.254"] },
    "2.0.0.127.broken.test": "SERVFAIL" as const,
  };
  const r = createMemoryResolve(zone);
  assert.deepEqual(await checkList(r, "192.0.2.10", "bl.test", "ip"), { status: "listed", codes: ["127.0.0.10"], reason: "PBL listed" });
  assert.deepEqual(await checkList(r, "192.0.2.11", "bl.test", "ip"), { status: "clean", codes: [] });
  assert.equal((await checkList(r, "192.0.2.10", "refused.test", "ip")).status, "unknown");
  assert.equal((await checkList(r, "192.0.2.10", "broken.test", "ip")).status, "unknown");
  assert.equal((await checkList(r, "192.0.2.10", "silent.test", "ip")).status, "unknown"); // test entry NXDOMAIN
});
