// One outbound SMTP session on nodemailer's SMTP client (nodemailer/lib/smtp-connection): connect
// to one address, EHLO, STARTTLS, AUTH, then any number of transactions, each with per-recipient
// results. Names are never resolved here: callers pass an IP address (resolved through our
// Resolver) and the name for SNI and certificate checks (`servername`).
//
// Why these settings:
// - RFC 3207 / RFC 7435: STARTTLS whenever offered. Without an MTA-STS "enforce" policy the
//   certificate is not verified (opportunistic TLS; most MX certificates would fail) and a failed
//   upgrade falls back to plain text; with "enforce" (RFC 8461 §5) or for a relay, TLS and a valid
//   certificate for the name are required.
// - RFC 4954 §4 / docs/relay.md: AUTH only over TLS (requireTLS for relays), never in clear.
// - RFC 5321 §4.5.3.2 client timeouts: 5 min for the greeting; nodemailer has one inactivity
//   timer for the rest, set to 10 min, the longest of the §4.5.3.2 values (final dot). Shorter
//   per-command limits are therefore not enforced (docs/relay.md, "Partial").
// - RFC 3461: NOTIFY and ORCPT are per recipient, but nodemailer takes one set per transaction,
//   so recipients with different DSN parameters go in separate transactions on the same session.
// - RFC 5321 §4.5.3.1.10 / 452 4.5.3: recipients refused as "too many" go in a new transaction at
//   once, on the same session.
// - RFC 6152 §3 / RFC 6531 §3.4: 8-bit content only to a hop with 8BITMIME (else 5.6.3: we do
//   not rewrite signed content here; submission already converts 8-bit bodies before signing,
//   so this is left for forwarded mail and 8-bit header fields), UTF-8 addresses only to a hop
//   with SMTPUTF8 (else 5.6.7).
import { Readable } from "node:stream";
import type SMTPConnection from "nodemailer/lib/smtp-connection";
import { lazyRequire } from "../lazy.ts";

// Loaded on the first outbound session, not at start (src/lazy.ts: +21 MiB).
const smtpConnection = lazyRequire<typeof SMTPConnection>("nodemailer/lib/smtp-connection");
import type { Logger } from "../log/logger.ts";

export const CLIENT_TIMEOUTS: Readonly<{ connectMs: number; greetingMs: number; socketMs: number }> = Object.freeze({
  connectMs: 60_000,
  // RFC 5321 §4.5.3.2.1: initial 220 message: 5 minutes.
  greetingMs: 5 * 60_000,
  // RFC 5321 §4.5.3.2.6: DATA termination: 10 minutes (the longest wait of the session).
  socketMs: 10 * 60_000,
});

export type TlsPolicy =
  /** STARTTLS if offered, no certificate check, plain text if the upgrade fails. */
  | "opportunistic"
  /** STARTTLS required with a certificate valid for `servername`. */
  | "starttls-verified"
  /** TLS from the first byte, certificate verified. */
  | "implicit-verified"
  /** No TLS at all (loopback relays only). */
  | "none";

export interface SessionTarget {
  /** IP address to connect to. */
  address: string;
  port: number;
  /** The host name: SNI, certificate identity, Remote-MTA, logs. */
  servername: string;
  tls: TlsPolicy;
  auth?: { user: string; pass: string };
  /** Our EHLO name. */
  localName: string;
  timeouts?: Partial<typeof CLIENT_TIMEOUTS>;
  /** Extra tls.connect options (tests: a CA). */
  tlsOptions?: import("node:tls").ConnectionOptions;
}

/** Where the session failed before any transaction: decides failover (docs/relay.md). */
export type SessionStage = "connect" | "greeting" | "tls" | "auth";

export class SessionError extends Error {
  readonly stage: SessionStage;
  readonly replyCode: number | null;
  readonly reply: string;
  /** True when retrying later (or another route) may help: every stage but a 5xx AUTH refusal… which also fails over. */
  constructor(stage: SessionStage, reply: string, replyCode: number | null) {
    super(`${stage}: ${reply}`);
    this.name = "SessionError";
    this.stage = stage;
    this.reply = reply;
    this.replyCode = replyCode;
  }
}

export interface OutboundRecipient {
  address: string;
  notify?: readonly string[] | null;
  orcpt?: string | null;
}

export interface OutboundTransaction {
  mailFrom: string;
  recipients: OutboundRecipient[];
  ret?: "FULL" | "HDRS" | null;
  envid?: string | null;
  content: Buffer;
  /** Awaited after the content and before the final dot (durable "in flight" mark). */
  beforeFinalDot?: () => Promise<void>;
}

export interface RecipientResult {
  recipient: string;
  kind: "ok" | "temp" | "perm";
  code: number | null;
  /** RFC 3463 enhanced status from the reply, or one we chose. */
  status: string;
  reply: string;
  /** True when the final dot was sent but no reply was seen (outcome unknown). */
  unknownOutcome?: boolean;
}

const ENHANCED_RE = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/;

export function enhancedOf(reply: string, code: number | null): string {
  const m = ENHANCED_RE.exec(reply.trim());
  if (m) return m[1];
  if (code === null) return "4.4.1";
  return code >= 500 ? "5.0.0" : code >= 400 ? "4.0.0" : "2.0.0";
}

/** Any byte ≥ 0x80 (RFC 6152 "8-bit data"). */
export function hasEightBit(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) if (buf[i] >= 0x80) return true;
  return false;
}

const nonAscii = (s: string): boolean => /[^\x00-\x7f]/.test(s);

type NmError = Error & { code?: string; responseCode?: number; response?: string; command?: string; recipient?: string; rejectedErrors?: NmError[] };

export class SmtpSession {
  readonly target: SessionTarget;
  #conn: SMTPConnection;
  #log: Logger;
  #ended = false;
  constructor(target: SessionTarget, conn: SMTPConnection, log: Logger) {
    this.target = target;
    this.#conn = conn;
    this.#log = log;
    conn.once("end", () => (this.#ended = true));
  }

  /** The connection is still open (the server has not closed it, nor have we). */
  get open(): boolean {
    return !this.#ended;
  }

  get extensions(): Set<string> {
    return new Set((this.#conn as unknown as { _supportedExtensions: string[] })._supportedExtensions);
  }
  get secure(): boolean {
    return this.#conn.secure;
  }
  get supportsDsn(): boolean {
    return this.extensions.has("DSN");
  }

  /** Runs one message through as many transactions as needed; one result per recipient. */
  async send(tx: OutboundTransaction): Promise<RecipientResult[]> {
    const ext = this.extensions;
    const eightBit = hasEightBit(tx.content);
    const results: RecipientResult[] = [];
    const utf8 = nonAscii(tx.mailFrom) || tx.recipients.some((r) => nonAscii(r.address));
    if (utf8 && !ext.has("SMTPUTF8")) {
      // RFC 6531 §3.4: no SMTPUTF8 at the next hop → non-delivery with 5.6.7 (issue 4).
      return tx.recipients.map((r) => perm(r.address, "5.6.7", "next hop does not support SMTPUTF8 (RFC 6531)"));
    }
    if (eightBit && !ext.has("8BITMIME") && !utf8) {
      // RFC 6152 §3: never 8-bit data to a hop without 8BITMIME. Submitted mail reaches this point
      // 7-bit (src/submission/submit.ts converts before signing); what is left is forwarded mail,
      // whose author's DKIM signature re-encoding would break, and 8-bit header fields without
      // SMTPUTF8. It bounces (RFC 3463 5.6.3).
      return tx.recipients.map((r) => perm(r.address, "5.6.3", "next hop lacks 8BITMIME and the message has 8-bit content"));
    }
    // Group recipients by their DSN parameters (nodemailer sends one set per transaction).
    const groups = new Map<string, OutboundRecipient[]>();
    for (const r of tx.recipients) {
      const key = JSON.stringify([r.notify ?? null, r.orcpt ?? null]);
      groups.set(key, [...(groups.get(key) ?? []), r]);
    }
    let first = true;
    for (const group of groups.values()) {
      let todo = group;
      while (todo.length > 0) {
        if (!first) await this.#reset();
        first = false;
        const res = await this.#transaction(tx, todo, eightBit);
        // 452 4.5.3 "too many recipients": those go again at once in a new transaction, if the
        // server took at least one (else it would refuse them again: they wait for a retry).
        const tooMany = res.filter((r) => r.code === 452 && r.status === "4.5.3");
        const progressed = res.some((r) => r.kind === "ok");
        if (tooMany.length > 0 && progressed) {
          results.push(...res.filter((r) => !tooMany.includes(r)));
          const again = new Set(tooMany.map((r) => r.recipient));
          todo = todo.filter((r) => again.has(r.address));
        } else {
          results.push(...res);
          todo = [];
        }
      }
    }
    return results;
  }

  #reset(): Promise<void> {
    return new Promise((resolve, reject) => this.#conn.reset((err) => (err ? reject(err) : resolve())));
  }

  #transaction(tx: OutboundTransaction, rcpts: OutboundRecipient[], eightBit: boolean): Promise<RecipientResult[]> {
    const r0 = rcpts[0];
    const dsn = {
      ...(tx.ret ? { ret: tx.ret } : {}),
      ...(tx.envid ? { envid: tx.envid } : {}),
      ...(r0.notify && r0.notify.length > 0 ? { notify: [...r0.notify] } : {}),
      ...(r0.orcpt ? { orcpt: r0.orcpt } : {}),
    };
    let dotSent = false;
    const content = tx.content;
    const hook = tx.beforeFinalDot;
    let started = false;
    const stream = new Readable({
      read() {
        if (started) return;
        started = true;
        this.push(content);
        if (hook) {
          hook().then(
            () => {
              dotSent = true;
              this.push(null);
            },
            (err: Error) => this.destroy(err),
          );
        } else {
          dotSent = true;
          this.push(null);
        }
      },
    });
    const envelope = {
      from: tx.mailFrom,
      to: rcpts.map((r) => r.address),
      size: content.length,
      use8BitMime: eightBit,
      ...(Object.keys(dsn).length > 0 ? { dsn } : {}),
    };
    return new Promise((resolve) => {
      this.#conn.send(envelope as never, stream, (err: NmError | null, info) => {
        const rejected = new Map<string, NmError>();
        for (const e of (err?.rejectedErrors ?? (info as { rejectedErrors?: NmError[] } | undefined)?.rejectedErrors ?? []) as NmError[]) {
          if (e.recipient) rejected.set(e.recipient, e);
        }
        const out: RecipientResult[] = [];
        for (const r of rcpts) {
          const rej = rejected.get(r.address);
          if (rej) {
            out.push(fromReply(r.address, rej.responseCode ?? null, rej.response ?? rej.message));
          } else if (!err) {
            const reply = (info as { response?: string }).response ?? "250 ok";
            out.push({ recipient: r.address, kind: "ok", code: 250, status: enhancedOf(reply, 250), reply });
          } else if (err.responseCode) {
            out.push(fromReply(r.address, err.responseCode, err.response ?? err.message));
          } else {
            // No reply: a connection lost or timed out. After the dot the outcome is unknown.
            out.push({ recipient: r.address, kind: "temp", code: null, status: "4.4.2", reply: err.message, unknownOutcome: dotSent });
          }
        }
        this.#log.debug({ host: this.target.servername, results: out.map((o) => [o.recipient, o.code]) }, "smtp transaction");
        resolve(out);
      });
    });
  }

  close(): void {
    this.#ended = true;
    try {
      this.#conn.quit();
    } catch {
      this.#conn.close();
    }
  }
}

function perm(recipient: string, status: string, text: string): RecipientResult {
  return { recipient, kind: "perm", code: 554, status, reply: `554 ${status} ${text}` };
}

function fromReply(recipient: string, code: number | null, reply: string): RecipientResult {
  const kind = code !== null && code >= 500 ? "perm" : "temp";
  return { recipient, kind, code, status: enhancedOf(reply, code), reply: reply.trim() };
}

const tlsOf = (t: SessionTarget) => ({
  servername: t.servername,
  minVersion: "TLSv1.2" as const,
  rejectUnauthorized: t.tls === "starttls-verified" || t.tls === "implicit-verified",
  ...t.tlsOptions,
});

/** Connects, greets, upgrades to TLS and authenticates as the target asks. */
export async function openSession(target: SessionTarget, log: Logger): Promise<SmtpSession> {
  const to = { ...CLIENT_TIMEOUTS, ...target.timeouts };
  const Connection = smtpConnection();
  const conn = new Connection({
    host: target.address,
    port: target.port,
    servername: target.servername,
    name: target.localName,
    secure: target.tls === "implicit-verified",
    ignoreTLS: target.tls === "none",
    requireTLS: target.tls === "starttls-verified",
    opportunisticTLS: target.tls === "opportunistic",
    tls: tlsOf(target),
    connectionTimeout: to.connectMs,
    greetingTimeout: to.greetingMs,
    socketTimeout: to.socketMs,
    allowInternalNetworkInterfaces: true,
    ...(process.env.FH_SMTP_DEBUG ? { logger: true, debug: true } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    // nodemailer reports a failed connect through the 'error' event, a refused greeting or TLS
    // through the callback; whichever comes first settles.
    const fail = (err: NmError) => {
      const stage: SessionStage = err.code === "ETLS" || /tls|certificate|self.signed|handshake|SSL/i.test(err.message) ? "tls" : err.responseCode ? "greeting" : "connect";
      reject(new SessionError(stage, err.response ?? err.message, err.responseCode ?? null));
    };
    // `on`: nodemailer may emit more than one error during setup (connect error, then the
    // socket's close); a second one without a listener would throw. `fail` settles once.
    conn.on("error", fail);
    conn.once("end", () => fail(Object.assign(new Error("connection closed during setup"), { code: "ECONNECTION" })));
    conn.connect((err?: NmError | null) => (err ? fail(err) : resolve()));
  }).catch((e) => {
    conn.close();
    throw e;
  });
  if (target.tls !== "none" && target.tls !== "opportunistic" && !conn.secure) {
    conn.close();
    throw new SessionError("tls", "TLS required but not negotiated", null);
  }
  conn.on("error", () => undefined); // from here on, errors reach the send/login callbacks
  if (target.auth) {
    if (!conn.secure && target.tls !== "none") {
      conn.close();
      throw new SessionError("auth", "refusing to send credentials without TLS", null);
    }
    const auth = target.auth;
    await new Promise<void>((resolve, reject) =>
      conn.login({ credentials: { user: auth.user, pass: auth.pass } } as never, (err?: NmError | null) =>
        err ? reject(new SessionError("auth", err.response ?? err.message, err.responseCode ?? null)) : resolve(),
      ),
    ).catch((e) => {
      conn.close();
      throw e;
    });
  }
  return new SmtpSession(target, conn, log);
}
