// One serving process per data folder. Startup recovery deletes every temp file and every blob
// file without a row as crash leftovers (src/store/open.ts), which is only true when no other
// process is delivering into the folder: a second `freehold serve` on a live folder would delete
// the first one's in-flight messages, including files renamed into place but not yet committed,
// whose rows then point at nothing. So a second server must refuse to start, and a crashed
// server's lock must not block its restart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { startFaultServer } from "../support/dns-fault.ts";
import { SmtpTestClient } from "../support/smtp-client.ts";
import { createDataDir, freePort, startFreeholdInProcess, startFreeholdProcess } from "../support/freehold.ts";

test("a second freehold serve on the same data folder refuses to start and touches nothing", { timeout: 60_000 }, async () => {
  const dns = await startFaultServer(() => ({ kind: "rcode", rcode: "NXDOMAIN" }));
  const data = await createDataDir({ domains: ["freehold.test"], users: [{ address: "lock@freehold.test" }], dnsServers: [dns.address] });
  const first = await startFreeholdProcess(data);
  try {
    // A message half-way through DATA on the first server: its temp file is live.
    const sock = net.connect({ host: "127.0.0.1", port: first.mxPort });
    sock.on("error", () => undefined);
    sock.write(`EHLO c.test\r\nMAIL FROM:<a@sender.test>\r\nRCPT TO:<lock@freehold.test>\r\nDATA\r\n`);
    await new Promise((r) => setTimeout(r, 300));
    sock.write("Subject: live\r\n\r\n" + `${"l".repeat(78)}\r\n`.repeat(5000));
    const tmp = path.join(data.dir, "blobs", "tmp");
    for (let i = 0; i < 100 && (await readdir(tmp)).length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const live = await readdir(tmp);
    assert.equal(live.length, 1, "the first server has a temp file in flight");

    // Same folder, another port: refused, as a child and in-process.
    // (A server that does start is stopped again, so a failure here cannot hang the run.)
    const child = await startFreeholdProcess({ dir: data.dir, mxPort: await freePort() }).then(
      (p) => p.kill9().then(() => "started"),
      (e: Error) => e.message,
    );
    assert.match(child, /freehold: storage problem: another freehold serve \(pid \d+\) is already serving /);
    const inProcess = await startFreeholdInProcess(data).then(
      (s) => s.stop().then(() => "started"),
      (e: Error) => e.message,
    );
    assert.match(inProcess, new RegExp(`^another freehold serve \\(pid ${first.pid}\\) is already serving `));
    assert.deepEqual(await readdir(tmp), live, "the refused server's recovery did not run");

    // The first one finishes the message.
    sock.write("\r\n.\r\nQUIT\r\n");
    const reply = await new Promise<string>((resolve) => {
      let got = "";
      sock.setEncoding("latin1");
      sock.on("data", (d: string) => (got += d));
      sock.on("close", () => resolve(got));
    });
    assert.match(reply, /\r\n250 2\.0\.0 Ok: queued/);
  } finally {
    await first.kill9();
  }
  try {
    // Killed, its lock is gone with it: a restart is not blocked.
    const second = await startFreeholdProcess(data);
    const c = await SmtpTestClient.connect(second.mxPort);
    await c.read();
    await c.cmd("EHLO c.test");
    assert.equal((await c.send("a@sender.test", ["lock@freehold.test"], "Subject: after\r\n\r\nx\r\n")).final.code, 250);
    await c.quit();
    assert.equal(await second.stop(), 0);
    // Stopped gracefully, the lock is released too.
    const third = await startFreeholdInProcess(data);
    await third.stop();
  } finally {
    await dns.close();
    await data.remove();
  }
});
