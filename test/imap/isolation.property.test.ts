// Isolation as a property (issue 16 §1): random interleavings of CREATE, APPEND, DELETE, RENAME,
// SELECT, EXPUNGE, FETCH, SEARCH and STATUS by two users over four connections (two each) to a
// real server, raw IMAP. Commands of one step run concurrently on different connections. After
// each step every response is checked against what the session's own user put where:
//  - every message a session sees (FETCH, also unsolicited) carries a marker its own user
//    APPENDed, into the mailbox the session has selected (same UIDVALIDITY), under that UID,
//    with that size; every keyword is the user's own;
//  - EXISTS, STATUS MESSAGES and UIDNEXT never exceed what the user appended to that mailbox;
//  - a UIDVALIDITY is only ever shown to one user; SEARCH finds no other user's text;
//  - no command crashes (no SERVERBUG), no connection drops.
// Mailbox names are shared by both users, so deleting one user's mailbox and creating the
// other's is frequent (the id reuse of issue 16). Bounded in npm test; FREEHOLD_ISOLATION_RUNS
// (and FREEHOLD_ISOLATION_SEED) for a soak.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { SYSTEM } from "../../src/accounts/authz.ts";
import { PASSWORD, USER, startHarness } from "./harness.ts";
import { RawClient } from "./raw-client.ts";
import type { Reply } from "./raw-client.ts";

const BOB = "bob@example.test";
const USERS = [USER, BOB];
const TAGS = ["alice", "bob"];
const NAMES = ["m1", "m2", "m1/c"];
const RUNS = Number(process.env.FREEHOLD_ISOLATION_RUNS ?? 30);
const SEED = process.env.FREEHOLD_ISOLATION_SEED ? Number(process.env.FREEHOLD_ISOLATION_SEED) : undefined;

type Op =
  | { kind: "create" | "delete" | "select" | "status"; name: number }
  | { kind: "append"; name: number; flagged: boolean }
  | { kind: "rename"; name: number; to: number }
  | { kind: "expunge"; pick: number }
  | { kind: "fetch" | "search" | "noop" | "close" | "status-all" };

const name = fc.integer({ min: 0, max: NAMES.length - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("create" as const), name }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("append" as const), name, flagged: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("delete" as const), name }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("rename" as const), name, to: name }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("select" as const), name }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("status" as const), name }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("expunge" as const), pick: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("fetch" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("search" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("noop" as const) }) },
  // What clients polling every folder do (LIST-STATUS, or STATUS on each).
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("status-all" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("close" as const) }) },
);
/** One step: up to one command per connection (0, 1: alice; 2, 3: bob), run at once. */
const step = fc.array(fc.record({ conn: fc.integer({ min: 0, max: 3 }), op }), { minLength: 1, maxLength: 4 }).map((xs) => {
  const seen = new Set<number>();
  return xs.filter((x) => !seen.has(x.conn) && (seen.add(x.conn), true));
});

interface Appended {
  user: number;
  uidValidity: number;
  uid: number;
  size: number;
}

class World {
  /** marker → where its user APPENDed it (known once the APPENDUID is read). */
  markers = new Map<string, Appended>();
  /** `${uidValidity}` → the user it was shown to first. */
  owners = new Map<number, number>();
  /** `${user}:${uidValidity}` → UIDs that user appended there. */
  appended = new Map<string, Set<number>>();
  n = 0;
  /**
   * Replies of the current step, checked when all of its commands have answered: a session may
   * see a message of a concurrent APPEND (same user) before that APPEND's APPENDUID is read.
   */
  replies: Array<{ k: Conn; selected: number | null; r: Reply; what: string }> = [];

  own(user: number, uidValidity: number, what: string): void {
    const o = this.owners.get(uidValidity);
    if (o === undefined) this.owners.set(uidValidity, user);
    else assert.equal(o, user, `${TAGS[user]} shown UIDVALIDITY ${uidValidity} of ${TAGS[o]}'s mailbox (${what})`);
  }
  uids(user: number, uidValidity: number): Set<number> {
    return this.appended.get(`${user}:${uidValidity}`) ?? new Set();
  }
}

interface Conn {
  c: RawClient;
  user: number;
  /** The selected mailbox's UIDVALIDITY, or null. */
  selected: number | null;
}

function message(user: number, marker: string, i: number): string {
  return `X-Marker: ${marker}\r\nFrom: ${TAGS[user]}@example.test\r\nSubject: owner-${TAGS[user]} ${i}\r\n\r\nbody owner-${TAGS[user]} ${marker} ${"y".repeat((i * 13) % 200)}\r\n`;
}

const KEYWORD = (user: number): string => `$K${TAGS[user]}`;

/** Keeps a reply for the end of the step, with the mailbox selected when it came. */
function checkLines(w: World, k: Conn, r: Reply, what: string): void {
  w.replies.push({ k, selected: k.selected, r, what });
}

function checkStep(w: World): void {
  for (const x of w.replies.splice(0)) checkReply(w, { ...x.k, selected: x.selected }, x.r, x.what);
}

/** Every untagged line of a reply, checked against the world for the connection's user and mailbox. */
function checkReply(w: World, k: Conn, r: Reply, what: string): void {
  assert.ok(!/SERVERBUG|Internal error/i.test(r.text), `${what}: ${r.text}`);
  for (const l of r.untagged) {
    const other = 1 - k.user;
    assert.ok(!l.includes(KEYWORD(other)), `${TAGS[k.user]} sees ${TAGS[other]}'s keyword (${what}): ${l}`);
    assert.ok(!l.includes(`owner-${TAGS[other]}`), `${TAGS[k.user]} sees ${TAGS[other]}'s text (${what}): ${l}`);
    const exists = /^\* (\d+) EXISTS/.exec(l);
    if (exists && k.selected !== null) {
      const n = Number(exists[1]);
      assert.ok(n <= w.uids(k.user, k.selected).size, `${TAGS[k.user]}: ${n} EXISTS in ${k.selected}, appended ${w.uids(k.user, k.selected).size} (${what})`);
    }
    if (/^\* \d+ FETCH /.test(l)) {
      assert.notEqual(k.selected, null, `FETCH with no mailbox selected: ${l}`);
      const uid = /\bUID (\d+)/.exec(l);
      if (uid) assert.ok(w.uids(k.user, k.selected!).has(Number(uid[1])), `${TAGS[k.user]} sees UID ${uid[1]} it never appended to ${k.selected} (${what}): ${l}`);
      const marker = /X-Marker: (\S+)/.exec(l);
      if (marker) {
        const m = w.markers.get(marker[1]);
        assert.ok(m, `unknown marker ${marker[1]}`);
        assert.equal(m.user, k.user, `${TAGS[k.user]} sees ${TAGS[m.user]}'s message (${what})`);
        assert.equal(m.uidValidity, k.selected, `a message of mailbox ${m.uidValidity} shown in ${k.selected} (${what})`);
        if (uid) assert.equal(Number(uid[1]), m.uid, `message ${marker[1]} under UID ${uid[1]}, appended as ${m.uid}`);
        const size = /RFC822\.SIZE (\d+)/.exec(l);
        if (size) assert.equal(Number(size[1]), m.size, `size of ${marker[1]}`);
      }
      const flags = /FLAGS \(([^)]*)\)/.exec(l);
      if (flags) {
        for (const f of flags[1].split(" ").filter(Boolean)) {
          assert.ok(["\\Seen", "\\Deleted", "\\Recent", KEYWORD(k.user)].includes(f), `flag ${f} (${what}): ${l}`);
        }
      }
    }
    const search = /^\* SEARCH(.*)$/.exec(l);
    if (search && k.selected !== null) {
      for (const u of search[1].trim().split(" ").filter(Boolean)) {
        assert.ok(w.uids(k.user, k.selected).has(Number(u)), `SEARCH found UID ${u} not appended by ${TAGS[k.user]} (${what})`);
      }
    }
    const next = /^\* OK \[UIDNEXT (\d+)\]/.exec(l);
    if (next && k.selected !== null) {
      assert.ok(Number(next[1]) - 1 <= Math.max(0, ...w.uids(k.user, k.selected)), `UIDNEXT ${next[1]} beyond ${TAGS[k.user]}'s appends (${what})`);
    }
    const status = /^\* STATUS .*\((.*)\)$/.exec(l);
    if (status) {
      const v = /UIDVALIDITY (\d+)/.exec(status[1]);
      const msgs = /MESSAGES (\d+)/.exec(status[1]);
      const next = /UIDNEXT (\d+)/.exec(status[1]);
      if (v) {
        const uv = Number(v[1]);
        w.own(k.user, uv, what);
        const mine = w.uids(k.user, uv);
        if (msgs) assert.ok(Number(msgs[1]) <= mine.size, `STATUS MESSAGES ${msgs[1]} > ${mine.size} appended (${what}): ${l}`);
        if (next) assert.ok(Number(next[1]) - 1 <= Math.max(0, ...mine), `STATUS UIDNEXT ${next[1]} beyond ${TAGS[k.user]}'s appends (${what}): ${l}`);
      }
    }
  }
}

async function runOp(w: World, k: Conn, o: Op): Promise<void> {
  const c = k.c;
  const what = `${TAGS[k.user]} ${JSON.stringify(o)}`;
  let r: Reply;
  switch (o.kind) {
    case "create":
      r = await c.cmd(`CREATE ${NAMES[o.name]}`);
      break;
    case "delete":
      r = await c.cmd(`DELETE ${NAMES[o.name]}`);
      // Deleting the selected mailbox (own session) leaves the selected state.
      break;
    case "rename":
      r = await c.cmd(`RENAME ${NAMES[o.name]} ${NAMES[o.to]}`);
      break;
    case "status":
      r = await c.cmd(`STATUS ${NAMES[o.name]} (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)`);
      break;
    case "append": {
      const marker = `${TAGS[k.user]}-${++w.n}`;
      const body = message(k.user, marker, w.n);
      const tag = `ap${w.n}`;
      c.send(`${tag} APPEND ${NAMES[o.name]} ${o.flagged ? `(${KEYWORD(k.user)}) ` : ""}{${Buffer.byteLength(body)}+}\r\n${body}\r\n`);
      r = await c.until(tag);
      if (r.status === "NO" && /\[TRYCREATE\]/.test(r.text)) {
        // As clients do: create the mailbox and append again (so most APPENDs land somewhere).
        checkLines(w, k, r, what);
        checkLines(w, k, await c.cmd(`CREATE ${NAMES[o.name]}`), what);
        c.send(`${tag}b APPEND ${NAMES[o.name]} {${Buffer.byteLength(body)}+}\r\n${body}\r\n`);
        r = await c.until(`${tag}b`);
      }
      const au = /\[APPENDUID (\d+) (\d+)\]/.exec(r.text);
      if (r.status === "OK") {
        assert.ok(au, `APPEND OK without APPENDUID: ${r.text}`);
        const uidValidity = Number(au[1]);
        const uid = Number(au[2]);
        w.own(k.user, uidValidity, what);
        w.markers.set(marker, { user: k.user, uidValidity, uid, size: Buffer.byteLength(body) });
        const key = `${k.user}:${uidValidity}`;
        if (!w.appended.has(key)) w.appended.set(key, new Set());
        w.appended.get(key)!.add(uid);
      }
      break;
    }
    case "select": {
      r = await c.cmd(`SELECT ${NAMES[o.name]}`);
      if (r.status === "OK") {
        const v = /\[UIDVALIDITY (\d+)\]/.exec(r.untagged.join("\n"));
        assert.ok(v, `SELECT without UIDVALIDITY: ${r.untagged.join("\n")}`);
        k.selected = Number(v[1]);
        w.own(k.user, k.selected, what);
      } else {
        k.selected = null; // RFC 9051 §6.3.2: a failed SELECT leaves no mailbox selected
      }
      break;
    }
    case "expunge": {
      if (k.selected === null) return;
      const mine = [...w.uids(k.user, k.selected)];
      if (mine.length === 0) return;
      const s = await c.cmd(`UID STORE ${mine[o.pick % mine.length]} +FLAGS.SILENT (\\Deleted)`);
      checkLines(w, k, s, what);
      r = await c.cmd("EXPUNGE");
      break;
    }
    case "fetch": {
      if (k.selected === null) return;
      const s = await c.cmd("FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)");
      checkLines(w, k, s, what);
      r = await c.cmd("UID FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (X-Marker)])");
      break;
    }
    case "search": {
      if (k.selected === null) return;
      const s = await c.cmd(`UID SEARCH BODY owner-${TAGS[1 - k.user]}`);
      checkLines(w, k, s, what);
      assert.ok(s.untagged.includes("* SEARCH") || s.status !== "OK", `SEARCH for the other user's text found: ${s.untagged.join("\n")}`);
      r = await c.cmd("UID SEARCH ALL");
      break;
    }
    case "noop":
      r = await c.cmd("NOOP");
      break;
    case "status-all":
      for (const n of NAMES.slice(1)) checkLines(w, k, await c.cmd(`STATUS ${n} (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)`), what);
      r = await c.cmd(`STATUS ${NAMES[0]} (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)`);
      break;
    case "close":
      r = await c.cmd("CLOSE");
      if (r.status === "OK") k.selected = null;
      break;
  }
  checkLines(w, k, r, what);
}

test("isolation property: no session sees a message, flag, UID or count its own user did not put in that mailbox", { timeout: 600_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 20, maxLength: 60, size: "medium" }), async (steps) => {
      const h = await startHarness({ eagerIndex: true });
      const conns: Conn[] = [];
      try {
        await h.accounts.addUser(SYSTEM, { address: BOB, password: PASSWORD });
        for (let i = 0; i < 4; i++) {
          const c = await RawClient.connect(h.port);
          const user = i < 2 ? 0 : 1;
          await c.login(USERS[user], PASSWORD);
          conns.push({ c, user, selected: null });
        }
        const w = new World();
        for (const s of steps) {
          await Promise.all(s.map((x) => runOp(w, conns[x.conn], x.op)));
          checkStep(w);
          for (const k of conns) assert.ok(!k.c.closed, `${TAGS[k.user]}'s connection dropped`);
        }
        // Quiescent end: every session catches up and reads everything once more.
        for (const k of conns) {
          await runOp(w, k, { kind: "noop" });
          await runOp(w, k, { kind: "fetch" });
          for (let i = 0; i < NAMES.length; i++) await runOp(w, k, { kind: "status", name: i });
          checkStep(w);
        }
      } finally {
        for (const k of conns) k.c.close();
        await h.close();
      }
    }),
    // Shrinking replays whole server sessions: only in a soak run.
    { numRuns: RUNS, seed: SEED, endOnFailure: process.env.FREEHOLD_ISOLATION_RUNS === undefined },
  );
});
