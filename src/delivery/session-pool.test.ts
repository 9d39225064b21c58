import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { silentLogger } from "../log/logger.ts";
import { SessionPool } from "./session-pool.ts";
import type { RecipientResult, SessionTarget, SmtpSession } from "./smtp-client.ts";
import { deliverRelay } from "./transport.ts";
import type { TransportDeps } from "./transport.ts";
import type { Resolver } from "../dns/resolver.ts";

const log = silentLogger();

interface FakeSession {
  id: number;
  open: boolean;
  closed: boolean;
  sends: number;
  supportsDsn: boolean;
  /** Results of the next send (default: all ok). */
  next?: (rcpts: string[]) => RecipientResult[];
  send(tx: { recipients: { address: string }[] }): Promise<RecipientResult[]>;
  close(): void;
}

function fakeOpener() {
  const made: FakeSession[] = [];
  const open = async (_t: SessionTarget) => {
    const s: FakeSession = {
      id: made.length + 1,
      open: true,
      closed: false,
      sends: 0,
      supportsDsn: true,
      async send(tx) {
        s.sends++;
        const rcpts = tx.recipients.map((r) => r.address);
        const f = s.next;
        s.next = undefined;
        return f ? f(rcpts) : rcpts.map((r) => ({ recipient: r, kind: "ok" as const, code: 250, status: "2.0.0", reply: "250 2.0.0 ok" }));
      },
      close() {
        s.open = false;
        s.closed = true;
      },
    };
    made.push(s);
    return s as unknown as SmtpSession;
  };
  return { made, open };
}

const target = (over: Partial<SessionTarget> = {}): SessionTarget => ({ address: "127.0.0.1", port: 2525, servername: "relay.test", tls: "none", localName: "mx.test", ...over });

test("a clean session comes back and carries the next message; a failed one is closed", async () => {
  const { made, open } = fakeOpener();
  const pool = new SessionPool({ clock: new ManualClock(0), open });
  const a = await pool.acquire(target(), log);
  assert.equal(a.reused, false);
  pool.release(a, true);
  const b = await pool.acquire(target(), log);
  assert.equal(b.reused, true);
  assert.equal(b.session, a.session);
  pool.release(b, false);
  assert.equal(made[0].closed, true);
  const c = await pool.acquire(target(), log);
  assert.equal(c.reused, false);
  assert.notEqual(c.session, a.session);
  assert.deepEqual(pool.stats, { opened: 2, reused: 1 });
  pool.closeAll();
  assert.equal(made[1].closed, false, "a lent session is not closed under its user");
  pool.release(c, true);
  assert.equal(made[1].closed, true, "returned after closeAll: closed");
});

test("sessions are not shared between targets that differ in login, TLS policy or address", async () => {
  const { open } = fakeOpener();
  const pool = new SessionPool({ clock: new ManualClock(0), open });
  const base = await pool.acquire(target({ auth: { user: "a", pass: "p" } }), log);
  pool.release(base, true);
  for (const other of [target({ auth: { user: "b", pass: "p" } }), target({ auth: { user: "a", pass: "q" } }), target({ tls: "starttls-verified" }), target({ address: "127.0.0.2" })]) {
    const l = await pool.acquire(other, log);
    assert.equal(l.reused, false, JSON.stringify(other));
    l.session.close();
  }
  assert.equal((await pool.acquire(target({ auth: { user: "a", pass: "p" } }), log)).session, base.session);
});

test("limits: idle time, messages per session, age; a session the server closed is skipped", async () => {
  const clock = new ManualClock(0);
  const { made, open } = fakeOpener();
  const pool = new SessionPool({ clock, open, idleMs: 20, maxMessages: 2, maxAgeMs: 1000 });
  // maxMessages: the second return closes it.
  const a = await pool.acquire(target(), log);
  pool.release(a, true);
  const a2 = await pool.acquire(target(), log);
  pool.release(a2, true);
  assert.equal(made[0].closed, true);
  assert.equal(pool.idleCount(), 0);
  // Age.
  const b = await pool.acquire(target(), log);
  clock.advance(1000);
  pool.release(b, true);
  assert.equal(made[1].closed, true);
  // Closed by the server while idle.
  const c = await pool.acquire(target(), log);
  pool.release(c, true);
  made[2].open = false;
  const d = await pool.acquire(target(), log);
  assert.equal(d.reused, false);
  // Idle timeout (real timer).
  pool.release(d, true);
  assert.equal(pool.idleCount(), 1);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(pool.idleCount(), 0);
  assert.equal(made[3].closed, true);
});

test("transport: consecutive relay deliveries share a session; a reused session that fails before the dot is retried once on a new one", async () => {
  const { made, open } = fakeOpener();
  const pool = new SessionPool({ clock: new ManualClock(0), open });
  const deps: TransportDeps = { resolver: {} as Resolver, logger: log, hostname: "mx.test", ourAddresses: [], sessions: pool };
  const relay = { name: "r", host: "127.0.0.1", port: 2525, tls: "none" as const, maxConnections: 10 };
  const tx = (to: string) => ({ mailFrom: "a@mx.test", recipients: [{ address: to }], content: Buffer.from("x\r\n") });
  for (const to of ["1@x.test", "2@x.test", "3@x.test"]) {
    const out = await deliverRelay(deps, relay, undefined, tx(to));
    assert.equal(out.kind, "sent");
  }
  assert.equal(made.length, 1);
  assert.equal(made[0].sends, 3);
  // The server dropped the idle session as we started: no reply, dot never sent.
  made[0].next = (rcpts) => rcpts.map((r) => ({ recipient: r, kind: "temp", code: null, status: "4.4.2", reply: "Connection closed", unknownOutcome: false }));
  const out = await deliverRelay(deps, relay, undefined, tx("4@x.test"));
  assert.equal(out.kind, "sent");
  assert.equal(out.kind === "sent" && out.results[0].kind, "ok");
  assert.equal(made.length, 2);
  assert.equal(made[0].closed, true);
  // After the final dot with no reply the outcome is unknown: never resent at once.
  made[1].next = (rcpts) => rcpts.map((r) => ({ recipient: r, kind: "temp", code: null, status: "4.4.2", reply: "timeout", unknownOutcome: true }));
  const lost = await deliverRelay(deps, relay, undefined, tx("5@x.test"));
  assert.equal(lost.kind === "sent" && lost.results[0].unknownOutcome, true);
  assert.equal(made.length, 2);
  assert.equal(made[1].sends, 2);
  pool.closeAll();
});
