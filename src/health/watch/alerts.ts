// Alerts (issue 8 §3): by local mail to the postmaster/admin mailboxes and by signed webhooks.
//
// Mail is delivered locally (queue/local-delivery.ts), never through the outbound queue, so a
// broken outbound path (a blocklisting, a dead relay) cannot stop the alert about it.
//
// Webhooks: a JSON POST with `Freehold-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
// t + "." + body)>` (the scheme of Stripe's webhooks: the timestamp inside the MAC lets the
// receiver refuse replays older than a few minutes). A failed POST (network error or non-2xx) is
// retried with exponential back-off; the outbox is in memory and driven by the injected clock
// through flush() (the watcher calls it every tick), so tests walk the schedule without sleeping.
import { createHmac, randomUUID } from "node:crypto";
import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log/logger.ts";
import type { CheckStatus } from "../identity.ts";
import { deliverLocally } from "../../queue/local-delivery.ts";
import type { LocalDeliveryDeps } from "../../queue/local-delivery.ts";

export interface Alert {
  /** problem: a check went bad; recovery: ok again; route: the relay switch moved. */
  kind: "problem" | "recovery" | "route";
  checkId: string;
  status: CheckStatus | "relay" | "direct";
  previous: CheckStatus | "relay" | "direct" | null;
  message: string;
  fix?: string;
  /** ms since the epoch. */
  at: number;
  hostname: string;
}

export interface AlertSink {
  send(alert: Alert): Promise<void>;
}

export function alertSubject(a: Alert): string {
  if (a.kind === "recovery") return `[Freehold ${a.hostname}] ok again: ${a.checkId}`;
  if (a.kind === "route") return `[Freehold ${a.hostname}] outbound route now ${a.status}`;
  return `[Freehold ${a.hostname}] ${a.status}: ${a.checkId}`;
}

export function alertJson(a: Alert): string {
  return JSON.stringify({
    type: `freehold.health.${a.kind}`,
    host: a.hostname,
    check: a.checkId,
    status: a.status,
    previous: a.previous,
    message: a.message,
    fix: a.fix ?? null,
    at: new Date(a.at).toISOString(),
  });
}

/** The Freehold-Signature header value for `body` sent at unix second `t`. */
export function signatureHeader(secret: string, t: number, body: string): string {
  const mac = createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");
  return `t=${t},v1=${mac}`;
}

export interface WebhookTarget {
  url: string;
  secret: string;
}

interface Pending {
  target: WebhookTarget;
  body: string;
  id: string;
  attempts: number;
  nextAt: number;
}

export interface WebhookOptions {
  clock: Clock;
  logger: Logger;
  /** Back-off after the n-th failure: base·2^(n-1), capped (default 30 s, cap 1 h). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Attempts before an alert is dropped (logged as an error); default 12 (about 6 hours). */
  maxAttempts?: number;
  timeoutMs?: number;
}

export class WebhookSender implements AlertSink {
  #o: Required<WebhookOptions>;
  #targets: WebhookTarget[];
  #outbox: Pending[] = [];
  #flushing: Promise<void> | null = null;

  constructor(targets: WebhookTarget[], opts: WebhookOptions) {
    this.#targets = targets;
    this.#o = { baseDelayMs: 30_000, maxDelayMs: 3_600_000, maxAttempts: 12, timeoutMs: 10_000, ...opts };
  }

  get pending(): number {
    return this.#outbox.length;
  }

  async send(alert: Alert): Promise<void> {
    const body = alertJson(alert);
    const now = this.#o.clock.now();
    for (const target of this.#targets) this.#outbox.push({ target, body, id: randomUUID(), attempts: 0, nextAt: now });
    await this.flush();
  }

  /** Posts every due alert once; failures are rescheduled with back-off. */
  flush(): Promise<void> {
    this.#flushing ??= this.#flushDue().finally(() => (this.#flushing = null));
    return this.#flushing;
  }

  async #flushDue(): Promise<void> {
    const now = this.#o.clock.now();
    const due = this.#outbox.filter((p) => p.nextAt <= now);
    await Promise.all(due.map((p) => this.#post(p)));
  }

  async #post(p: Pending): Promise<void> {
    const t = Math.floor(this.#o.clock.now() / 1000);
    let error: string | null = null;
    try {
      const res = await fetch(p.target.url, {
        method: "POST",
        headers: { "content-type": "application/json", "freehold-signature": signatureHeader(p.target.secret, t, p.body), "freehold-delivery": p.id },
        body: p.body,
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) error = `HTTP ${res.status}`;
    } catch (err) {
      error = (err as Error).message;
    }
    p.attempts++;
    const host = safeHost(p.target.url);
    if (error === null) {
      this.#outbox.splice(this.#outbox.indexOf(p), 1);
      this.#o.logger.info({ webhook: host, attempts: p.attempts }, "alert webhook delivered");
      return;
    }
    if (p.attempts >= this.#o.maxAttempts) {
      this.#outbox.splice(this.#outbox.indexOf(p), 1);
      this.#o.logger.error({ webhook: host, attempts: p.attempts, error }, "alert webhook given up");
      return;
    }
    p.nextAt = this.#o.clock.now() + Math.min(this.#o.maxDelayMs, this.#o.baseDelayMs * 2 ** (p.attempts - 1));
    this.#o.logger.warn({ webhook: host, attempts: p.attempts, error, retryAt: new Date(p.nextAt).toISOString() }, "alert webhook failed; will retry");
  }
}

/** The URL's origin only: a webhook URL may carry a token in its path or query. */
function safeHost(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(bad url)";
  }
}

export interface MailAlertDeps extends LocalDeliveryDeps {
  clock: Clock;
  logger: Logger;
  hostname: string;
  /** Addresses from watch.alertMailboxes; empty: postmaster@ of the host's domain (or the first local one). */
  mailboxes: string[];
}

/** RFC 5322 message for one alert (text/plain, UTF-8). */
export function alertMessage(a: Alert, to: string, from: string, messageId: string): string {
  const lines = [
    a.message,
    "",
    ...(a.fix ? ["What to do:", a.fix, ""] : []),
    `Check: ${a.checkId}`,
    `Status: ${a.status}${a.previous ? ` (was ${a.previous})` : ""}`,
    `At: ${new Date(a.at).toISOString()}`,
    "",
    "Run `freehold check` on the server for the full report.",
  ];
  return (
    [
      `From: Freehold health <${from}>`,
      `To: <${to}>`,
      `Subject: ${encodeSubject(alertSubject(a))}`,
      `Date: ${new Date(a.at).toUTCString().replace("GMT", "+0000")}`,
      `Message-ID: <${messageId}>`,
      "Auto-Submitted: auto-generated", // RFC 3834 §5
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
      "Content-Transfer-Encoding: 8bit",
      "",
      ...lines,
      "",
    ].join("\r\n")
  );
}

/** RFC 2047 encoded-word when the subject is not ASCII. */
function encodeSubject(s: string): string {
  return /^[\x20-\x7e]*$/.test(s) ? s : `=?utf-8?B?${Buffer.from(s).toString("base64")}?=`;
}

export class MailAlerter implements AlertSink {
  #d: MailAlertDeps;
  constructor(deps: MailAlertDeps) {
    this.#d = deps;
  }

  async recipients(): Promise<string[]> {
    if (this.#d.mailboxes.length > 0) return this.#d.mailboxes;
    // One postmaster (RFC 5321 §4.5.1): postmaster@ of every domain reaches the same admins, so
    // the host name's own domain if it is local, else the first local domain.
    const domains = (await this.#d.store.accounts.listDomains()).filter((d) => !d.disabled).map((d) => d.name);
    const own = domains.find((d) => this.#d.hostname === d || this.#d.hostname.endsWith(`.${d}`));
    const pick = own ?? domains.sort()[0];
    return pick ? [`postmaster@${pick}`] : [];
  }

  async send(a: Alert): Promise<void> {
    const from = `postmaster@${this.#d.hostname}`;
    for (const to of await this.recipients()) {
      const content = Buffer.from(alertMessage(a, to, from, `${randomUUID()}@${this.#d.hostname}`));
      const r = await deliverLocally(this.#d, { recipient: to, content, traceHeaders: "", mailFrom: "" });
      if (r.kind === "ok") this.#d.logger.info({ to, check: a.checkId, kind: a.kind }, "alert mailed");
      else this.#d.logger.error({ to, check: a.checkId, result: r }, "alert mail not delivered");
    }
  }
}
