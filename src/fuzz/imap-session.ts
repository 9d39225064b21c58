// IMAP session fuzzers, one per session state (issue 13 §4): command soups valid for the state,
// plus mutations of them, sent through the real IMAP server (src/imap/server.ts with the SQLite
// store, blob files and delivery writer in a temp folder) on loopback, one command at a time:
// not authenticated, authenticated, selected (SELECT, read-write), selected (EXAMINE), during
// IDLE (with deliveries arriving), during an APPEND literal, and after COMPRESS=DEFLATE.
// Properties:
// - every tagged command gets exactly one tagged response, with its tag and OK, NO or BAD, or the
//   session ends with an untagged BYE (a second tagged line, or a tag we did not send, fails);
// - afterwards the same session answers NOOP with OK (unless it said BYE), and LOGOUT gives BYE
//   and OK;
// - the mailbox invariants hold, checked in a fresh session after every run: in INBOX and Fuzz
//   the UIDs are strictly ascending in sequence order, UIDNEXT is above every UID, every MODSEQ
//   is at most HIGHESTMODSEQ, and UIDNEXT and HIGHESTMODSEQ never go down while UIDVALIDITY stays.
import fc from "fast-check";
import net from "node:net";
import zlib from "node:zlib";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { systemClock } from "../clock.ts";
import { silentLogger } from "../log/logger.ts";
import { openSqliteStore } from "../store/sqlite/store.ts";
import { openFileBlobStore } from "../store/blob-files.ts";
import { DeliveryWriter } from "../store/delivery.ts";
import { AccountsService } from "../accounts/service.ts";
import { SYSTEM } from "../accounts/authz.ts";
import { FAST_SCRYPT } from "../accounts/testing.ts";
import { LoginLimiter } from "../login/limiter.ts";
import { startImapServer } from "./../imap/server.ts";
import { createImapWiring } from "../imap/wiring.ts";
import { FUZZ_HOST, mutated } from "./support.ts";
import type { Fixture, Fuzzer } from "./support.ts";

const USER = "fuzz@example.test";
const PASSWORD = "fuzz password";
const LINE_MS = 10_000;

interface ImapEnv {
  port: number;
  deliver(mailbox: string, message: string): Promise<void>;
  /** Per mailbox: UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ seen at the last check. */
  last: Map<string, { validity: string; uidnext: number; hms: number }>;
  close(): Promise<void>;
}

function message(i: number): string {
  return `From: a${i} <a${i}@example.org>\r\nTo: ${USER}\r\nSubject: fuzz ${i}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n` +
    `Message-ID: <f${i}@example.org>\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello ${i}\r\n--b--\r\n`;
}

const imapFixture: Fixture<ImapEnv> = {
  async open() {
    const dir = await mkdtemp(path.join(os.tmpdir(), "freehold-fuzz-imap-"));
    const clock = systemClock;
    const store = openSqliteStore(dir, { clock });
    const blobs = await openFileBlobStore({ dataDir: dir, meta: store.blobs, clock });
    const accounts = new AccountsService({ store, clock, defaultQuotaBytes: 0, scrypt: FAST_SCRYPT });
    await accounts.addDomain(SYSTEM, "example.test");
    const user = await accounts.addUser(SYSTEM, { address: USER, password: PASSWORD });
    // Wrong passwords are part of the soups: a limiter that never locks the fuzzer out.
    const limiter = new LoginLimiter({ clock, perIp: { max: 1e9, windowMs: 1000 }, perPrefix: { max: 1e9, windowMs: 1000 }, perAccount: { max: 1e9, windowMs: 1000 } });
    const wiring = createImapWiring({ store, blobs, accounts, logger: silentLogger(), clock, dataDir: dir, loginSecret: "fuzz secret", limiter });
    const writer = new DeliveryWriter({ store, blobs, onBatch: (r) => wiring.onBatch(r) });
    const server = await startImapServer({ ...wiring.deps(writer, 0), allowPlaintextAuth: true }, { role: "imap", address: FUZZ_HOST, port: 0, tls: "none" });
    const deliver = async (mailbox: string, msg: string) => {
      const mb = await store.mail.getMailbox(user.id, mailbox);
      if (!mb) return;
      const w = blobs.create();
      await w.write(Buffer.from(msg));
      await writer.deliver({ blob: await w.finish(), targets: [{ mailboxId: mb.id, traceHeaders: "" }], queue: [] });
    };
    if (!(await store.mail.getMailbox(user.id, "Fuzz"))) {
      const c = await Imap.connect(server.port);
      await c.command(`LOGIN "${USER}" "${PASSWORD}"`);
      await c.command("CREATE Fuzz");
      await c.command("LOGOUT");
      c.destroy();
    }
    for (let i = 0; i < 6; i++) await deliver(i % 2 ? "Fuzz" : "INBOX", message(i));
    return {
      port: server.port,
      deliver,
      last: new Map(),
      async close() {
        await server.close();
        await writer.drain();
        await wiring.close();
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  close: (env) => env.close(),
};

interface Tagged {
  tag: string;
  status: string;
  text: string;
  untagged: string[];
}

/** A raw IMAP client: lines with response literals inline, continuations, optional DEFLATE. */
class Imap {
  #sock: net.Socket;
  #buf: Buffer = Buffer.alloc(0);
  #lines: string[] = [];
  #closed = false;
  #wake: (() => void) | null = null;
  #deflate: zlib.DeflateRaw | null = null;
  #n = 0;
  sawBye = false;
  readonly log: string[] = [];

  private constructor(sock: net.Socket) {
    this.#sock = sock;
    sock.on("data", (d: Buffer) => this.#bytes(d));
    sock.on("close", () => {
      this.#closed = true;
      this.#kick();
    });
    sock.on("error", () => {});
  }

  static connect(port: number): Promise<Imap> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, FUZZ_HOST);
      sock.once("connect", async () => {
        const c = new Imap(sock);
        const g = await c.line();
        if (!g || !/^\* (OK|PREAUTH)/.test(g)) reject(new Error(`greeting ${g}`));
        resolve(c);
      });
      sock.once("error", reject);
    });
  }

  get closed(): boolean {
    return this.#closed && this.#lines.length === 0;
  }

  #kick(): void {
    this.#wake?.();
  }

  #bytes(d: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, d]) : d;
    for (;;) {
      const i = this.#buf.indexOf("\r\n");
      if (i < 0) break;
      let line = this.#buf.subarray(0, i).toString("latin1");
      let end = i + 2;
      let m = /\{(\d+)\}$/.exec(line);
      let complete = true;
      while (m) {
        const n = Number(m[1]);
        const j = this.#buf.length >= end + n ? this.#buf.indexOf("\r\n", end + n) : -1;
        if (j < 0) {
          complete = false;
          break;
        }
        line += this.#buf.subarray(end, j).toString("latin1");
        end = j + 2;
        m = /\{(\d+)\}$/.exec(line);
      }
      if (!complete) break;
      this.#lines.push(line);
      this.#buf = this.#buf.subarray(end);
    }
    this.#kick();
  }

  /** The next line, or null once the connection closed. */
  async line(): Promise<string | null> {
    const deadline = Date.now() + LINE_MS;
    while (this.#lines.length === 0) {
      if (this.#closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no response line within ${LINE_MS} ms\n${this.log.slice(-30).join("\n")}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.#wake = () => {
          clearTimeout(t);
          this.#wake = null;
          r();
        };
      });
    }
    const l = this.#lines.shift()!;
    this.log.push(`S: ${l.slice(0, 300)}`);
    if (/^\* BYE( |$)/i.test(l)) this.sawBye = true;
    return l;
  }

  send(data: string): void {
    this.log.push(`C: ${JSON.stringify(data.slice(0, 300))}`);
    if (this.#closed) return;
    const b = Buffer.from(data, "latin1");
    if (this.#deflate) {
      this.#deflate.write(b);
      this.#deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    } else this.#sock.write(b);
  }

  /** RFC 4978: from now on both directions are raw DEFLATE. */
  startCompression(): void {
    const inflate = zlib.createInflateRaw();
    this.#sock.removeAllListeners("data");
    this.#sock.removeAllListeners("close");
    this.#sock.on("data", (d: Buffer) => inflate.write(d));
    // The socket's close comes before inflate has given us the last bytes, and the server need
    // not end its DEFLATE stream (no final block): flush what came, then count as closed.
    const closed = () => {
      this.#closed = true;
      this.#kick();
    };
    this.#sock.on("close", () => inflate.flush(zlib.constants.Z_SYNC_FLUSH, () => setImmediate(closed)));
    inflate.on("data", (d: Buffer) => this.#bytes(d));
    inflate.on("error", () => {
      setImmediate(closed);
      this.#sock.destroy();
    });
    const deflate = zlib.createDeflateRaw();
    deflate.on("data", (d: Buffer) => {
      if (!this.#sock.destroyed) this.#sock.write(d);
    });
    this.#deflate = deflate;
  }

  nextTag(): string {
    return `f${++this.#n}`;
  }

  /**
   * Sends one command (parts: text, then after each a synchronizing literal's octets) and reads
   * to its tagged response. A continuation request we did not ask for (AUTHENTICATE) gets "*".
   * Returns null when the connection closed first.
   */
  async command(line: string, literals: string[] = [], tag = this.nextTag()): Promise<Tagged | null> {
    const parts = splitLiterals(line, literals);
    this.send(`${tag} ${parts[0]}`);
    return this.until(tag, parts.slice(1));
  }

  /** Reads to the tagged response for `tag`, sending `rest` (literal octets) on continuation requests. */
  async until(tag: string, rest: string[] = []): Promise<Tagged | null> {
    const parts = ["", ...rest];
    let k = 1;
    const untagged: string[] = [];
    for (;;) {
      const l = await this.line();
      if (l === null) return null;
      if (l.startsWith("+")) {
        this.send(k < parts.length ? parts[k++] : "*\r\n");
        continue;
      }
      if (l.startsWith("* ")) {
        untagged.push(l);
        continue;
      }
      const m = /^(\S+) (\S+)(?: (.*))?$/.exec(l);
      if (!m) throw new Error(`malformed response line ${JSON.stringify(l)}\n${this.log.slice(-30).join("\n")}`);
      if (m[1] !== tag) throw new Error(`tagged response for ${m[1]} while waiting for ${tag}\n${this.log.slice(-30).join("\n")}`);
      if (!["OK", "NO", "BAD"].includes(m[2])) throw new Error(`tagged status ${m[2]}\n${this.log.slice(-30).join("\n")}`);
      // Literal+ parts the server did not ask for are sent with the first part; nothing left over.
      return { tag, status: m[2], text: m[3] ?? "", untagged };
    }
  }

  destroy(): void {
    this.#sock.destroy();
  }
}

/**
 * Splits a command at its synchronizing literals: "X {3}" + ["abc"] → ["X {3}\r\n", "abc\r\n"].
 * A literal marker in the line (also one from a mutation) gets its octets: the given text, or "x"s.
 * Non-synchronizing literals ({n+}) travel with the preceding part.
 */
function splitLiterals(line: string, literals: string[]): string[] {
  const out: string[] = [];
  let cur = "";
  let li = 0;
  const re = /\{(\d{1,5})(\+?)\}/g;
  let last = 0;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    // Inside a quoted string "{5}" is text, not a literal (the server reads it that way too).
    if (insideQuotes(line.slice(0, m.index))) continue;
    const n = Number(m[1]);
    const body = li < literals.length && Buffer.byteLength(literals[li], "latin1") === n ? literals[li++] : "x".repeat(n);
    cur += line.slice(last, m.index + m[0].length) + "\r\n";
    last = m.index + m[0].length;
    if (m[2] === "+") cur += body;
    else {
      out.push(cur);
      cur = body;
    }
  }
  cur += line.slice(last) + "\r\n";
  out.push(cur);
  return out;
}

/** Whether a quoted string is open at the end of `s` (RFC 9051 §4.3: quoted-specials are escaped). */
function insideQuotes(s: string): boolean {
  let open = false;
  for (let i = 0; i < s.length; i++) {
    if (open && s[i] === "\\") i++;
    else if (s[i] === '"') open = !open;
  }
  return open;
}

type State = "notauth" | "auth" | "selected" | "examine" | "idle" | "append" | "compress";

const TOKENS = [" ", "(", ")", "[", "]", "{", "}", "{0}", "{5}", "{3+}", "\"", "\\", "*", "%", "1:*", "*:1", "0", "4294967295", "4294967296",
  ",", ":", "<0.10>", "BODY[]", "BODY.PEEK[HEADER]", "UID", "FLAGS", "\\Seen", "\\Deleted", "$Junk", "NIL", "INBOX", "Fuzz", "é", "&AOk-",
  "\x00", "\t", "CHARSET", "UTF-8", "OR", "NOT", "MODSEQ", "CHANGEDSINCE 1", "UNCHANGEDSINCE 1", "a".repeat(300), "~{3}"];

const ANY_STATE = ["CAPABILITY", "NOOP", "ID NIL", "ID (\"name\" \"fuzz\")", "XUNKNOWN", "CHECK"];
const NOTAUTH = [...ANY_STATE, "LOGOUT", `LOGIN ${USER} "wrong"`, `LOGIN "${USER}" "${PASSWORD}"`, "LOGIN", "AUTHENTICATE PLAIN", `AUTHENTICATE PLAIN ${Buffer.from(`\0${USER}\0wrong`).toString("base64")}`,
  "AUTHENTICATE PLAIN =", "AUTHENTICATE XOAUTH2 x", "STARTTLS", "ENABLE UTF8=ACCEPT", "SELECT INBOX", "LOGIN {9}\r\nfuzz@exam {3}\r\nabc"];
const AUTHD = [...ANY_STATE, "LIST \"\" *", "LIST \"\" %", "LSUB \"\" *", "LIST (SUBSCRIBED) \"\" *", "LIST \"\" * RETURN (STATUS (MESSAGES UIDNEXT))", "NAMESPACE",
  "STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ SIZE)", "STATUS Fuzz (MESSAGES)", "CREATE Fuzz/sub", "CREATE \"x y\"", "DELETE Fuzz/sub",
  "RENAME \"x y\" \"x z\"", "DELETE \"x z\"", "SUBSCRIBE Fuzz", "UNSUBSCRIBE Fuzz", "ENABLE CONDSTORE", "ENABLE UTF8=ACCEPT QRESYNC", "GETQUOTAROOT INBOX", "GETQUOTA \"\"",
  "EXAMINE Fuzz", "SELECT INBOX", "UNSELECT", "CLOSE", "FETCH 1 FLAGS", "APPEND Fuzz {5+}\r\nhello", "CREATE INBOX", "DELETE INBOX", "RENAME INBOX Fuzz/old"];
const SELECTED = [...AUTHD.filter((c) => !/^(SELECT|EXAMINE|CLOSE|UNSELECT|DELETE INBOX|RENAME INBOX)/.test(c)),
  "FETCH 1:* (FLAGS UID MODSEQ)", "FETCH 1 (BODY.PEEK[] BODYSTRUCTURE ENVELOPE)", "FETCH 1:* BODY[1]", "FETCH * (BODY.PEEK[HEADER.FIELDS (SUBJECT)]<0.5>)", "FETCH 1 BINARY[1]",
  "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1)", "STORE 1 +FLAGS (\\Seen)", "STORE 1:* -FLAGS.SILENT (\\Seen)", "UID STORE 1:* +FLAGS ($Fuzz)", "STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\\Flagged)",
  "STORE 2 +FLAGS (\\Deleted)", "EXPUNGE", "UID EXPUNGE 1:3", "SEARCH ALL", "SEARCH OR SEEN UNSEEN", "SEARCH TEXT hello", "UID SEARCH CHARSET UTF-8 SUBJECT fuzz", "SEARCH MODSEQ 1",
  "SEARCH 1:* NOT DELETED SINCE 1-Jan-2020", "SORT (DATE) UTF-8 ALL", "COPY 1 Fuzz", "UID COPY 1:* Fuzz", "MOVE 1 Fuzz", "UID MOVE 2 INBOX", "COPY 1 Nonexistent",
  "CLOSE", "UNSELECT", "SELECT INBOX", "EXAMINE INBOX", "SELECT Fuzz (CONDSTORE)"];

const soup = (cmds: string[]) => fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...cmds) }, { weight: 2, arbitrary: mutated(fc.constantFrom(...cmds), TOKENS) });


/** Commands for the fuzzed states; compressed sessions get the authenticated soup. */
const SOUPS: Record<Exclude<State, "idle" | "append">, fc.Arbitrary<string>> = {
  notauth: soup(NOTAUTH),
  auth: soup(AUTHD),
  selected: soup(SELECTED),
  examine: soup(SELECTED),
  compress: soup([...AUTHD, "COMPRESS DEFLATE"]),
};

/** A command line with literals written inline ("X {3}\r\nabc"): the line and the literal texts. */
function inline(cmd: string): [string, string[]] {
  const lits: string[] = [];
  let line = "";
  let rest = cmd;
  for (;;) {
    const m = /\{(\d{1,5})\+?\}\r\n/.exec(rest);
    if (!m) break;
    const n = Number(m[1]);
    const start = m.index + m[0].length;
    lits.push(rest.slice(start, start + n));
    line += rest.slice(0, m.index + m[0].length - 2).replace(/[\r\n]/g, " ");
    rest = rest.slice(start + n);
  }
  return [line + rest.replace(/[\r\n]/g, " "), lits];
}

async function run(c: Imap, cmd: string): Promise<Tagged | null> {
  const [line, lits] = inline(cmd);
  const r = await c.command(line, lits);
  if (r === null && !c.sawBye) throw new Error(`connection closed without BYE after ${JSON.stringify(cmd)}\n${c.log.slice(-30).join("\n")}`);
  return r;
}

async function setup(c: Imap, state: State): Promise<void> {
  const steps: string[] = [];
  if (state !== "notauth") steps.push(`LOGIN "${USER}" "${PASSWORD}"`);
  if (state === "selected" || state === "idle" || state === "append") steps.push("SELECT INBOX");
  if (state === "examine") steps.push("EXAMINE INBOX");
  for (const s of steps) {
    const r = await c.command(s);
    if (!r || r.status !== "OK") throw new Error(`setup ${s}: ${JSON.stringify(r)}`);
  }
  if (state === "compress") {
    const r = await c.command("COMPRESS DEFLATE");
    if (!r || r.status !== "OK") throw new Error(`COMPRESS: ${JSON.stringify(r)}`);
    c.startCompression();
  }
}

/** After the batch: NOOP answers OK unless the session said BYE; LOGOUT gives BYE then OK. */
async function finish(c: Imap): Promise<void> {
  if (c.sawBye) return;
  const n = await c.command("NOOP");
  if (!n || n.status !== "OK") throw new Error(`NOOP after the batch: ${JSON.stringify(n)}\n${c.log.slice(-30).join("\n")}`);
  const l = await c.command("LOGOUT");
  if (!l || l.status !== "OK" || !c.sawBye) throw new Error(`LOGOUT after the batch: ${JSON.stringify(l)}\n${c.log.slice(-30).join("\n")}`);
  const extra = await c.line();
  if (extra !== null) throw new Error(`a line after LOGOUT: ${extra}`);
}

/** The mailbox invariants, from a fresh session. */
async function checkInvariants(env: ImapEnv): Promise<void> {
  const c = await Imap.connect(env.port);
  try {
    const lg = await c.command(`LOGIN "${USER}" "${PASSWORD}"`);
    if (!lg || lg.status !== "OK") throw new Error(`fresh LOGIN: ${JSON.stringify(lg)}`);
    for (const mb of ["INBOX", "Fuzz"]) {
      const sel = await c.command(`SELECT ${mb} (CONDSTORE)`);
      if (!sel) throw new Error("fresh session closed");
      if (sel.status !== "OK") continue; // Fuzz may have been renamed or deleted by a soup
      const text = sel.untagged.join("\n");
      const validity = /UIDVALIDITY (\d+)/.exec(text)?.[1] ?? "";
      const uidnext = Number(/UIDNEXT (\d+)/.exec(text)?.[1]);
      const hmsM = /HIGHESTMODSEQ (\d+)/.exec(text);
      const hms = hmsM ? Number(hmsM[1]) : NaN;
      if (!(uidnext > 0)) throw new Error(`${mb}: no UIDNEXT in ${text}`);
      const f = await c.command("FETCH 1:* (UID MODSEQ)");
      if (!f) throw new Error("fresh session closed at FETCH");
      let prev = 0;
      let seq = 0;
      for (const l of f.untagged) {
        const m = /^\* (\d+) FETCH \((.*)\)$/.exec(l);
        if (!m) continue;
        if (Number(m[1]) !== ++seq) throw new Error(`${mb}: FETCH sequence ${m[1]}, expected ${seq}`);
        const uid = Number(/UID (\d+)/.exec(m[2])?.[1]);
        const ms = Number(/MODSEQ \((\d+)\)/.exec(m[2])?.[1]);
        if (!(uid > prev)) throw new Error(`${mb}: UIDs not strictly ascending: ${uid} after ${prev}`);
        if (!(uid < uidnext)) throw new Error(`${mb}: UID ${uid} not below UIDNEXT ${uidnext}`);
        if (!Number.isNaN(hms) && !(ms <= hms)) throw new Error(`${mb}: MODSEQ ${ms} above HIGHESTMODSEQ ${hms}`);
        prev = uid;
      }
      const before = env.last.get(mb);
      if (before && before.validity === validity) {
        if (uidnext < before.uidnext) throw new Error(`${mb}: UIDNEXT went down ${before.uidnext} → ${uidnext}`);
        if (hms < before.hms) throw new Error(`${mb}: HIGHESTMODSEQ went down ${before.hms} → ${hms}`);
      }
      env.last.set(mb, { validity, uidnext, hms });
    }
    await c.command("LOGOUT");
  } finally {
    c.destroy();
  }
}

const appendCase = fc.record({
  mailbox: fc.constantFrom("INBOX", "Fuzz", "Nonexistent", "\"x y\""),
  flags: fc.constantFrom("", " (\\Seen)", " (\\Seen $Fuzz)", " (\\Recent)", " (", " (\\Bogus)"),
  date: fc.constantFrom("", " \"23-Nov-2026 10:00:00 +0000\"", " \"bad date\"", " \"31-Feb-2026 25:61:00 +9999\""),
  body: fc.oneof(
    fc.constantFrom(message(100), "", "x", "From: a\r\n\r\n", "\r\n.\r\n", "Subject: \x00\r\n\r\nnul"),
    mutated(fc.constant(message(101)), ["\r\n", "\n", "\x00", "--b", "\r\n\r\n", "é", "Content-Type: multipart/mixed; boundary=c\r\n"]),
  ),
  tail: fc.constantFrom("", " ", " x", " {3}", " (\\Seen) {2}", ")", " UTF8 (~{3}"),
  sync: fc.boolean(),
});

function stateFuzzer(state: State): Fuzzer<ImapEnv> {
  const batch =
    state === "idle"
      ? fc.array(fc.tuple(fc.oneof(fc.constantFrom("DONE", "done", "Done", ""), mutated(fc.constant("DONE"), TOKENS), fc.string({ maxLength: 20 })), fc.boolean()), { minLength: 1, maxLength: 3 })
      : state === "append"
        ? fc.array(appendCase, { minLength: 1, maxLength: 3 })
        : fc.array(SOUPS[state], { minLength: 1, maxLength: 8 });
  return {
    name: `imap session: ${state === "examine" ? "selected (EXAMINE)" : state === "selected" ? "selected (SELECT)" : state === "notauth" ? "not authenticated" : state === "auth" ? "authenticated" : state === "idle" ? "IDLE" : state === "append" ? "APPEND literal" : "after COMPRESS"}`,
    ciRuns: 40,
    fixture: imapFixture,
    property: (_seeds, env) =>
      fc.asyncProperty(batch as fc.Arbitrary<unknown[]>, async (items) => {
        const c = await Imap.connect(env.port);
        try {
          await setup(c, state);
          for (const item of items) {
            if (c.sawBye) break;
            if (state === "idle") {
              const [doneLine, deliver] = item as [string, boolean];
              const done = doneLine.replace(/[\r\n]/g, "");
              const tag = c.nextTag();
              c.send(`${tag} IDLE\r\n`);
              const cont = await c.line();
              if (cont === null || !cont.startsWith("+")) throw new Error(`IDLE: ${cont}\n${c.log.join("\n")}`);
              if (deliver) await env.deliver("INBOX", message(200));
              // RFC 2177: only DONE ends IDLE with OK; anything else is BAD (and ends it too).
              c.send(done + "\r\n");
              const r = await c.until(tag);
              if (r === null && !c.sawBye) throw new Error(`closed without BYE in IDLE\n${c.log.join("\n")}`);
              if (r && (r.status === "OK") !== (done.toUpperCase() === "DONE")) throw new Error(`IDLE ended ${r.status} on ${JSON.stringify(done)}\n${c.log.join("\n")}`);
              continue;
            }
            if (state === "append") {
              const a = item as { mailbox: string; flags: string; date: string; body: string; tail: string; sync: boolean };
              const n = Buffer.byteLength(a.body, "latin1");
              await run(c, `APPEND ${a.mailbox}${a.flags}${a.date} {${n}${a.sync ? "" : "+"}}\r\n${a.body}${a.tail}`);
              continue;
            }
            const cmd = item as string;
            const r = await run(c, cmd);
            if (r && state === "compress" && /^COMPRESS DEFLATE$/i.test(cmd) && r.status === "OK") throw new Error("a second COMPRESS was accepted");
          }
          await finish(c);
        } finally {
          c.destroy();
        }
        await checkInvariants(env);
      }),
  };
}

export const IMAP_SESSION_FUZZERS: Fuzzer[] = (["notauth", "auth", "selected", "examine", "idle", "append", "compress"] as State[]).map(stateFuzzer);
