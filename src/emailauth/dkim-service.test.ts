import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ManualClock } from "../clock.ts";
import { openSideDb, SqliteDkimKeys } from "../store/sqlite/dkim.ts";
import { dnsError } from "../dns/memory-resolver.ts";
import { DkimService } from "./dkim-service.ts";
import { dkimRecordName, dkimTxtRecord, txtStrings } from "./dkim-keys.ts";

const DAY = 86_400_000;

test("the whole rotation on an injected clock: new → published → active → retiring → retired after 7 days", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "freehold-dkim-"));
  const db = openSideDb(dir);
  try {
    const clock = new ManualClock(Date.UTC(2026, 10, 1));
    const svc = new DkimService({ keys: new SqliteDkimKeys(db), clock });
    const zone = new Map<string, string[][]>();
    let fail: string | null = null;
    const txt = async (name: string) => {
      if (fail) throw dnsError(fail, "queryTxt", name);
      const a = zone.get(name);
      if (!a) throw dnsError("ENOTFOUND", "queryTxt", name);
      return a;
    };
    const publish = () => {
      for (const k of svc.list("example.org")) zone.set(dkimRecordName(k), [txtStrings(dkimTxtRecord(k))]);
    };

    const first = await svc.createDomainKeys("Example.ORG");
    assert.deepEqual(first.map((k) => k.selector), ["fh202611r", "fh202611e"]);
    assert.deepEqual(await svc.createDomainKeys("example.org"), [], "idempotent");
    assert.deepEqual(svc.signingKeys("example.org"), []);

    fail = "ETIMEOUT";
    assert.deepEqual((await svc.check("example.org", txt)).map((s) => s.outcome), ["lookup-failed", "lookup-failed"]);
    fail = null;
    // A record with a different key is not ours.
    zone.set(dkimRecordName(first[0]), [["v=DKIM1; k=rsa; p=AAAA"]]);
    assert.deepEqual((await svc.check("example.org", txt)).map((s) => s.outcome), ["not-live", "not-live"]);
    publish();
    assert.deepEqual((await svc.check("example.org", txt)).map((s) => s.outcome), ["published", "published", "activated", "activated"]);
    assert.equal(svc.signingKeys("example.org").length, 2);

    clock.advance(30 * DAY);
    const second = await svc.rotate("example.org");
    assert.deepEqual(second.map((k) => k.selector), ["fh202612r", "fh202612e"]);
    publish();
    const steps = await svc.check("example.org", txt);
    assert.deepEqual(steps.filter((s) => s.outcome === "retiring").map((s) => s.selector).sort(), ["fh202611e", "fh202611r"]);
    clock.advance(7 * DAY - 1);
    assert.deepEqual(await svc.check("example.org", txt), [], "not before 7 days");
    clock.advance(1);
    assert.deepEqual((await svc.check("example.org", txt)).map((s) => s.outcome), ["retired", "retired"]);
    const old = svc.list("example.org").filter((k) => k.selector.startsWith("fh202611"));
    assert.ok(old.every((k) => k.state === "retired" && k.privateKeyPem === ""), "retired keys keep no private key");
    assert.deepEqual(svc.signingKeys("example.org").map((k) => k.selector).sort(), ["fh202612e", "fh202612r"]);
  } finally {
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
});
