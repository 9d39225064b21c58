// Test child for held-listener.test.ts: gets a listening socket from its parent as a protocol
// process does, attaches its 'connection' listener only after a delay (as start() does once the
// config and store are open), greets every connection it is handed. argv[2] "hold": with
// holdConnections/takeOver; "bare": the way it was before (the connections of the delay are lost).
import type net from "node:net";
import { holdConnections, takeOver } from "./held-listener.ts";

const mode = process.argv[2];
process.on("message", (m: { t: string; delayMs: number }, handle?: unknown) => {
  if (m.t !== "listen") return;
  const server = handle as net.Server;
  const held = mode === "hold" ? holdConnections(server) : null;
  process.send!({ t: "listening" });
  setTimeout(() => {
    server.on("connection", (s: net.Socket) => s.end("220 greeted\r\n"));
    if (held) takeOver(held);
    process.send!({ t: "attached" });
  }, m.delayMs);
});
