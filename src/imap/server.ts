// startImapServer: a listener with a role (imap: STARTTLS on 143; imaps: implicit TLS on 993),
// the connection registry (per-IP and per-user caps, RFC 5530 [LIMIT]), and the one server-wide
// sweep that sends IDLE keepalives and logs out idle sessions (no timer per connection).
import net from "node:net";
import { withContext } from "../log/context.ts";
import { TLSSocket } from "node:tls";
import { randomBytes } from "node:crypto";
import { Connection } from "./connection.ts";
import { StatusCache } from "./status-cache.ts";
import { ImapError } from "./errors.ts";
import { DEFAULT_IMAP_LIMITS } from "./types.ts";
import type { ImapDeps, ImapListenerSpec, ImapServerHandle } from "./types.ts";

export interface ImapServerHandleInternal extends ImapServerHandle {
  /** Runs the timeout/keepalive sweep now (tests drive it with a ManualClock). */
  sweep(): Promise<void>;
  /** The largest output backlog of any connection, in octets (back-pressure tests, metrics). */
  maxWriteBuffered(): number;
}

export async function startImapServer(deps: ImapDeps, listener: ImapListenerSpec): Promise<ImapServerHandleInternal> {
  const limits = { ...DEFAULT_IMAP_LIMITS, ...deps.limits };
  if (listener.tls !== "none" && !listener.secureContext) throw new Error(`imap listener ${listener.role}: tls "${listener.tls}" needs a secureContext`);
  const conns = new Set<Connection>();
  // One per process when the wiring passes it: imap and imaps sessions share the mailbox index.
  const statusCache = deps.statusCache ?? new StatusCache();
  const perIp = new Map<string, number>();
  const log = deps.logger.child({ listener: listener.role });

  const onSocket = async (raw: net.Socket, cid: string): Promise<void> => {
    const ip = raw.remoteAddress ?? "unknown";
    const clog = log.child({ cid, ip });
    // Until the Connection attaches its own: a reset while we refuse or handshake must not be
    // an 'error' event without a listener (that throws and would end the process).
    raw.on("error", (e) => clog.debug({ err: e }, "imap socket error before session"));
    const n = (perIp.get(ip) ?? 0) + 1;
    if (n > limits.maxConnectionsPerIp) {
      refuse(raw, "* BYE [LIMIT] Too many connections from your address\r\n");
      return;
    }
    // Counted from accept (a TLS handshake in progress holds a slot too).
    if (open >= limits.maxConnections) {
      clog.info({ open }, "imap listener full");
      refuse(raw, "* BYE [LIMIT] Too many connections, try again later\r\n");
      return;
    }
    open++;
    perIp.set(ip, n);
    raw.setNoDelay(true);
    raw.setKeepAlive(true, 60_000);
    let sock: net.Socket = raw;
    try {
      if (listener.tls === "implicit") {
        const sec = new TLSSocket(raw, { isServer: true, secureContext: listener.secureContext! });
        await new Promise<void>((resolve, reject) => {
          sec.once("secure", () => resolve());
          // `on`, not `once`: a TLS alert followed by a reset is two errors.
          sec.on("error", reject);
          raw.once("close", () => reject(new Error("closed during handshake")));
        });
        sock = sec;
      }
    } catch (e) {
      clog.debug({ err: e }, "imaps handshake failed");
      raw.destroy();
      release(ip);
      return;
    }
    const conn = new Connection(deps, limits, listener, sock, clog, statusCache);
    conn.session.onLogin = (user) => {
      let count = 0;
      for (const c of conns) {
        const st = c.session.state;
        if (c !== conn && (st.kind === "authenticated" || st.kind === "selected") && st.user.id === user.id) count++;
      }
      return count >= limits.maxConnectionsPerUser ? new ImapError("NO", "Too many connections for this user", { code: "LIMIT" }) : null;
    };
    conns.add(conn);
    void conn.done.then(() => {
      conns.delete(conn);
      release(ip);
    });
    await conn.run(`${deps.serverName ?? "Freehold"} IMAP ready`);
  };

  let open = 0;
  const refuse = (raw: net.Socket, text: string): void => {
    raw.end(text);
    // A client that does not read or close must not keep the socket (and its fd) open.
    const t = setTimeout(() => raw.destroy(), 2000);
    t.unref();
    raw.once("close", () => clearTimeout(t));
  };

  const release = (ip: string): void => {
    open--;
    const n = (perIp.get(ip) ?? 1) - 1;
    if (n <= 0) perIp.delete(ip);
    else perIp.set(ip, n);
  };

  const server = net.createServer((s) => {
    const cid = randomBytes(6).toString("base64url");
    // The session's context follows everything it schedules (server/last-resort.ts).
    withContext({ component: listener.role, cid }, () => onSocket(s, cid)).catch((err: unknown) => {
      log.error({ err, cid }, "imap connection setup failed");
      s.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // A storm queues in the kernel instead of overflowing it (src/smtp/server.ts LISTEN_BACKLOG).
    server.listen({ port: listener.port, host: listener.address, backlog: 4096 }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // After listen, errors are accept(2) failures (EMFILE, ENFILE): logged; the listener stays.
  server.on("error", (err) => log.error({ err }, "imap listener error"));
  const port = (server.address() as net.AddressInfo).port;

  const sweep = async (): Promise<void> => {
    const now = deps.clock.now();
    for (const c of [...conns]) {
      const authed = c.session.state.kind !== "not-authenticated";
      const limit = authed ? limits.idleTimeoutMs : limits.preauthTimeoutMs;
      if (now - c.lastActivity >= limit) {
        // RFC 9051 §5.4: autologout after at least 30 minutes of inactivity.
        void c.bye("Autologout; idle for too long").catch(() => undefined);
        continue;
      }
      if (!authed && now - c.connectedAt >= limits.loginTimeoutMs) {
        void c.bye("Login timeout").catch(() => undefined);
        continue;
      }
      // A command trickling in (slowloris after login): BYE once it is overdue (types.ts).
      if (c.commandOverdue(now)) {
        c.log.info({ commandTimeoutMs: limits.commandTimeoutMs }, "imap command timeout");
        void c.bye("Command timeout; the command did not arrive in time").catch(() => undefined);
        continue;
      }
      if (c.session.idling && now - c.lastWrite >= limits.keepaliveMs) {
        void c.session.keepalive().catch(() => undefined);
      }
    }
    await endRemovedUsers();
  };
  // `freehold user remove` runs in another process: sessions of a user it removed end at the
  // next sweep (one committed-rows lookup per logged-in user, not per command).
  const endRemovedUsers = async (): Promise<void> => {
    const byUser = new Map<number, Connection[]>();
    for (const c of conns) {
      const st = c.session.state;
      if (st.kind !== "authenticated" && st.kind !== "selected") continue;
      const list = byUser.get(st.user.id);
      if (list) list.push(c);
      else byUser.set(st.user.id, [c]);
    }
    if (byUser.size === 0) return;
    const gone = await deps.store.readCommitted(async (tx) => {
      const out: number[] = [];
      for (const id of byUser.keys()) if (!(await tx.accounts.getUserById(id))) out.push(id);
      return out;
    });
    for (const id of gone) {
      for (const c of byUser.get(id) ?? []) {
        c.log.info({ userId: id }, "imap session ended: account removed");
        void c.bye("Account removed").catch(() => undefined);
      }
    }
  };
  // Often enough that a short login timeout is enforced close to when it falls due.
  const sweepMs = Math.max(250, Math.min(limits.sweepMs, Math.floor(limits.loginTimeoutMs / 4), Math.floor(limits.commandTimeoutMs / 4)));
  const timer = setInterval(() => void sweep().catch((err: unknown) => log.error({ err }, "imap sweep failed")), sweepMs);
  timer.unref();

  return {
    port,
    get connections() {
      return conns.size;
    },
    sweep,
    maxWriteBuffered: () => Math.max(0, ...[...conns].map((c) => c.writeBuffered)),
    async close() {
      clearInterval(timer);
      const closed = new Promise<void>((r) => server.close(() => r()));
      await Promise.all([...conns].map((c) => c.bye("Server shutting down")));
      await closed;
    },
  };
}
