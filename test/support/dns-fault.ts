// A tiny DNS server on 127.0.0.1 for fault injection only (real answers come from knot, see
// knot.ts): it answers over UDP and TCP on the same ephemeral port with whatever the test's
// handler says — no answer at all (timeout), an error rcode (SERVFAIL, REFUSED, NXDOMAIN), or
// records, optionally truncated over UDP (TC bit, RFC 1035 §4.1.1) to force a TCP retry.
import dgram from "node:dgram";
import net from "node:net";
import dnsPacket from "dns-packet";
import type { Answer, Packet } from "dns-packet";

export type Transport = "udp" | "tcp";

export interface FaultQuestion {
  name: string;
  type: string;
  transport: Transport;
}

export type FaultReply =
  | { kind: "drop" }
  | { kind: "rcode"; rcode: "SERVFAIL" | "REFUSED" | "NXDOMAIN" | "NOERROR"; authorities?: Answer[] }
  | { kind: "answer"; answers: Answer[]; truncateUdp?: boolean }
  /** A truncated (TC) answer over UDP; over TCP the connection is reset (RST) instead of answered. */
  | { kind: "truncate-then-reset" };

export type FaultHandler = (q: FaultQuestion) => FaultReply;

export interface FaultServer {
  port: number;
  /** "127.0.0.1:port", ready for createResolver({ servers: [...] }). */
  address: string;
  /** Every question received, in order, with the transport it came over. */
  log: FaultQuestion[];
  setHandler(h: FaultHandler): void;
  close(): Promise<void>;
}

const RCODES = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;
const QR_RESPONSE = 0x8000;
const RD_RA = dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE;

function respond(query: Packet, reply: FaultReply, transport: Transport): Buffer | null {
  if (reply.kind === "drop") return null;
  if (reply.kind === "truncate-then-reset") {
    if (transport === "tcp") return null; // the TCP side resets the connection, see below
    return dnsPacket.encode({ type: "response", id: query.id, questions: query.questions, flags: RD_RA | QR_RESPONSE | dnsPacket.TRUNCATED_RESPONSE, answers: [] });
  }
  const base: Packet = { type: "response", id: query.id, questions: query.questions, flags: RD_RA | QR_RESPONSE };
  if (reply.kind === "rcode") {
    // authorities: the SOA a real server puts beside a negative answer (RFC 2308 §3).
    return dnsPacket.encode({ ...base, flags: (base.flags ?? 0) | RCODES[reply.rcode], authorities: reply.authorities });
  }
  if (transport === "udp" && reply.truncateUdp) {
    return dnsPacket.encode({ ...base, flags: (base.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers: [] });
  }
  return dnsPacket.encode({ ...base, answers: reply.answers });
}

export interface FaultServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default: an ephemeral port (the same for UDP and TCP). */
  port?: number;
}

export async function startFaultServer(handler: FaultHandler, opts: FaultServerOptions = {}): Promise<FaultServer> {
  const host = opts.host ?? "127.0.0.1";
  let current = handler;
  const log: FaultQuestion[] = [];
  const handle = (msg: Buffer, transport: Transport, reset?: () => void): Buffer | null => {
    let query: Packet;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return null;
    }
    const q = query.questions?.[0];
    if (!q) return null;
    const question = { name: q.name, type: q.type, transport };
    log.push(question);
    const reply = current(question);
    if (reply.kind === "truncate-then-reset" && transport === "tcp") reset?.();
    return respond(query, reply, transport);
  };

  // Same port number for UDP and TCP: bind UDP on port 0, then TCP on that port; retry on the
  // rare clash with another test's TCP listener.
  for (let attempt = 0; attempt < 10; attempt++) {
    const udp = dgram.createSocket("udp4");
    await new Promise<void>((res, rej) => {
      udp.once("error", rej);
      udp.bind(opts.port ?? 0, host, () => res());
    });
    const port = udp.address().port;
    const tcp = net.createServer((sock) => {
      let buf = Buffer.alloc(0);
      sock.on("error", () => sock.destroy());
      sock.on("data", (d) => {
        buf = Buffer.concat([buf, d]);
        // RFC 1035 §4.2.2: each message is prefixed by a two-byte length.
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const len = buf.readUInt16BE(0);
          const out = handle(buf.subarray(2, 2 + len), "tcp", () => sock.resetAndDestroy());
          buf = buf.subarray(2 + len);
          if (out && !sock.destroyed) {
            const prefix = Buffer.alloc(2);
            prefix.writeUInt16BE(out.length);
            sock.write(Buffer.concat([prefix, out]));
          }
        }
      });
    });
    const ok = await new Promise<boolean>((res) => {
      tcp.once("error", () => res(false));
      tcp.listen(port, host, () => res(true));
    });
    if (!ok) {
      udp.close();
      continue;
    }
    udp.on("message", (msg, rinfo) => {
      const out = handle(msg, "udp");
      if (out) udp.send(out, rinfo.port, rinfo.address);
    });
    const sockets = new Set<net.Socket>();
    tcp.on("connection", (s) => {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    });
    return {
      port,
      address: `${host}:${port}`,
      log,
      setHandler: (h) => {
        current = h;
      },
      close: async () => {
        for (const s of sockets) s.destroy();
        await Promise.all([new Promise<void>((r) => udp.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]);
      },
    };
  }
  throw new Error("dns-fault: could not bind UDP and TCP on the same port");
}
