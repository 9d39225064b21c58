// A DNS stub client on the wire (dns-packet), for the record types the Resolver caches: it
// needs each answer's TTL and the SOA of negative answers (RFC 2308), which node:dns/c-ares
// does not return. Transport as c-ares does it: UDP first with EDNS0 (RFC 6891, 1232-octet
// payload), TCP when the answer comes back truncated (RFC 1035 §4.2.1, RFC 7766 §5), each
// server given `timeoutMs` per attempt, `tries` rounds over the servers.
//
// Spoofing (RFC 5452 §9.2): every query uses a fresh random ID and a fresh UDP socket on a
// kernel-chosen ephemeral port, connected to the server (so only its datagrams arrive); an
// answer counts only if its ID, QR bit and question match ours. The cache makes a forged answer
// live for its TTL, so these checks matter more than they did before the cache.
import dgram from "node:dgram";
import net from "node:net";
import { randomInt } from "node:crypto";
import dnsPacket from "dns-packet";
import type { Answer, DecodedPacket } from "dns-packet";

export interface WireAnswer {
  rcode: string;
  answers: Answer[];
  authorities: Answer[];
}

export interface WireServer {
  host: string;
  port: number;
}

export interface WireOptions {
  servers: readonly WireServer[];
  timeoutMs: number;
  tries: number;
}

/**
 * An error shaped like node:dns's (code, syscall, hostname), which mailauth relies on. Without a
 * stack: cached negative answers (three per message for DMARC's NXDOMAINs) would capture one
 * each time, the costliest part of answering them, and it would only show the cache.
 */
export function dnsError(code: string, syscall: string, hostname: string): NodeJS.ErrnoException {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const err = new Error(`${syscall} ${code} ${hostname}`);
  Error.stackTraceLimit = limit;
  return Object.assign(err, { code, syscall, hostname });
}

/** "1.2.3.4", "1.2.3.4:53", "::1", "[::1]:53" as node:dns getServers() prints them. */
export function parseServer(s: string): WireServer {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) return { host: v6[1], port: v6[2] ? Number(v6[2]) : 53 };
  if (net.isIPv6(s)) return { host: s, port: 53 };
  const v4 = /^([^:]+)(?::(\d+))?$/.exec(s);
  if (v4) return { host: v4[1], port: v4[2] ? Number(v4[2]) : 53 };
  throw new RangeError(`not a DNS server address: ${s}`);
}

/** RFC 1035 §2.3.4: labels of 1–63 octets, names up to 253 characters (without the root dot). */
export function validName(name: string): boolean {
  const n = name.endsWith(".") ? name.slice(0, -1) : name;
  if (n.length === 0 || n.length > 253) return false;
  for (const label of n.split(".")) if (label.length === 0 || label.length > 63) return false;
  return true;
}

const EDNS_PAYLOAD = 1232; // the DNS flag day 2020 value, as c-ares uses

function encodeQuery(id: number, name: string, type: string): Buffer {
  return dnsPacket.encode({
    type: "query",
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as "A", class: "IN" }],
    additionals: [{ type: "OPT", name: ".", udpPayloadSize: EDNS_PAYLOAD, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
  });
}

function matches(p: DecodedPacket, id: number, name: string, type: string): boolean {
  const q = p.questions?.[0];
  return p.id === id && p.flag_qr && q !== undefined && q.type === type && q.name.toLowerCase() === name.toLowerCase();
}

type Attempt = { kind: "answer"; packet: DecodedPacket } | { kind: "truncated" } | { kind: "error"; code: string };

export class WireClient {
  readonly #o: WireOptions;
  readonly #active = new Set<(code: string) => void>();

  constructor(o: WireOptions) {
    this.#o = o;
  }

  /** Cancels every outstanding query; each rejects with ECANCELLED. */
  cancel(): void {
    for (const stop of [...this.#active]) stop("ECANCELLED");
  }

  /**
   * Asks the servers; resolves with the first NOERROR or NXDOMAIN answer. Other rcodes
   * (SERVFAIL, REFUSED ...), timeouts and servers that cannot be reached at all (no route,
   * nothing listening, a reset TCP retry) move on to the next server; when all fail it rejects
   * with the last failure's code (ESERVFAIL, EREFUSED, ETIMEOUT, ECONNREFUSED, ENETUNREACH ...),
   * which callers treat as temporary (resolver.ts isTemporary).
   */
  async query(name: string, type: string, syscall: string): Promise<WireAnswer> {
    let last = "ETIMEOUT";
    for (let round = 0; round < this.#o.tries; round++) {
      for (const server of this.#o.servers) {
        let r = await this.#attempt("udp", server, name, type);
        if (r.kind === "truncated") r = await this.#attempt("tcp", server, name, type);
        if (r.kind === "error") {
          if (r.code === "ECANCELLED") throw dnsError("ECANCELLED", syscall, name);
          last = r.code;
          continue;
        }
        if (r.kind !== "answer") continue;
        const rcode = (r.packet as DecodedPacket & { rcode?: string }).rcode ?? "NOERROR";
        if (rcode === "NOERROR" || rcode === "NXDOMAIN") {
          return { rcode, answers: r.packet.answers ?? [], authorities: r.packet.authorities ?? [] };
        }
        last = RCODE_ERRORS[rcode] ?? "EBADRESP";
      }
    }
    throw dnsError(last, syscall, name);
  }

  #attempt(transport: "udp" | "tcp", server: WireServer, name: string, type: string): Promise<Attempt> {
    const id = randomInt(0x10000);
    const query = encodeQuery(id, name, type);
    return new Promise<Attempt>((resolve) => {
      let settled = false;
      let cleanup = (): void => {};
      const finish = (a: Attempt): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#active.delete(stop);
        cleanup();
        resolve(a);
      };
      const stop = (code: string): void => finish({ kind: "error", code });
      this.#active.add(stop);
      const timer = setTimeout(() => finish({ kind: "error", code: "ETIMEOUT" }), this.#o.timeoutMs);
      const onPacket = (msg: Buffer): void => {
        let p: DecodedPacket;
        try {
          p = dnsPacket.decode(msg);
        } catch {
          return; // not a DNS message: keep waiting, as for a mismatched one
        }
        if (!matches(p, id, name, type)) return;
        finish(p.flag_tc && transport === "udp" ? { kind: "truncated" } : { kind: "answer", packet: p });
      };
      const onError = (err: NodeJS.ErrnoException): void => finish({ kind: "error", code: err.code ?? "ECONNREFUSED" });
      if (transport === "udp") {
        const sock = dgram.createSocket(net.isIPv6(server.host) ? "udp6" : "udp4");
        cleanup = () => {
          try {
            sock.close();
          } catch {
            // already closed: nothing to release
          }
        };
        // Every failure of this socket ends the attempt with its code, like a timeout does:
        // 'error' (ICMP port unreachable arrives as ECONNREFUSED on a connected socket), the
        // connect callback's error (no route: ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL, an IPv6
        // server on a host without IPv6: EAFNOSUPPORT), and send()'s, whether thrown or passed to
        // its callback. query() then moves on to the next server.
        sock.on("error", onError);
        sock.on("message", onPacket);
        try {
          sock.connect(server.port, server.host, (err?: Error) => {
            if (err) return onError(err as NodeJS.ErrnoException);
            if (settled) return;
            try {
              sock.send(query, (e) => {
                if (e) onError(e as NodeJS.ErrnoException);
              });
            } catch (e) {
              onError(e as NodeJS.ErrnoException);
            }
          });
        } catch (e) {
          onError(e as NodeJS.ErrnoException);
        }
      } else {
        // An IP literal, so no lookup; connect failures (ECONNREFUSED, ENETUNREACH ...) and a
        // reset after the truncated UDP answer all arrive as 'error' and end the attempt.
        const sock = net.connect({ host: server.host, port: server.port });
        cleanup = () => sock.destroy();
        let buf: Buffer = Buffer.alloc(0);
        sock.on("error", onError);
        sock.on("connect", () => {
          const len = Buffer.alloc(2);
          len.writeUInt16BE(query.length);
          sock.write(Buffer.concat([len, query]));
        });
        // RFC 1035 §4.2.2: each message over TCP is preceded by its two-octet length.
        sock.on("data", (d: Buffer) => {
          buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
          while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
            const n = buf.readUInt16BE(0);
            onPacket(buf.subarray(2, 2 + n));
            buf = buf.subarray(2 + n);
          }
        });
        sock.on("end", () => finish({ kind: "error", code: "ECONNRESET" }));
        sock.on("close", () => finish({ kind: "error", code: "ECONNRESET" }));
      }
    });
  }
}

/** node:dns codes for the rcodes that are failures (RFC 1035 §4.1.1). */
const RCODE_ERRORS: Record<string, string> = {
  SERVFAIL: "ESERVFAIL",
  REFUSED: "EREFUSED",
  NOTIMP: "ENOTIMP",
  FORMERR: "EFORMERR",
};
