// `freehold trace`: one message's path as a timeline, from the structured log lines that carry
// the same correlation ids. Every SMTP line has the connection's `cid`; the mx "delivered" and
// submission "submitted" lines name the message (Message-ID), its envelope and the queue
// entries (`queueIds`) it created; every queue runner line has its entry's `queueId`. So a
// query finds its seed lines, takes their ids, and collects every line with one of them: the
// trace follows ids, never guesses from times or texts. Pure: the caller streams the lines in
// (service.ts reads the log files), twice.
import { z } from "zod";

export type Query = { kind: "message-id"; value: string } | { kind: "queue-id"; value: number } | { kind: "address"; value: string };

/** What the user typed: <id@host> or id@host with a dot-less local part → Message-ID when it has <>; digits → queue id; else an address. */
export function parseQuery(q: string): Query {
  const t = q.trim();
  if (/^<[^<>\s]+>$/.test(t)) return { kind: "message-id", value: t };
  if (/^\d{1,15}$/.test(t)) return { kind: "queue-id", value: Number(t) };
  if (/^[^\s@<>]+@[^\s@<>]+$/.test(t)) return { kind: "address", value: t.toLowerCase() };
  throw new Error(`not a Message-ID (<id@host>), queue id (digits) or address: ${q}`);
}

type Line = Record<string, unknown>;

const lc = (v: unknown) => (typeof v === "string" ? v.toLowerCase() : "");
const ids = (v: unknown): number[] => (Array.isArray(v) ? v.filter((x): x is number => typeof x === "number") : []);

/** Does this line itself match the query (a seed)? */
export function isSeed(l: Line, q: Query): boolean {
  switch (q.kind) {
    case "message-id":
      return l.messageId === q.value;
    case "queue-id":
      return l.queueId === q.value || ids(l.queueIds).includes(q.value);
    case "address": {
      const a = q.value;
      if (lc(l.from) === a || lc(l.rcpt) === a || lc(l.user) === a) return true;
      if (Array.isArray(l.rcpts) && l.rcpts.some((r) => lc(r) === a)) return true;
      // A refused MAIL/RCPT: the argument holds the path.
      return typeof l.arg === "string" && l.arg.toLowerCase().includes(`<${a}>`);
    }
  }
}

export class TraceCollector {
  readonly cids = new Set<string>();
  readonly queueIds = new Set<number>();
  readonly events: TraceEvent[] = [];
  readonly #q: Query;

  constructor(q: Query) {
    this.#q = q;
    if (q.kind === "queue-id") this.queueIds.add(q.value);
  }

  /** Pass 1: note the ids of every seed line. */
  seed(l: Line): void {
    if (!isSeed(l, this.#q)) return;
    if (typeof l.cid === "string") this.cids.add(l.cid);
    if (typeof l.queueId === "number") this.queueIds.add(l.queueId);
    for (const id of ids(l.queueIds)) this.queueIds.add(id);
  }

  /** Pass 2: keep every line with one of the ids. */
  collect(l: Line): void {
    const byCid = typeof l.cid === "string" && this.cids.has(l.cid);
    const byQueue = (typeof l.queueId === "number" && this.queueIds.has(l.queueId)) || ids(l.queueIds).some((id) => this.queueIds.has(id));
    if (byCid || byQueue) this.events.push(toEvent(l));
  }

  /** The timeline, oldest first (a stable sort keeps the file order of equal times). */
  timeline(): TraceEvent[] {
    return [...this.events].sort((a, b) => a.at - b.at);
  }
}

export const TraceEventSchema = z.strictObject({
  at: z.number().int(),
  time: z.string(),
  /** "smtp <cid>" or "queue #<id>". */
  where: z.string(),
  cid: z.string().optional(),
  queueId: z.number().int().optional(),
  level: z.string(),
  event: z.string(),
  /** The facts of the line, in words (addresses, replies, results). */
  detail: z.string(),
  fields: z.record(z.string(), z.unknown()),
});
export type TraceEvent = z.infer<typeof TraceEventSchema>;

export const TraceReportSchema = z.strictObject({
  query: z.string(),
  kind: z.enum(["message-id", "queue-id", "address"]),
  since: z.string(),
  filesRead: z.array(z.string()),
  events: z.array(TraceEventSchema),
  /** Queue entries still in the queue (delivered and bounced ones leave it; the log keeps their story). */
  queue: z.array(
    z.strictObject({
      id: z.number().int(),
      mailFrom: z.string(),
      recipients: z.array(z.strictObject({ recipient: z.string(), state: z.string(), attempts: z.number().int(), lastReply: z.string().nullable(), nextAttemptAt: z.string() })),
    }),
  ),
});
export type TraceReport = z.infer<typeof TraceReportSchema>;

const LEVELS: Record<number, string> = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };
const SKIP = new Set(["time", "level", "msg", "cid", "queueId", "pid", "hostname", "component"]);

function str(v: unknown): string {
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return v.map(str).join(", ");
  if (v && typeof v === "object") return Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}=${str(x)}`).join(" ");
  return String(v);
}

/** The detail words of a line: the fields an operator reads first, in a fixed order, then the rest. */
function detailOf(l: Line): string {
  const first = ["remote", "client", "clientName", "helo", "tls", "user", "from", "rcpt", "rcpts", "verb", "arg", "reply", "enhanced", "text", "route", "host", "action", "spf", "dmarc", "stored", "messageId", "retryAt", "dsns", "to", "reason"];
  const parts: string[] = [];
  for (const k of first) if (l[k] !== undefined && l[k] !== null && l[k] !== "") parts.push(`${k}=${str(l[k])}`);
  for (const [k, v] of Object.entries(l)) {
    if (SKIP.has(k) || first.includes(k) || v === undefined || v === null) continue;
    if (k === "spam" && typeof v === "object") {
      const s = v as { recipients?: Array<{ action: string; score: number }> };
      parts.push(`spam=${(s.recipients ?? []).map((r) => `${r.action}(${r.score})`).join(",")}`);
      continue;
    }
    if (k === "err") continue;
    parts.push(`${k}=${str(v)}`);
  }
  return parts.join(" ");
}

function toEvent(l: Line): TraceEvent {
  const at = typeof l.time === "number" ? l.time : 0;
  const cid = typeof l.cid === "string" ? l.cid : undefined;
  const queueId = typeof l.queueId === "number" ? l.queueId : undefined;
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(l)) if (!SKIP.has(k)) fields[k] = v;
  return {
    at,
    time: new Date(at).toISOString(),
    where: queueId !== undefined ? `queue #${queueId}` : cid ? `smtp ${cid}` : "-",
    ...(cid ? { cid } : {}),
    ...(queueId !== undefined ? { queueId } : {}),
    level: LEVELS[typeof l.level === "number" ? l.level : 30] ?? String(l.level),
    event: typeof l.msg === "string" ? l.msg : "",
    detail: detailOf(l),
    fields,
  };
}

/** "2d", "12h", "30m" or an ISO date → ms since epoch. */
export function parseSince(s: string, now: number): number {
  const m = /^(\d+)\s*([smhdw])$/.exec(s.trim());
  if (m) return now - Number(m[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7, w: 6.048e8 }[m[2] as "s"];
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new Error(`--since: expected e.g. 2d, 12h, 30m or a date, not ${s}`);
  return t;
}
