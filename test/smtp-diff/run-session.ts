// Plays a Session (session.ts) against one server over a raw socket and records every reply,
// step by step. Replies are parsed from the byte stream (multi-line replies joined), so
// pipelined answers are counted exactly; a step ends when its replies are in, the server closed,
// or the step timeout passed.
import net from "node:net";
import type { Session } from "./session.ts";

export interface StepResult {
  /** Reply codes in order (e.g. 250, 452). */
  codes: number[];
  /** The full reply lines, for diagnostics. */
  texts: string[];
  /** The server closed the connection before this step's replies were all in. */
  closed: boolean;
  timedOut: boolean;
}

export interface SessionResult {
  greeting: number[];
  steps: StepResult[];
}

export async function runSession(session: Session, port: number, host = "127.0.0.1", stepTimeoutMs = 20_000): Promise<SessionResult> {
  const sock = net.connect({ host, port });
  sock.setNoDelay(true);
  let buf = "";
  let closed = false;
  const replies: Array<{ code: number; text: string }> = [];
  let partial: string[] = [];
  let wake: (() => void) | undefined;
  sock.setEncoding("latin1");
  sock.on("data", (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, "");
      buf = buf.slice(nl + 1);
      partial.push(line);
      // RFC 5321 §4.2.1: "NNN-" continues a reply, "NNN " (or "NNN" alone) ends it.
      if (!/^\d{3}-/.test(line)) {
        replies.push({ code: Number(line.slice(0, 3)) || 0, text: partial.join("\n") });
        partial = [];
      }
    }
    wake?.();
  });
  sock.on("error", () => undefined);
  sock.on("close", () => {
    closed = true;
    wake?.();
  });
  await new Promise<void>((resolve, reject) => {
    sock.once("connect", resolve);
    sock.once("error", reject);
  });
  let taken = 0;
  const collect = async (n: number): Promise<StepResult> => {
    const end = Date.now() + stepTimeoutMs;
    while (replies.length - taken < n && !closed && Date.now() < end) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, end - Date.now()));
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
      wake = undefined;
    }
    const got = replies.slice(taken, taken + n);
    taken += got.length;
    return { codes: got.map((r) => r.code), texts: got.map((r) => r.text), closed: got.length < n && closed, timedOut: got.length < n && !closed };
  };
  const greeting = (await collect(1)).codes;
  const steps: StepResult[] = [];
  for (const step of session.steps) {
    if (closed) {
      steps.push({ codes: [], texts: [], closed: true, timedOut: false });
      continue;
    }
    await new Promise<void>((r) => sock.write(step.bytes, () => r()));
    steps.push(await collect(step.replies));
  }
  sock.destroy();
  return { greeting, steps };
}

/** A step's replies as run-length classes, e.g. "2*151 4*1" (then "closed" / "timeout"). */
export function signature(s: StepResult): string {
  const runs: string[] = [];
  let prev = "";
  let n = 0;
  for (const c of s.codes) {
    const k = String(Math.floor(c / 100));
    if (k === prev) n++;
    else {
      if (n) runs.push(`${prev}*${n}`);
      prev = k;
      n = 1;
    }
  }
  if (n) runs.push(`${prev}*${n}`);
  if (s.closed) runs.push("closed");
  if (s.timedOut) runs.push("timeout");
  return runs.join(" ") || "-";
}
