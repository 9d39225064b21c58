// issue 14's stall (5 of 2,000 messages never answered with server.processes = 2): a listening
// socket passed to a protocol process accepts connections at once, before the process has
// attached its SMTP server; those were accepted and never greeted. Deterministic: the parent
// passes the socket and closes its own copy, so the child is the only acceptor; clients connect
// while the child is "still starting". Loopback 127.0.27.2.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fork } from "node:child_process";
import net from "node:net";
import { fileURLToPath } from "node:url";

const HOST = "127.0.27.2";
const CHILD = fileURLToPath(new URL("./held-listener-child.ts", import.meta.url));

async function run(mode: "hold" | "bare"): Promise<string[]> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, HOST, r));
  const port = (srv.address() as net.AddressInfo).port;
  const child = fork(CHILD, [mode], { serialization: "advanced", stdio: "inherit" });
  try {
    const next = (t: string) => new Promise<void>((r) => child.on("message", (m: { t: string }) => m.t === t && r()));
    const listening = next("listening");
    child.send({ t: "listen", delayMs: 1500 }, srv);
    await listening;
    await new Promise<void>((r) => srv.close(() => r())); // only the child accepts now
    const attached = next("attached");
    const replies = Array.from(
      { length: 5 },
      () =>
        new Promise<string>((resolve) => {
          const c = net.connect(port, HOST);
          let got = "";
          const t = setTimeout(() => (c.destroy(), resolve(got || "no greeting")), 8000);
          c.on("data", (d) => (got += String(d)));
          c.on("error", () => undefined);
          c.on("close", () => (clearTimeout(t), resolve(got.trim() || "closed")));
        }),
    );
    await attached;
    return await Promise.all(replies);
  } finally {
    child.kill();
  }
}

test("a passed listening socket: connections accepted before the server attached are greeted once it does", { timeout: 60_000 }, async () => {
  assert.deepEqual(await run("hold"), Array(5).fill("220 greeted"));
});

test("without holding them (the code before the fix) those connections are never greeted: what the test above guards", { timeout: 60_000 }, async () => {
  assert.deepEqual(await run("bare"), Array(5).fill("no greeting"));
});
