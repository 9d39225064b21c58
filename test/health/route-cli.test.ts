// `freehold queue list` shows where direct mail goes now (the relay switch, issue 8 §4).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { runCli, withTmpDir } from "../cli/run.ts";
import { openSideDb } from "../../src/store/sqlite/dkim.ts";
import { WatchStore } from "../../src/health/watch/history.ts";

test("queue list prints the route state: no switch, direct with a switch, on the relay", async () => {
  await withTmpDir(async (dir) => {
    const cli = (args: string[]) => runCli([...args, "--data", dir]);
    assert.equal((await cli(["init", "--hostname", "mail.example.com"])).code, 0);
    let out = await cli(["queue", "list"]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^Outbound route: direct \(no relay switch configured/m);
    assert.match(out.stdout, /The queue is empty/);

    await fs.appendFile(path.join(dir, "freehold.yaml"), "routing:\n  onBlocklisted: relay\n  blocklistRelay: backup\n");
    out = await cli(["queue", "list"]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^Outbound route: direct; switches to relay backup when an outbound IP is confirmed listed$/m);

    const side = openSideDb(dir);
    new WatchStore(side).saveRoute({ mode: "relay", relay: "backup", since: Date.UTC(2026, 11, 7, 10), listedRuns: 2, cleanRuns: 1, reason: "listed: blocklist.zen.spamhaus.org.192.0.2.1", lastRefusal: "mx.example.net refused us (Spamhaus): 554 5.7.1 blocked using zen.spamhaus.org", lastRefusalAt: Date.UTC(2026, 11, 7, 9) });
    side.close();
    out = await cli(["queue", "list"]);
    assert.match(out.stdout, /^Outbound route: through relay backup since 2026-12-07T10:00:00\.000Z \(listed: blocklist\.zen\.spamhaus\.org\.192\.0\.2\.1\); direct again after 3 clean blocklist runs \(1 so far\)$/m);
    assert.match(out.stdout, /^Last reputation refusal \(2026-12-07T09:00:00\.000Z\): mx\.example\.net refused us \(Spamhaus\): 554 5\.7\.1 blocked using zen\.spamhaus\.org$/m);
  });
});
