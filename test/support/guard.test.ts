import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import dgram from "node:dgram";
import dns from "node:dns";

// The guard is preloaded by scripts/test.sh (node --import ./test/support/guard.ts).
test("loopback guard refuses TCP, UDP and lookups outside loopback", async () => {
  assert.throws(() => net.connect(25, "192.0.2.1"), /loopback guard/);
  assert.throws(() => net.connect({ host: "10.0.0.1", port: 25 }), /loopback guard/);
  const s = dgram.createSocket("udp4");
  assert.throws(() => s.send(Buffer.from("x"), 53, "8.8.8.8"), /loopback guard/);
  s.close();
  assert.throws(() => dns.lookup("example.com", () => {}), /loopback guard/);
  await assert.rejects(async () => dns.promises.lookup("example.com"), /loopback guard/);
});

test("loopback guard lets loopback through", async () => {
  const server = net.createServer((c) => c.end("hi"));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  const got = await new Promise<string>((resolve, reject) => {
    const c = net.connect(port, "127.0.0.1");
    let d = "";
    c.on("data", (b) => (d += b));
    c.on("end", () => resolve(d));
    c.on("error", reject);
  });
  assert.equal(got, "hi");
  server.close();
});

test("loopback guard checks the addresses a custom lookup yields", async () => {
  const server = net.createServer((c) => c.end("ok"));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  const via = (addr: string) =>
    new Promise<string>((resolve, reject) => {
      const c = net.connect({
        host: "mx.example.test",
        port,
        lookup: (_n: string, _o: unknown, cb: (e: Error | null, a: string, f: number) => void) => (_o as { all?: boolean }).all ? cb(null, [{ address: addr, family: 4 }] as unknown as string, 4) : cb(null, addr, 4),
      } as net.NetConnectOpts);
      let d = "";
      c.on("data", (b) => (d += b));
      c.on("end", () => resolve(d));
      c.on("error", reject);
    });
  assert.equal(await via("127.0.0.1"), "ok");
  await assert.rejects(via("192.0.2.7"), /loopback guard/);
  server.close();
});
