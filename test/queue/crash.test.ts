// Freehold killed mid-delivery and restarted: every message is delivered, and a message reaches
// the remote twice only if its delivery was logged as "outcome unknown" (killed between the
// final dot and the reply).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { openStorage } from "../../src/store/open.ts";
import { startKnot } from "../support/knot.ts";
import { startScriptedPeer } from "../delivery/peers.ts";
import { remoteZone } from "./fixture.ts";
import { sleep } from "../support/peer-util.ts";

const CHILD = path.join(import.meta.dirname, "kill-child.ts");
const N = 60;

test("killed mid-delivery three times and restarted: all delivered, duplicates only inside the logged window", async (t) => {
  const peer = await startScriptedPeer({ host: "127.0.0.51", dataDelayMs: 300 });
  t.after(() => peer.stop());
  const knot = await startKnot(remoteZone("127.0.0.51"));
  t.after(() => knot.stop());
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "fh-crash-"));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));

  const storage = await openStorage(dir);
  for (let i = 0; i < N; i++) {
    const w = storage.blobs.create();
    await w.write(Buffer.from(`From: a@local.test\r\nTo: r${i}@remote.test\r\nMessage-ID: <m${i}@crash.test>\r\nSubject: ${i}\r\n\r\nbody ${i}\r\n`));
    await storage.writer.deliver({ blob: await w.finish(), targets: [], queue: [{ mailFrom: "a@local.test", recipients: [{ recipient: `r${i}@remote.test` }], traceHeaders: "", origin: "submission" }] });
  }
  await storage.close();

  const logs: string[] = [];
  // kill: after how many further messages reached the peer's end of DATA the child is killed.
  // The peer holds its reply 300 ms after the final dot, so a kill on seeing a new DATA lands
  // inside the window between the final dot and the reply, however slow the machine is.
  const runChild = (killAfterData: number | null) =>
    new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [CHILD, dir, knot.address, String(peer.port)], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      let watching = killAfterData !== null;
      void (async () => {
        if (killAfterData === null) return;
        const start = await peer.dataStarted();
        while (watching) {
          if ((await peer.dataStarted()) >= start + killAfterData) {
            child.kill("SIGKILL");
            return;
          }
          await sleep(10);
        }
      })();
      child.on("close", (code) => {
        watching = false;
        logs.push(out);
        resolve(code);
      });
    });

  let kills = 0;
  for (const after of [1, 5, 12]) {
    const before = (await peer.received()).length;
    const code = await runChild(after);
    if (code === null) kills++;
    await sleep(50);
    if ((await peer.received()).length >= N) break;
    assert.ok((await peer.received()).length >= before);
  }
  assert.equal(await runChild(null), 0, "the last run empties the queue");
  assert.ok(kills >= 1, "at least one run was killed mid-way");

  const received = await peer.received();
  const counts = new Map<string, number>();
  for (const m of received) {
    const id = /^Message-ID: <(m\d+)@/m.exec(m.data)?.[1] ?? "?";
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  assert.equal(counts.size, N, "every message arrived");
  const unknown = new Set<string>();
  for (const line of logs.join("").split("\n")) {
    if (!line.includes("outcome unknown")) continue;
    for (const r of (JSON.parse(line) as { recipients?: string[] }).recipients ?? []) unknown.add(/^r(\d+)@/.exec(r)![1]);
  }
  const dups = [...counts].filter(([, n]) => n > 1).map(([id]) => id.slice(1));
  t.diagnostic(`kills=${kills} received=${received.length} duplicates=${dups.length} logged-unknown=${unknown.size}`);
  assert.ok(unknown.size >= 1, "the kills landed inside the window (300 ms between the final dot and the reply)");
  for (const d of dups) assert.ok(unknown.has(d), `message ${d} arrived twice without an "outcome unknown" log`);
  const reopened = await openStorage(dir);
  assert.equal((await reopened.store.queue.list()).length, 0);
  assert.equal((await reopened.store.integrityCheck()).ok, true);
  await reopened.close();
});
