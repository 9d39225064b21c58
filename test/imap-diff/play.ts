// Plays one script against one server and returns what it said, step by step, normalized.
import { readFileSync } from "node:fs";
import path from "node:path";
import { DIFF_DIR } from "./script.ts";
import type { Script, Step } from "./script.ts";
import { Normalizer } from "./normalize.ts";
import type { NormalizeOptions } from "./normalize.ts";
import { WireConnection } from "./wire.ts";

export interface Target {
  name: "dovecot" | "freehold";
  port: number;
}

export interface Account {
  user1: string;
  user2: string;
  password: string;
}

export interface StepResult {
  label: string;
  lines: string[];
}

const REPLY_TIMEOUT_MS = 15_000;
const messageCache = new Map<string, Buffer>();

/** messages/NAME.eml with CRLF line ends (Dovecot would store bare LF as CRLF anyway). */
export function message(name: string): Buffer {
  let m = messageCache.get(name);
  if (!m) {
    const raw = readFileSync(path.join(DIFF_DIR, "messages", `${name}.eml`), "latin1");
    m = Buffer.from(raw.replace(/\r?\n/g, "\r\n"), "latin1");
    messageCache.set(name, m);
  }
  return m;
}

function unescape(s: string): string {
  return s.replace(/\\([rnt\\])/g, (_, c: string) => (c === "r" ? "\r" : c === "n" ? "\n" : c === "t" ? "\t" : "\\"));
}

interface Conn {
  wire: WireConnection;
  /** Tag of the command waiting for its tagged reply (after a continuation request). */
  pending?: string;
}

const LITERAL = /(~?)\{(msg\+?|lit\+?):([^}]*)\}/g;

class Player {
  #conns = new Map<number, Conn>();
  #norm: Normalizer;
  #target: Target;
  #acct: Account;
  #seedCount = 0;
  results: StepResult[] = [];

  constructor(target: Target, acct: Account, opts: NormalizeOptions) {
    this.#target = target;
    this.#acct = acct;
    this.#norm = new Normalizer(opts);
  }

  #vars(s: string): string {
    const a = this.#acct;
    const plain = (u: string): string => Buffer.from(`\0${u}\0${a.password}`).toString("base64");
    return s
      .replace(/\$U1/g, a.user1)
      .replace(/\$U2/g, a.user2)
      .replace(/\$PW/g, a.password)
      .replace(/\$PLAIN1/g, plain(a.user1))
      .replace(/\$PLAIN2/g, plain(a.user2))
      .replace(/\$UIDVALIDITY/g, this.#norm.lastUidValidity)
      .replace(/\$HIGHESTMODSEQ/g, this.#norm.lastHighestModseq)
      .replace(/\$NEXTMODSEQ/g, String(BigInt(this.#norm.lastHighestModseq) + 1n));
  }

  async #conn(n: number, label: string): Promise<Conn> {
    let c = this.#conns.get(n);
    if (!c) {
      c = { wire: await WireConnection.connect(this.#target.port) };
      this.#conns.set(n, c);
      const greeting = await c.wire.next(REPLY_TIMEOUT_MS);
      this.results.push({ label: `${label.slice(0, 2)} greeting`, lines: this.#norm.step(greeting ? [greeting] : []) });
    }
    return c;
  }

  /** Reads until the tagged reply of `tag` or a continuation request. */
  async #until(c: Conn, tag: string, got: Buffer[]): Promise<"done" | "continue" | "timeout" | "closed"> {
    for (;;) {
      const r = await c.wire.next(REPLY_TIMEOUT_MS);
      if (r === null) return c.wire.closed ? "closed" : "timeout";
      got.push(r);
      const s = r.toString("latin1", 0, Math.min(r.length, tag.length + 1));
      if (s === `${tag} `) return "done";
      if (r[0] === 0x2b) return "continue";
    }
  }

  #record(label: string, got: Buffer[], end: string): void {
    const lines = this.#norm.step(got);
    if (end === "timeout" || end === "closed") lines.push(`<${end}>`);
    this.results.push({ label, lines });
  }

  /** Sends a command, its literals (waiting for "+" before synchronising ones) and reads its reply. */
  async #command(c: Conn, textIn: string, label: string): Promise<void> {
    const t = this.#vars(textIn);
    const tag = t.split(" ")[0];
    const got: Buffer[] = [];
    let last = 0;
    let pending = "";
    for (const m of t.matchAll(LITERAL)) {
      pending += t.slice(last, m.index);
      last = m.index + m[0].length;
      const data = m[2].startsWith("msg") ? message(m[3]) : Buffer.from(unescape(m[3]), "utf8");
      const nonsync = m[2].endsWith("+");
      c.wire.write(`${pending}${m[1]}{${data.length}${nonsync ? "+" : ""}}\r\n`);
      pending = "";
      if (!nonsync) {
        const end = await this.#until(c, tag, got);
        if (end !== "continue") {
          this.#record(label, got, end);
          return;
        }
      }
      c.wire.write(data);
    }
    c.wire.write(`${pending}${t.slice(last)}\r\n`);
    const end = await this.#until(c, tag, got);
    c.pending = end === "continue" ? tag : undefined;
    this.#record(label, got, end);
  }

  async #seed(step: Extract<Step, { kind: "seed" }>): Promise<void> {
    const label = `@seed ${step.mailbox} ${step.messages.map((m) => m.name).join(" ")}`;
    const c: Conn = { wire: await WireConnection.connect(this.#target.port) };
    const got: Buffer[] = [];
    try {
      await c.wire.next(REPLY_TIMEOUT_MS);
      const run = async (tag: string, cmd: string, lit?: Buffer): Promise<void> => {
        if (lit) {
          c.wire.write(`${tag} ${cmd} {${lit.length}+}\r\n`);
          c.wire.write(lit);
          c.wire.write("\r\n");
        } else c.wire.write(`${tag} ${cmd}\r\n`);
        const end = await this.#until(c, tag, got);
        if (end !== "done") throw new Error(`${this.#target.name}: seed ${tag} ${cmd}: ${end}`);
      };
      await run("SL", `LOGIN ${this.#acct.user1} ${this.#acct.password}`);
      if (step.mailbox.toUpperCase() !== "INBOX") await run("SC", `CREATE ${step.mailbox}`);
      for (const m of step.messages) {
        const k = this.#seedCount++;
        // Fixed INTERNALDATEs a day apart, so SEARCH BEFORE/SINCE/ON have something to tell apart.
        const date = `${String(1 + (k % 28)).padStart(2, "0")}-Jan-2026 ${String(8 + (k % 12)).padStart(2, "0")}:00:00 +0000`;
        await run(`S${k}`, `APPEND ${step.mailbox} (${m.flags.join(" ")}) "${date}"`, message(m.name));
      }
      await run("SZ", "LOGOUT");
    } finally {
      c.wire.destroy();
    }
    // Only the APPENDs' tagged replies: the APPENDUIDs say what was stored. (Not the CREATE's:
    // Dovecot creates its special-use mailboxes lazily, so CREATE Trash may succeed there.)
    this.results.push({ label, lines: this.#norm.step(got.filter((g) => /^S\d+ /.test(g.toString("latin1", 0, 8)))) });
  }

  #finish(): StepResult[] {
    const flat = this.results.flatMap((r) => r.lines);
    const done = this.#norm.finish(flat);
    let k = 0;
    return this.results.map((r) => ({ label: r.label, lines: r.lines.map(() => done[k++]) }));
  }

  async run(script: Script): Promise<StepResult[]> {
    try {
      for (const step of script.steps) {
        switch (step.kind) {
          case "seed":
            await this.#seed(step);
            break;
          case "sleep":
            await new Promise((r) => setTimeout(r, step.ms));
            break;
          case "command": {
            const label = `C${step.conn}> ${step.text}`;
            await this.#command(await this.#conn(step.conn, label), step.text, label);
            break;
          }
          case "continue": {
            const label = `C${step.conn}: ${step.text}`;
            const c = await this.#conn(step.conn, label);
            c.wire.write(`${this.#vars(step.text)}\r\n`);
            const got: Buffer[] = [];
            const end = c.pending ? await this.#until(c, c.pending, got) : "done";
            if (end !== "continue") c.pending = undefined;
            this.#record(label, got, end);
            break;
          }
          case "collect": {
            // Unsolicited responses: the first within 3 s, then until 300 ms of quiet.
            const c = await this.#conn(step.conn, `C${step.conn}~`);
            const got: Buffer[] = [];
            let r = await c.wire.next(3000);
            while (r !== null) {
              got.push(r);
              r = await c.wire.next(300);
            }
            this.#record(`C${step.conn}~`, got, "done");
            break;
          }
        }
      }
    } finally {
      for (const c of this.#conns.values()) c.wire.destroy();
    }
    return this.#finish();
  }
}

export async function play(script: Script, target: Target, acct: Account, opts: NormalizeOptions): Promise<StepResult[]> {
  return new Player(target, acct, opts).run(script);
}
