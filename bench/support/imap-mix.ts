// The mixed session load of the imap-concurrency case: N persistent clients logged in to ONE
// account, all on its INBOX, each sending a weighted random mix of what mail clients do (and
// what the outside stress tool of issue 16 sent, after Dovecot's imaptest): SELECT, FETCH of
// flags / envelopes / bodies, STORE of \Seen and \Flagged, STORE \Deleted then EXPUNGE (so
// messages disappear under the other sessions' feet), APPEND (so the mailbox keeps its size),
// SEARCH and NOOP. Every client tracks its own message count from the untagged EXISTS and
// EXPUNGE responses, as a real client must, and addresses messages by number within it.
//
// Recorded: per command type the latencies (command written → tagged response), and every
// command that did not end in OK, by reason (NO/BAD with their response code, disconnects,
// timeouts), so the effect of a server fix on one reason is visible.
import { ImapConn, type ImapResponse } from "./imap-client.ts";
import { makeMessage } from "./maildir-fill.ts";

export type Transport = "plain" | "tls";

export interface MixTarget {
  host: string;
  /** Cleartext port (STARTTLS is used if the server requires it before LOGIN). */
  plainPort: number;
  /** Implicit-TLS port. */
  imapsPort: number;
  user: string;
  pass: string;
}

export interface MixOptions {
  clients: number;
  seconds: number;
  transport: Transport;
  /** Seed of the command choice (the same sequence on both servers). */
  seed: number;
  /** A command taking longer counts as a timeout and the client reconnects. */
  commandTimeoutMs?: number;
  /** Called once every client is logged in, right before the clock starts, and when it stops. */
  onStart?: () => Promise<void>;
  onEnd?: () => Promise<void>;
}

export const COMMAND_TYPES = [
  "SELECT",
  "FETCH FLAGS",
  "FETCH ENVELOPE",
  "FETCH BODY",
  "STORE",
  "STORE \\Deleted",
  "EXPUNGE",
  "APPEND",
  "SEARCH",
  "NOOP",
] as const;
export type CommandType = (typeof COMMAND_TYPES)[number];

/** Relative frequencies (per 100 commands). */
const WEIGHTS: Record<CommandType, number> = {
  SELECT: 3,
  "FETCH FLAGS": 16,
  "FETCH ENVELOPE": 14,
  "FETCH BODY": 12,
  STORE: 14,
  "STORE \\Deleted": 8,
  EXPUNGE: 8,
  APPEND: 9,
  SEARCH: 8,
  NOOP: 8,
};

export interface MixResult {
  /** Commands that ended (any status), over the measured time. */
  commands: number;
  elapsedS: number;
  latencies: Record<CommandType, number[]>;
  /** Commands that did not end in OK, by reason ("FETCH BODY NO [EXPUNGEISSUED]", "disconnect"...). */
  failures: Record<string, number>;
  failed: number;
  /** How the sessions logged in ("plaintext LOGIN", "STARTTLS", "IMAPS"). */
  login: string;
  /** Messages in INBOX as the last client saw it. */
  finalExists: number;
}

/** RFC 9051 quoted string (the bench's credentials have no CR/LF). */
export function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** A logged-in session over the transport; says how it logged in. */
export async function openSession(t: MixTarget, transport: Transport): Promise<{ conn: ImapConn; login: string }> {
  let conn: ImapConn;
  let login: string;
  if (transport === "tls") {
    conn = await ImapConn.connect(t.host, t.imapsPort, { tls: true });
    login = "IMAPS";
  } else {
    conn = await ImapConn.connect(t.host, t.plainPort);
    const caps = (await conn.ok("CAPABILITY")).lines.find((l) => l.startsWith("* CAPABILITY")) ?? "";
    // RFC 9051 §6.2.3: LOGINDISABLED until TLS. Plaintext where the server allows it (loopback).
    if (/\bLOGINDISABLED\b/i.test(caps)) {
      if (!/\bSTARTTLS\b/i.test(caps)) throw new Error("server refuses LOGIN in clear and offers no STARTTLS");
      conn = await conn.startTls();
      login = "STARTTLS";
    } else {
      login = "plaintext LOGIN";
    }
  }
  try {
    await conn.ok(`LOGIN ${quote(t.user)} ${quote(t.pass)}`);
  } catch (e) {
    conn.close();
    throw e;
  }
  return { conn, login };
}

/** Small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEARCHES = ["UID SEARCH UNSEEN", "SEARCH FLAGGED", "SEARCH SUBJECT meeting", "UID SEARCH SINCE 1-Jan-2025 NOT DELETED"];

/** The reason a response counts as failed, without the numbers that differ between runs. */
function reason(type: CommandType, r: ImapResponse): string {
  const rest = r.tagged.replace(/^\S+ (OK|NO|BAD) ?/i, "");
  const code = /^\[([A-Z0-9-]+)/i.exec(rest)?.[1];
  const text = code ? `[${code.toUpperCase()}]` : rest.replace(/\d+/g, "n").slice(0, 50);
  return `${type} ${r.status} ${text}`.trim();
}

class Client {
  conn: ImapConn | null = null;
  exists = 0;
  #r: () => number;
  #t: MixTarget;
  #o: MixOptions;
  #res: MixResult;
  #appendN: number;

  constructor(t: MixTarget, o: MixOptions, k: number, res: MixResult) {
    this.#t = t;
    this.#o = o;
    this.#r = rng(o.seed * 1000 + k);
    this.#res = res;
    this.#appendN = 1_000_000 + k * 100_000;
  }

  #pick(): CommandType {
    let x = this.#r() * 100;
    for (const t of COMMAND_TYPES) {
      x -= WEIGHTS[t];
      if (x < 0) return t;
    }
    return "NOOP";
  }

  #msg(): number {
    return 1 + Math.floor(this.#r() * Math.max(1, this.exists));
  }

  /** The command text for a type, or null when it cannot be sent now (empty mailbox). */
  #text(t: CommandType): string | null {
    const needMsg = t.startsWith("FETCH") || t.startsWith("STORE");
    if (needMsg && this.exists === 0) return null;
    switch (t) {
      case "SELECT":
        return "SELECT INBOX";
      case "FETCH FLAGS": {
        const a = this.#msg();
        return `FETCH ${a}:${Math.min(this.exists, a + 19)} (UID FLAGS)`;
      }
      case "FETCH ENVELOPE": {
        const a = this.#msg();
        return `FETCH ${a}:${Math.min(this.exists, a + 4)} (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)`;
      }
      case "FETCH BODY":
        return `FETCH ${this.#msg()} (UID BODY.PEEK[])`;
      case "STORE": {
        const x = this.#r();
        const f = x < 0.5 ? "+FLAGS (\\Seen)" : x < 0.75 ? "+FLAGS (\\Flagged)" : "-FLAGS (\\Flagged \\Seen)";
        return `STORE ${this.#msg()} ${f}`;
      }
      case "STORE \\Deleted":
        return `STORE ${this.#msg()} +FLAGS.SILENT (\\Deleted)`;
      case "EXPUNGE":
        return "EXPUNGE";
      case "APPEND": {
        const body = makeMessage(this.#appendN++).replace(/\n/g, "\r\n");
        // RFC 7888 LITERAL+: the literal follows without waiting for a continuation.
        return `APPEND INBOX () {${Buffer.byteLength(body)}+}\r\n${body}`;
      }
      case "SEARCH":
        return SEARCHES[Math.floor(this.#r() * SEARCHES.length)];
      case "NOOP":
        return "NOOP";
    }
  }

  #track(r: ImapResponse): void {
    for (const l of r.lines) {
      let m = /^\* (\d+) EXISTS/.exec(l);
      if (m) {
        this.exists = Number(m[1]);
        continue;
      }
      m = /^\* (\d+) EXPUNGE/.exec(l);
      if (m) this.exists = Math.max(0, this.exists - 1);
    }
  }

  async connect(): Promise<void> {
    const { conn, login } = await openSession(this.#t, this.#o.transport);
    this.#res.login = login;
    this.conn = conn;
    const r = await conn.ok("SELECT INBOX");
    this.exists = 0;
    this.#track(r);
  }

  #fail(why: string): void {
    this.#res.failures[why] = (this.#res.failures[why] ?? 0) + 1;
    this.#res.failed++;
  }

  /** Runs commands until `end` (ms since the epoch); reconnects after a disconnect. */
  async loop(end: number): Promise<void> {
    const timeoutMs = this.#o.commandTimeoutMs ?? 30_000;
    while (Date.now() < end) {
      if (!this.conn) {
        try {
          await this.connect();
        } catch {
          this.#fail("reconnect failed");
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
      }
      const type = this.#pick();
      const text = this.#text(type);
      if (text === null) continue;
      const t0 = performance.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        const r = await Promise.race([
          this.conn!.command(text),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error("timeout")), timeoutMs);
          }),
        ]);
        const ms = performance.now() - t0;
        this.#res.commands++;
        this.#res.latencies[type].push(ms);
        this.#track(r); // SELECT's EXISTS sets the count afresh
        if (r.status !== "OK") this.#fail(reason(type, r));
      } catch (e) {
        this.#res.commands++;
        this.#fail(`${type} ${(e as Error).message === "timeout" ? "timeout" : "disconnect"}`);
        this.conn?.close();
        this.conn = null;
      } finally {
        clearTimeout(timer);
      }
    }
    this.#res.finalExists = this.exists;
  }
}

/** Logs `clients` sessions in (all before the clock starts), runs the mix for `seconds`. */
export async function runMix(t: MixTarget, o: MixOptions): Promise<MixResult> {
  const res: MixResult = {
    commands: 0,
    elapsedS: 0,
    latencies: Object.fromEntries(COMMAND_TYPES.map((c) => [c, [] as number[]])) as unknown as Record<CommandType, number[]>,
    failures: {},
    failed: 0,
    login: "",
    finalExists: 0,
  };
  const clients = Array.from({ length: o.clients }, (_, k) => new Client(t, o, k, res));
  // Log in in groups (100 TLS handshakes and logins at once would measure the login path).
  for (let i = 0; i < clients.length; i += 20) await Promise.all(clients.slice(i, i + 20).map((c) => c.connect()));
  await o.onStart?.();
  const t0 = Date.now();
  const end = t0 + o.seconds * 1000;
  await Promise.all(clients.map((c) => c.loop(end)));
  res.elapsedS = (Date.now() - t0) / 1000;
  await o.onEnd?.();
  await Promise.all(clients.map((c) => c.conn?.logout()));
  return res;
}
