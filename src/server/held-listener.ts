// A listening socket passed from the store owner to a protocol process (issue 14; processes.ts).
import type net from "node:net";

/**
 * The listening sockets the owner passed, each with the connections it accepted before the SMTP
 * server took it over. Node makes the passed net.Server listen as it arrives, so from then on
 * the kernel may give this process connections while start() is still loading the config and
 * opening the store (~1 s): with no 'connection' listener such a socket was accepted and never
 * greeted (issue 14's stall: 5 of 10 reused connections waited for ever for their 220). They
 * are held here (paused) and handed to the server by takeOver().
 */
export interface PassedListener {
  server: net.Server;
  early: net.Socket[];
  hold: (s: net.Socket) => void;
}

export function holdConnections(server: net.Server): PassedListener {
  const early: net.Socket[] = [];
  const hold = (s: net.Socket) => {
    s.on("error", () => undefined); // a reset before the session attaches its own handler
    early.push(s);
  };
  // Synchronously in the 'message' event, which Node emits before it polls the socket again:
  // no connection can arrive between the listen and this listener.
  server.on("connection", hold);
  return { server, early, hold };
}

/** After the SMTP server attached its own 'connection' listener: it gets the held sockets. */
export function takeOver(p: PassedListener): void {
  p.server.off("connection", p.hold);
  for (const s of p.early.splice(0)) {
    if (s.destroyed) continue;
    p.server.emit("connection", s);
  }
}
