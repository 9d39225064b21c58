// How evenly the kernel spreads new connections over two processes (issue 14, the choice in
// docs/architecture.md "Using every core"): a parent and one forked child accept on
//   shared     one listening socket, the parent's, passed to the child (what server.processes does)
//   reuseport  two sockets bound with SO_REUSEPORT (Node's listen({ reusePort: true }))
// Each connection costs its process ~1.5 ms of CPU (a stand-in for an SMTP session), then gets
// one line and is closed. 10 clients open connections one after another.
//   node bench/support/accept-balance.ts [connections]
import { fork } from "node:child_process";
import net from "node:net";

const HOST = "127.0.25.1";
const BUSY_MS = 1.5;

function serve(srv: net.Server, tag: string, counts: Map<string, number>): void {
  srv.on("connection", (s) => {
    const end = performance.now() + BUSY_MS;
    while (performance.now() < end);
    counts.set(tag, (counts.get(tag) ?? 0) + 1);
    s.end(`${tag}\n`);
  });
}

if (process.argv[2] === "child") {
  const counts = new Map<string, number>();
  process.on("message", (m: { mode: string; port?: number }, handle?: unknown) => {
    if (m.mode === "shared") {
      serve(handle as net.Server, "child", counts);
      process.send!("ready");
    } else {
      const srv = net.createServer();
      serve(srv, "child", counts);
      srv.listen({ host: HOST, port: m.port, reusePort: true }, () => process.send!("ready"));
    }
  });
  process.on("disconnect", () => process.exit(0));
} else {
  const total = Number(process.argv[2] ?? 2000);
  for (const mode of ["shared", "reuseport"] as const) {
    const counts = new Map<string, number>();
    const srv = net.createServer();
    serve(srv, "parent", counts);
    await new Promise<void>((r) => srv.listen({ host: HOST, port: 0, reusePort: mode === "reuseport" }, () => r()));
    const port = (srv.address() as net.AddressInfo).port;
    const child = fork(import.meta.filename, ["child"]);
    await new Promise<void>((r) => {
      child.once("message", () => r());
      if (mode === "shared") child.send({ mode }, srv);
      else child.send({ mode, port });
    });
    const seen = new Map<string, number>();
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next++ < total) {
          const who = await new Promise<string>((resolve, reject) => {
            const c = net.connect({ host: HOST, port });
            let buf = "";
            c.on("data", (d) => (buf += d));
            c.on("end", () => resolve(buf.trim()));
            c.on("error", reject);
          });
          seen.set(who, (seen.get(who) ?? 0) + 1);
        }
      }),
    );
    const ms = performance.now() - t0;
    const p = seen.get("parent") ?? 0;
    const c = seen.get("child") ?? 0;
    process.stdout.write(`${mode}: parent ${p}, child ${c} (child share ${((100 * c) / (p + c)).toFixed(1)}%), ${((1000 * (p + c)) / ms).toFixed(0)} conn/s\n`);
    child.disconnect();
    await new Promise<void>((r) => srv.close(() => r()));
  }
}
