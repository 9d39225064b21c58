// SMTP session fuzzers, one per command (issue 13 §4): fuzzed instances of one command, valid and
// mutated, sent through the real session core (SmtpServer on loopback with an in-memory handler
// and the submission AUTH extension) in each session state: before EHLO, after EHLO, after MAIL,
// after RCPT. The client sends one command at a time and reads one reply; it keeps its own model
// of the session state from the replies. Properties:
// - exactly one reply per command: every command gets a reply (no reply within the deadline
//   fails), and after the batch NOOP gets 250 and QUIT gets 221 followed by the close — an extra
//   reply anywhere would shift the count and show up there;
// - every reply line is syntactically valid (RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39,
//   then SP or "-" and text, the same code on every line of a multiline reply);
// - a command that is syntactically invalid (listed per command below) never gets 2xx or 3xx;
// - the state machine never accepts MAIL outside "after EHLO", RCPT without MAIL, nor DATA or
//   BDAT without an accepted RCPT (RFC 5321 §3.3, §4.1.4), nor AUTH during a transaction;
// - the session ends only with QUIT's 221 or a 421 (too many errors), never silently.
import fc from "fast-check";
import net from "node:net";
import tls from "node:tls";
import { SmtpServer, smtpTlsContext } from "../smtp/server.ts";
import type { EndInfo, Envelope, MessageSink, SessionInfo, SmtpHandler } from "../smtp/types.ts";
import type { Mailbox } from "../smtp/address.ts";
import { SmtpError } from "../smtp/errors.ts";
import { ok } from "../smtp/reply.ts";
import { silentLogger } from "../log/logger.ts";
import { systemClock } from "../clock.ts";
import { authExtension } from "../submission/auth.ts";
import type { UserRecord } from "../store/types.ts";
import { createSelfSigned } from "../tls/selfsigned.ts";
import { FUZZ_HOST, mutated } from "./support.ts";
import type { Fixture, Fuzzer } from "./support.ts";

const USER = "fuzz@freehold.test";
const PASSWORD = "fuzz password";
const REPLY_MS = 10_000;

/** Accepts mail for freehold.test (bob, alice, postmaster), drops the bytes. */
class FuzzHandler implements SmtpHandler {
  delivered = 0;
  async mailFrom(): Promise<void> {}
  async rcptTo(_s: SessionInfo, to: Mailbox, _p: unknown, info: { postmaster: boolean }): Promise<unknown> {
    if (info.postmaster) return "postmaster";
    if (to.domain.toLowerCase() !== "freehold.test") throw new SmtpError("relayDenied");
    if (!["bob", "alice", "postmaster"].includes(to.localPart.toLowerCase())) throw new SmtpError("unknownUser");
    return to.localPart;
  }
  async data(_s: SessionInfo, _e: Envelope): Promise<MessageSink> {
    const h = this;
    return {
      async write() {},
      async end(_info: EndInfo) {
        h.delivered++;
        return ok("2.0.0", `Ok: queued as f${h.delivered}`);
      },
      async abort() {},
    };
  }
}

interface SmtpEnv {
  server: SmtpServer;
  /** mx: plaintext with STARTTLS. */
  mx: number;
  /** submission: implicit TLS with AUTH PLAIN/LOGIN. */
  sub: number;
}

const smtpFixture: Fixture<SmtpEnv> = {
  async open() {
    const pem = await createSelfSigned({ hostname: "mx.freehold.test", clock: systemClock });
    const context = smtpTlsContext(pem);
    const server = new SmtpServer({ hostname: "mx.freehold.test", handler: new FuzzHandler(), logger: silentLogger(), clock: systemClock, maxConnectionsPerClient: 1000 });
    const user = { id: 1, address: USER } as unknown as UserRecord;
    const auth = authExtension({
      logger: silentLogger(),
      authenticate: async (u, p) => (u === USER && p === PASSWORD ? { ok: true, user, cached: false } : { ok: false, reason: "failed" }) as never,
    });
    const mx = await server.listen({ role: "mx", host: FUZZ_HOST, port: 0, tls: { mode: "starttls", context } });
    const sub = await server.listen({ role: "submissions", host: FUZZ_HOST, port: 0, tls: { mode: "implicit", context }, extensions: [auth] });
    return { server, mx: mx.port, sub: sub.port };
  },
  async close(env) {
    await env.server.shutdown(2000);
  },
};

/** A client that reads whole replies and checks their syntax. */
class Wire {
  #sock: net.Socket;
  #buf = "";
  #closed = false;
  #wake: (() => void) | null = null;
  readonly log: string[] = [];

  constructor(sock: net.Socket) {
    this.#sock = sock;
    this.#attach(sock);
  }

  #attach(s: net.Socket): void {
    s.on("data", (d: Buffer) => {
      this.#buf += d.toString("latin1");
      this.#wake?.();
    });
    s.on("close", () => {
      this.#closed = true;
      this.#wake?.();
    });
    s.on("error", () => {});
  }

  static connect(port: number, implicitTls: boolean): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const sock = implicitTls ? tls.connect({ host: FUZZ_HOST, port, rejectUnauthorized: false }) : net.connect(port, FUZZ_HOST);
      sock.once(implicitTls ? "secureConnect" : "connect", () => resolve(new Wire(sock)));
      sock.once("error", reject);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whatever arrived beyond the replies read so far. */
  get leftover(): string {
    return this.#buf;
  }

  send(s: string): void {
    this.log.push(`C: ${JSON.stringify(s.slice(0, 200))}`);
    if (!this.#closed) this.#sock.write(Buffer.from(s, "latin1"));
  }

  /** The next whole reply; null when the connection closed before one arrived. */
  async reply(): Promise<{ code: number; lines: string[] } | null> {
    const deadline = Date.now() + REPLY_MS;
    const lines: string[] = [];
    for (;;) {
      const i = this.#buf.indexOf("\r\n");
      if (i >= 0) {
        const line = this.#buf.slice(0, i);
        this.#buf = this.#buf.slice(i + 2);
        // RFC 5321 §4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF
        if (!/^[2-5][0-5][0-9]([- ]|$)/.test(line)) throw new Error(`malformed reply line ${JSON.stringify(line)}\n${this.log.join("\n")}`);
        if (lines.length > 0 && line.slice(0, 3) !== lines[0].slice(0, 3)) throw new Error(`reply code changes inside a multiline reply: ${JSON.stringify([...lines, line])}`);
        lines.push(line);
        if (line[3] !== "-") {
          this.log.push(`S: ${lines.join(" | ").slice(0, 300)}`);
          return { code: Number(line.slice(0, 3)), lines };
        }
        continue;
      }
      if (this.#closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${REPLY_MS} ms\n${this.log.join("\n")}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.#wake = () => {
          clearTimeout(t);
          this.#wake = null;
          r();
        };
      });
    }
  }

  /** STARTTLS accepted: continue over TLS on the same socket. */
  async upgrade(): Promise<void> {
    const sock = this.#sock;
    sock.removeAllListeners("data");
    sock.removeAllListeners("close");
    const t = tls.connect({ socket: sock, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      t.once("secureConnect", () => resolve());
      t.once("error", reject);
    });
    this.#sock = t;
    this.#attach(t);
  }

  destroy(): void {
    this.#sock.destroy();
  }
}

type State = "start" | "ready" | "mail" | "rcpt";

/** One fuzzed command: the line (no CRLF), what follows it on the wire, and the syntax oracle. */
interface Cmd {
  line: string;
  /** Whether the line is syntactically invalid for sure (then 2xx/3xx is a failure). */
  invalid: boolean;
  /** BDAT: the chunk octets sent right after the line. */
  chunk?: string;
  /** DATA: the content sent after a 354, dot-stuffed, without the final ".". */
  body?: string;
  /** AUTH: the responses to 334 challenges, in order. */
  responses?: string[];
}

const TOKENS = ["<", ">", "@", ".", ":", ",", "%", "!", '"', "\\", " ", "\t", "\x00", "[", "]", "IPv6:", "::1", "127.0.0.1", "=", "+",
  "SIZE=", "BODY=8BITMIME", "BODY=BINARYMIME", "SMTPUTF8", "RET=HDRS", "ENVID=", "NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;", "AUTH=<>",
  "+2B", "x", "é", "\xff", "bob@freehold.test", "postmaster", "LAST", "99999999999999999999", "a".repeat(600), "FROM:", "TO:"];

const domain = fc.constantFrom("c.example", "[127.0.0.1]", "[IPv6:::1]", "xn--bcher-kva.example", "a.b.c.d.example", "é.example");
const sender = fc.constantFrom("<a@s.example>", "<>", "<\"q u\"@s.example>", "<@r.example:a@s.example>", "<é@s.example>");
const rcptTo = fc.constantFrom("<bob@freehold.test>", "<alice@freehold.test>", "<Postmaster>", "<postmaster@freehold.test>", "<nobody@freehold.test>", "<x@elsewhere.example>", "<bob%elsewhere.example@freehold.test>");
const mailParam = fc.constantFrom("SIZE=1000", "BODY=8BITMIME", "BODY=7BIT", "BODY=BINARYMIME", "SMTPUTF8", "RET=FULL", "RET=HDRS", "ENVID=a+2Bb", "AUTH=<>", "AUTH=a+40b");
const rcptParam = fc.constantFrom("NOTIFY=NEVER", "NOTIFY=SUCCESS,FAILURE,DELAY", "ORCPT=rfc822;bob@freehold.test", "ORCPT=utf-8;b\\x{E9}b@freehold.test");
const b64 = fc.oneof(fc.base64String({ maxLength: 80 }), fc.string({ maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, "")), fc.constantFrom("*", "=", "", "!!!!", "AGZ1enpAZnJlZWhvbGQudGVzdABmdXp6IHBhc3N3b3Jk"));
const plainCreds = fc.constantFrom(
  Buffer.from(`\0${USER}\0${PASSWORD}`).toString("base64"),
  Buffer.from(`\0${USER}\0wrong`).toString("base64"),
  Buffer.from(`other\0${USER}\0${PASSWORD}`).toString("base64"),
  Buffer.from(`${USER}\0${PASSWORD}`).toString("base64"),
);
const bodyText = fc
  .array(fc.constantFrom("Subject: x\r\n", "\r\n", "body line\r\n", ".\r\n", "..\r\n", ". \r\n", "\n", "\r", "\x00", "é", "a".repeat(1200), "From: <a@s.example>\r\n", "\r\n.\r\n"), { maxLength: 12 })
  .map((t) => {
    // Dot-stuff every line start (after CR or LF too), so nothing ends the content before our "\r\n.\r\n".
    const s = t.join("").replace(/(^|[\r\n])\./g, "$1..");
    return s.endsWith("\r\n") || s === "" ? s : s + "\r\n";
  });

/** A fuzzed command line: valid ones, mutations of valid ones (no CR/LF: one line, one command). */
function line(valid: fc.Arbitrary<string>): fc.Arbitrary<Cmd> {
  return fc.oneof(
    { weight: 2, arbitrary: valid.map((l) => ({ line: l, invalid: false })) },
    { weight: 3, arbitrary: mutated(valid, TOKENS).map((l) => ({ line: l.replace(/[\r\n]/g, ""), invalid: false })) },
  );
}

function withInvalid(valid: fc.Arbitrary<Cmd>, invalid: string[]): fc.Arbitrary<Cmd> {
  return fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: fc.constantFrom(...invalid).map((l) => ({ line: l, invalid: true })) });
}

const COMMANDS: Record<string, { arb: fc.Arbitrary<Cmd>; submission?: boolean }> = {
  "EHLO/HELO": {
    arb: withInvalid(line(fc.tuple(fc.constantFrom("EHLO", "HELO", "ehlo", "Helo"), domain).map(([v, d]) => `${v} ${d}`)), ["EHLO", "HELO", "EHLO ", "HELO  "]),
  },
  MAIL: {
    arb: withInvalid(
      line(fc.tuple(sender, fc.array(mailParam, { maxLength: 3 })).map(([s, p]) => ["MAIL FROM:" + s, ...p].join(" "))),
      ["MAIL", "MAIL FROM", "MAIL FROM:", "MAIL TO:<a@s.example>", "MAIL FROM:<a@s.example", "MAIL FROM:a@s.example>", "MAIL FROM:<a@s.example> SIZE=abc", "MAIL FROM:<a@s.example> BODY=9BIT", "MAIL FROM:<a@s.example> RET=NONE", "MAIL FROM:<a@@s.example>"],
    ),
  },
  "MAIL (submission)": {
    submission: true,
    arb: withInvalid(
      line(fc.tuple(sender, fc.array(mailParam, { maxLength: 3 })).map(([s, p]) => ["MAIL FROM:" + s, ...p].join(" "))),
      ["MAIL", "MAIL FROM:", "MAIL FROM:<a@s.example", "MAIL FROM:<a@s.example> SIZE=-1"],
    ),
  },
  RCPT: {
    arb: withInvalid(
      line(fc.tuple(rcptTo, fc.array(rcptParam, { maxLength: 2 })).map(([r, p]) => ["RCPT TO:" + r, ...p].join(" "))),
      ["RCPT", "RCPT TO", "RCPT TO:", "RCPT TO:<>", "RCPT FROM:<bob@freehold.test>", "RCPT TO:<bob@freehold.test", "RCPT TO:<bob@freehold.test> NOTIFY=BOGUS", "RCPT TO:<bob@freehold.test> NOTIFY=NEVER,SUCCESS"],
    ),
  },
  DATA: {
    arb: withInvalid(
      fc.tuple(fc.constantFrom("DATA", "data", "DaTa"), bodyText).map(([l, body]) => ({ line: l, invalid: false, body })),
      ["DATA x", "DATA FROM:<a@s.example>"],
    ),
  },
  BDAT: {
    arb: withInvalid(
      fc.tuple(fc.string({ maxLength: 60, unit: "binary-ascii" }), fc.boolean(), fc.constantFrom("BDAT", "bdat")).map(([chunk, last, v]) => ({
        line: `${v} ${Buffer.byteLength(chunk, "latin1")}${last ? " LAST" : ""}`,
        invalid: false,
        chunk,
      })),
      ["BDAT", "BDAT x", "BDAT -1", "BDAT 1 FIRST", "BDAT 1.5", "BDAT LAST"],
    ),
  },
  RSET: { arb: withInvalid(line(fc.constantFrom("RSET", "rset")), ["RSET x", "RSET FROM:<a@s.example>"]) },
  VRFY: { arb: withInvalid(line(fc.constantFrom("VRFY bob", "VRFY <bob@freehold.test>", "VRFY nobody", "VRFY \"Bob\" <bob@freehold.test>")), ["VRFY", "VRFY "]) },
  EXPN: { arb: withInvalid(line(fc.constantFrom("EXPN staff", "EXPN <list@freehold.test>")), ["EXPN", "EXPN "]) },
  NOOP: { arb: line(fc.constantFrom("NOOP", "noop", "NOOP anything at all")) },
  HELP: { arb: line(fc.constantFrom("HELP", "HELP MAIL", "HELP nothing")) },
  QUIT: { arb: withInvalid(line(fc.constantFrom("QUIT", "quit")), ["QUIT now", "QUIT x"]) },
  STARTTLS: { arb: withInvalid(line(fc.constantFrom("STARTTLS", "starttls")), ["STARTTLS x", "STARTTLS TLS1.3"]) },
  "AUTH PLAIN/LOGIN": {
    submission: true,
    arb: withInvalid(
      fc.oneof(
        fc.tuple(fc.constantFrom("PLAIN", "plain"), fc.oneof(plainCreds, b64)).map(([m, ir]) => ({ line: `AUTH ${m} ${ir}`, invalid: false })),
        fc.tuple(fc.constantFrom("PLAIN", "LOGIN"), fc.array(fc.oneof(plainCreds, b64), { minLength: 2, maxLength: 2 })).map(([m, r]) => ({ line: `AUTH ${m}`, invalid: false, responses: r })),
        fc.tuple(fc.constant("LOGIN"), b64, b64).map(([m, u, p]) => ({ line: `AUTH ${m} ${u}`, invalid: false, responses: [p] })),
        mutated(fc.constantFrom("AUTH PLAIN AGZ1enpAZnJlZWhvbGQudGVzdABmdXp6IHBhc3N3b3Jk", "AUTH LOGIN Zm9v", "AUTH CRAM-MD5"), TOKENS).map((l) => ({ line: l.replace(/[\r\n]/g, ""), invalid: false, responses: ["*", "*"] })),
      ),
      ["AUTH", "AUTH ", "AUTH PLAIN a b", "AUTH PLAIN !!!!", "AUTH LOGIN %%%"],
    ),
  },
};

interface Model {
  state: State;
  rcpts: number;
  authed: boolean;
  /** The server said 421 or 221: it closes now. */
  closing: boolean;
}

/** Setup for each session state (submission authenticates first). */
async function setup(w: Wire, state: State, submission: boolean, m: Model): Promise<void> {
  const steps: string[] = [];
  if (state !== "start") steps.push("EHLO setup.example");
  if (submission && state !== "start") steps.push("AUTH PLAIN " + Buffer.from(`\0${USER}\0${PASSWORD}`).toString("base64"));
  if (state === "mail" || state === "rcpt") steps.push("MAIL FROM:<a@s.example>");
  if (state === "rcpt") steps.push("RCPT TO:<bob@freehold.test>");
  for (const s of steps) {
    w.send(s + "\r\n");
    const r = await w.reply();
    if (!r || r.code >= 400) throw new Error(`setup ${s} failed: ${JSON.stringify(r)}\n${w.log.join("\n")}`);
  }
  if (submission && state !== "start") m.authed = true;
  m.state = state;
  m.rcpts = state === "rcpt" ? 1 : 0;
}

function fail(w: Wire, msg: string): never {
  throw new Error(`${msg}\n${w.log.join("\n")}`);
}

/** Sends one command and checks its reply against the model; returns false once the session closes. */
async function exchange(w: Wire, c: Cmd, m: Model): Promise<boolean> {
  const verb = (/^\S*/.exec(c.line)![0] ?? "").toUpperCase();
  w.send(c.line + "\r\n" + (c.chunk !== undefined && !c.invalid && /^BDAT \d+( LAST)?$/i.test(c.line) ? c.chunk : ""));
  let r = await w.reply();
  if (!r) fail(w, `connection closed without a reply to ${JSON.stringify(c.line)}`);
  if (c.invalid && r.code < 400) fail(w, `syntactically invalid ${JSON.stringify(c.line)} got ${r.code}`);
  if (r.code === 421) {
    m.closing = true;
    return false;
  }
  const accepted = r.code >= 200 && r.code < 400;
  const before = m.state;
  switch (verb) {
    case "EHLO":
    case "HELO":
      if (r.code === 250) ((m.state = "ready"), (m.rcpts = 0));
      break;
    case "MAIL":
      if (accepted && before !== "ready") fail(w, `MAIL accepted in state ${before}`);
      if (r.code === 250) m.state = "mail";
      break;
    case "RCPT":
      if (accepted && before !== "mail" && before !== "rcpt") fail(w, `RCPT accepted in state ${before}`);
      if (r.code === 250 || r.code === 251) ((m.state = "rcpt"), m.rcpts++);
      break;
    case "DATA":
      if (r.code === 354) {
        if (before !== "rcpt" || m.rcpts === 0) fail(w, `DATA accepted in state ${before} with ${m.rcpts} recipients`);
        w.send((c.body ?? "") + ".\r\n");
        r = await w.reply();
        if (!r) fail(w, "connection closed without a reply to the end of DATA");
        if (r.code === 421) return ((m.closing = true), false);
        m.state = "ready";
        m.rcpts = 0;
      } else if (accepted) fail(w, `DATA got ${r.code}`);
      break;
    case "BDAT":
      if (accepted) {
        if (before !== "rcpt" || m.rcpts === 0) fail(w, `BDAT accepted in state ${before} with ${m.rcpts} recipients`);
        // A chunk without LAST leaves a BDAT transfer open; end it so the model stays simple.
        if (!/ LAST$/i.test(c.line)) {
          w.send("BDAT 0 LAST\r\n");
          const r2 = await w.reply();
          if (!r2) fail(w, "connection closed without a reply to BDAT 0 LAST");
          if (r2.code === 421) return ((m.closing = true), false);
        }
        m.state = "ready";
        m.rcpts = 0;
      } else if (/^BDAT \d+( LAST)?$/i.test(c.line) && m.state === "rcpt") {
        // A refused chunk inside a transaction (size, policy): the transaction may be gone.
        w.send("RSET\r\n");
        const r2 = await w.reply();
        if (!r2 || r2.code !== 250) fail(w, `RSET after a refused BDAT got ${JSON.stringify(r2)}`);
        m.state = "ready";
        m.rcpts = 0;
      }
      break;
    case "RSET":
      if (r.code === 250 && m.state !== "start") ((m.state = "ready"), (m.rcpts = 0));
      break;
    case "QUIT":
      if (r.code === 221) return ((m.closing = true), false);
      break;
    case "STARTTLS":
      if (r.code === 220) {
        if (before !== "start" && before !== "ready") fail(w, `STARTTLS accepted in state ${before}`);
        await w.upgrade();
        m.state = "start";
        m.rcpts = 0;
      }
      break;
    case "AUTH": {
      let n = 0;
      while (r.code === 334) {
        if (++n > 3) fail(w, "more than 3 AUTH challenges");
        w.send((c.responses?.[n - 1] ?? "*") + "\r\n");
        r = await w.reply();
        if (!r) fail(w, "connection closed during AUTH");
        if (r.code === 421) return ((m.closing = true), false);
      }
      if (r.code === 235) {
        if (before !== "ready") fail(w, `AUTH accepted in state ${before}`);
        if (m.authed) fail(w, "a second AUTH accepted");
        m.authed = true;
      }
      break;
    }
  }
  return true;
}

function sessionFuzzer(name: string, spec: { arb: fc.Arbitrary<Cmd>; submission?: boolean }): Fuzzer<SmtpEnv> {
  return {
    name: `smtp session: ${name}`,
    ciRuns: 80,
    fixture: smtpFixture,
    property: (_seeds, env) =>
      fc.asyncProperty(fc.constantFrom<State>("start", "ready", "mail", "rcpt"), fc.array(spec.arb, { minLength: 1, maxLength: 5 }), async (state, cmds) => {
        const w = await Wire.connect(spec.submission ? env.sub : env.mx, !!spec.submission);
        try {
          const g = await w.reply();
          if (!g || g.code !== 220) fail(w, `greeting ${JSON.stringify(g)}`);
          const m: Model = { state: "start", rcpts: 0, authed: false, closing: false };
          await setup(w, state, !!spec.submission, m);
          for (const c of cmds) if (!(await exchange(w, c, m))) break;
          if (m.closing) {
            // 221 or 421: the server closes, with nothing after that reply.
            const extra = await w.reply();
            if (extra !== null) fail(w, `a reply after the closing one: ${JSON.stringify(extra)}`);
            return;
          }
          w.send("NOOP\r\n");
          const n = await w.reply();
          if (!n || n.code !== 250) fail(w, `NOOP after the batch got ${JSON.stringify(n)}`);
          w.send("QUIT\r\n");
          const q = await w.reply();
          if (!q || q.code !== 221) fail(w, `QUIT after the batch got ${JSON.stringify(q)}`);
          const extra = await w.reply();
          if (extra !== null) fail(w, `a reply after QUIT's 221: ${JSON.stringify(extra)}`);
        } finally {
          w.destroy();
        }
      }),
  };
}

export const SMTP_SESSION_FUZZERS: Fuzzer[] = Object.entries(COMMANDS).map(([n, spec]) => sessionFuzzer(n, spec));
