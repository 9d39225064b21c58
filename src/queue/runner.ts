// The queue runner: picks due recipients, delivers them by route, and records each outcome.
//
// Invariants (why restarts lose nothing and send nothing twice):
// - Recipient state lives only in the database. An outcome (state, next attempt, reply) and the
//   removal of a finished entry (dropping its blob reference) commit in one transaction.
// - Before the final dot of DATA the recipients of the transaction are marked "in flight",
//   durably. The mark is cleared with the outcome. A mark still set at startup means we died
//   between the dot and the reply: the remote may have the message, we do not know. Those are
//   logged (warn, "outcome unknown") and retried; they are the only possible duplicates.
// - One entry is processed by at most one job at a time (#busy); DSNs are queued before the
//   outcome commits, so a crash in between can repeat a DSN but never lose one.
// - Nothing is sent when `hold` is set (dev mode): entries stay queued, visible to the CLI.
//
// Grouping and limits: recipients of one entry are grouped by destination (local, or recipient
// domain + route list); each group is one delivery over one session. Connections per destination
// (MX domain or relay) are limited (default 20, a relay's maxConnections) and throttled on
// 421/451 4.7.x (schedule.ts).
import { withContext } from "../log/context.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log/logger.ts";
import type { MetadataStore, QueueAttemptInsert, QueueRecipientRecord, QueueRecipientUpdate, QueueRecord, StagingBlobStore } from "../store/types.ts";
import type { DeliveryWriter } from "../store/delivery.ts";
import { DEFAULT_RETRY_POLICY, DEFAULT_THROTTLE_POLICY, afterTemporaryFailure, expiresAt, initialThrottleState, isThrottleReply, mayConnect, throttleAfterReply, throttleAfterSuccess } from "./schedule.ts";
import type { RetryPolicy, ThrottlePolicy, ThrottleState } from "./schedule.ts";
import { successAction } from "./dsn-policy.ts";
import type { DsnEvent } from "./notify.ts";
import { sendDsns } from "./notify.ts";
import { deliverLocally, isLocalDomain } from "./local-delivery.ts";
import { chooseRoutes } from "../delivery/relays.ts";
import type { RelayCredentials, RelayFile } from "../delivery/relays.ts";
import { deliverDirect, deliverRelay } from "../delivery/transport.ts";
import type { RouteOutcome, TransportDeps } from "../delivery/transport.ts";
import type { OutboundTransaction } from "../delivery/smtp-client.ts";
import { srsForward } from "../delivery/srs.ts";
import { QueueWriteBatch } from "./write-batch.ts";
import type { SrsOptions } from "../delivery/srs.ts";
import { arcSeal } from "./arc-seal.ts";
import { bodyNeedsDowngrade, downgradeTo7bit } from "../mail/transfer-encoding.ts";
import type { ArcSealer } from "./arc-seal.ts";
import { matchReputation } from "../health/watch/reply-patterns.ts";

export interface RunnerDeps {
  store: MetadataStore;
  blobs: StagingBlobStore;
  writer: DeliveryWriter;
  clock: Clock;
  logger: Logger;
  /** Our host name (EHLO, Reporting-MTA). */
  hostname: string;
  transport: TransportDeps;
  /** Relays, routes and credentials, read at the start of every run (so CLI edits apply). */
  routing: () => Promise<{ file: RelayFile; secrets: Record<string, RelayCredentials> }>;
  defaultQuotaBytes: number;
  retry?: RetryPolicy;
  throttle?: ThrottlePolicy;
  /** Dev mode: send nothing. */
  hold?: boolean;
  /** SRS for forwarded mail with non-local senders (origin "forward"). */
  srs?: SrsOptions | null;
  /** ARC sealing of forwarded mail (origin "forward") sent to other hosts (arc-seal.ts). */
  arc?: ArcSealer | null;
  /** How often the background loop looks for due work (ms, default 1000). */
  pollMs?: number;
  /** Entries picked per run (default 200). */
  batch?: number;
  /** Entries in progress at once (default 32); each holds its message in memory. */
  parallel?: number;
  random?: () => number;
  /**
   * After a recipient of submitted mail failed for good (5xx or expiry), with the message's
   * MAIL FROM: the suppression list counts hard bounces (src/suppression/). Its errors are
   * logged, never fail the queue.
   */
  onFinalFailure?: (mailFrom: string, recipient: string, status: string, reply: string) => Promise<unknown>;
  /**
   * After submitted mail was handed to another host for these recipients, with the content:
   * the suppression list remembers its Message-ID to check DSNs received against
   * (src/suppression/dsn-job.ts). Errors are logged, never fail the queue.
   */
  onSentRemote?: (mailFrom: string, recipients: string[], content: Buffer) => Promise<unknown>;
  /** The relay switch (src/health/watch/relay-switch.ts): direct deliveries through a relay while listed. */
  routeSwitch?: RouteSwitchPort;
  /** Delivery outcomes, for metrics. */
  onOutcome?: (o: { kind: "delivered" | "bounced" | "deferred"; route: string }) => void;
}

/** What the runner needs of the relay switch. */
export interface RouteSwitchPort {
  /** The relay that takes direct deliveries now, or null. */
  routeFor(): string | null;
  /** The relay a reputation refusal is retried through at once, or null (then it bounces as usual). */
  retryRelay(): string | null;
  receiverReply(host: string | null, source: string, reply: string): Promise<void>;
}

/**
 * "direct" replaced by the switch's relay (issue 8 §4), when that relay exists. Applied when a
 * group is formed, so a delivery under way keeps the route it started with.
 */
export function switchedRoutes(routes: string[], relay: string | null, relays: RelayFile["relays"]): string[] {
  if (!relay || !relays.some((r) => r.name === relay)) return routes;
  return [...new Set(routes.map((r) => (r === "direct" ? relay : r)))];
}

/** The final word on one recipient from one attempt. */
interface RcptOutcome {
  rcpt: QueueRecipientRecord;
  kind: "ok" | "temp" | "perm" | "paused";
  status: string;
  reply: string;
  host: string | null;
  route: string;
  /** For "ok": "local", or whether the remote took DSN parameters. */
  nextHop?: "local" | "remote-with-dsn" | "remote-without-dsn";
  pausedUntil?: number;
}

interface Destination {
  open: number;
  limit: number;
  throttle: ThrottleState;
  waiters: Array<() => void>;
}

const domainOf = (a: string): string => a.slice(a.lastIndexOf("@") + 1).toLowerCase();

export class QueueRunner {
  #d: RunnerDeps;
  #policy: RetryPolicy;
  #throttle: ThrottlePolicy;
  #busy = new Set<number>();
  #dest = new Map<string, Destination>();
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<unknown> | null = null;
  #stopped = true;
  #wakeAgain = false;
  /** In-flight marks and outcomes of concurrent deliveries share commits (write-batch.ts). */
  #writes: QueueWriteBatch;

  constructor(deps: RunnerDeps) {
    this.#d = deps;
    this.#writes = new QueueWriteBatch(deps.store);
    this.#policy = deps.retry ?? DEFAULT_RETRY_POLICY;
    this.#throttle = deps.throttle ?? DEFAULT_THROTTLE_POLICY;
  }

  /** Startup: report deliveries whose outcome was lost in a crash, then poll for due work. */
  async start(): Promise<void> {
    await this.recover();
    this.#stopped = false;
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running?.catch(() => undefined);
    this.#d.transport.sessions?.closeAll();
  }

  /** Look for due work now (after a submission, `queue flush`, ...). */
  wake(): void {
    if (this.#stopped) return;
    if (this.#running) this.#wakeAgain = true;
    else this.#schedule(0);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      let worked = false;
      this.#running = withContext({ component: "queue" }, () => this.runOnce())
        .then((n) => void (worked = n > 0))
        .catch((err) => this.#d.logger.error({ err }, "queue run failed"))
        .finally(() => {
          this.#running = null;
          // A pass that did work looks again at once: a backlog drains without poll pauses.
          const again = this.#wakeAgain || worked;
          this.#wakeAgain = false;
          this.#schedule(again ? 0 : (this.#d.pollMs ?? 1000));
        });
    }, ms);
    this.#timer.unref?.();
  }

  /**
   * Recipients still marked in flight from before a crash: the final dot went out and no reply
   * was recorded. Logged as possible duplicates and made due again.
   */
  async recover(): Promise<number> {
    const lost = await this.#d.store.queue.listInFlight();
    const byEntry = new Map<number, QueueRecipientRecord[]>();
    for (const r of lost) byEntry.set(r.queueId, [...(byEntry.get(r.queueId) ?? []), r]);
    const now = this.#d.clock.now();
    for (const [queueId, rcpts] of byEntry) {
      this.#d.logger.warn(
        { queueId, recipients: rcpts.map((r) => r.recipient), since: new Date(rcpts[0].inFlightAt ?? now).toISOString() },
        "delivery outcome unknown (stopped between end of data and the reply); retrying, the recipient may get it twice",
      );
      await this.#d.store.queue.recordOutcome(
        queueId,
        rcpts.map((r) => ({ ...unchangedUpdate(r), nextAttemptAt: now })),
        rcpts.map((r) => ({ recipientId: r.id, route: r.route ?? "unknown", outcome: "in-flight-lost", reply: "outcome unknown after restart" })),
      );
    }
    return lost.length;
  }

  /** One pass over everything due now; resolves when every delivery started has finished. */
  async runOnce(): Promise<number> {
    if (this.#d.hold) return 0;
    const now = this.#d.clock.now();
    const due = await this.#d.store.queue.due(now, this.#d.batch ?? 200);
    if (due.length === 0) return 0;
    const routing = await this.#d.routing();
    // A bounded pool: each job holds its message in memory, so not all 200 at once.
    const todo = due.filter((q) => !this.#busy.has(q.id));
    let next = 0;
    let total = 0;
    const worker = async () => {
      while (next < todo.length) total += await this.#process(todo[next++], now, routing);
    };
    await Promise.all(Array.from({ length: Math.min(this.#d.parallel ?? 32, todo.length) }, worker));
    return total;
  }

  async #process(q: QueueRecord, now: number, routing: Awaited<ReturnType<RunnerDeps["routing"]>>): Promise<number> {
    this.#busy.add(q.id);
    const log = this.#d.logger.child({ queueId: q.id });
    try {
      const due = q.recipients.filter((r) => r.state === "pending" && r.nextAttemptAt <= now);
      if (due.length === 0) return 0;
      const blob = await this.#d.blobs.readAll(q.blobId);
      const content = q.traceHeaders ? Buffer.concat([Buffer.from(q.traceHeaders, "latin1"), blob]) : blob;
      // Group: local recipients one by one; remote ones per domain and route list.
      const groups = new Map<string, { routes: string[]; domain: string; rcpts: QueueRecipientRecord[] }>();
      const outcomes: RcptOutcome[] = [];
      for (const r of due) {
        const domain = domainOf(r.recipient);
        if (await isLocalDomain(this.#d.store, domain)) {
          outcomes.push(await this.#local(q, r, content));
          continue;
        }
        const routes = switchedRoutes(chooseRoutes(routing.file.routes, q.mailFrom, r.recipient), this.#d.routeSwitch?.routeFor() ?? null, routing.file.relays);
        const key = `${domain}\0${routes.join(",")}`;
        const g = groups.get(key) ?? { routes, domain, rcpts: [] };
        g.rcpts.push(r);
        groups.set(key, g);
      }
      const mailFrom = this.#envelopeSender(q, now);
      const outbound = groups.size > 0 ? await this.#sealed(q, fitLines(q, content, log), log) : content;
      const groupResults = await Promise.all([...groups.values()].map((g) => this.#deliverGroup(q, g, outbound, mailFrom, routing, log)));
      for (const g of groupResults) outcomes.push(...g.outcomes);
      await this.#record(q, content, outcomes, groupResults.flatMap((g) => g.attempts), log);
      return due.length;
    } catch (err) {
      log.error({ err }, "queue entry processing failed");
      return 0;
    } finally {
      this.#busy.delete(q.id);
    }
  }

  /** RFC 7208 §11 / SRS: forwarded mail from non-local senders gets our envelope domain. */
  #envelopeSender(q: QueueRecord, now: number): string {
    if (q.origin !== "forward" || !this.#d.srs || q.mailFrom === "") return q.mailFrom;
    return srsForward(q.mailFrom, this.#d.srs, now);
  }

  /** RFC 8617: forwarded mail leaves with our ARC set on top (local copies and DSNs without).
   * Sealed after fitLines, so the seal covers the octets that are sent. */
  async #sealed(q: QueueRecord, content: Buffer, log: Logger): Promise<Buffer> {
    if (q.origin !== "forward" || !this.#d.arc) return content;
    try {
      const r = await arcSeal(content, q.traceHeaders, this.#d.arc, this.#d.clock.now());
      if (!r.sealed) {
        log.info({ reason: r.reason }, "forwarded without an ARC seal");
        return content;
      }
      log.debug({ domain: r.domain, instance: r.instance }, "ARC sealed");
      return Buffer.concat([Buffer.from(r.headers, "latin1"), content]);
    } catch (err) {
      log.warn({ err }, "ARC sealing failed; forwarded without a seal");
      return content;
    }
  }

  async #local(q: QueueRecord, r: QueueRecipientRecord, content: Buffer): Promise<RcptOutcome> {
    const res = await deliverLocally(this.#d, { recipient: r.recipient, content: Buffer.from(content), traceHeaders: "", mailFrom: q.mailFrom });
    if (res.kind === "ok") return { rcpt: r, kind: "ok", status: "2.0.0", reply: "250 2.0.0 delivered locally", host: this.#d.hostname, route: "local", nextHop: "local" };
    if (res.kind === "not-local") return { rcpt: r, kind: "perm", status: "5.1.1", reply: "550 5.1.1 domain vanished", host: null, route: "local" };
    return { rcpt: r, kind: res.kind, status: res.status, reply: res.reply, host: this.#d.hostname, route: "local" };
  }

  async #deliverGroup(
    q: QueueRecord,
    g: { routes: string[]; domain: string; rcpts: QueueRecipientRecord[] },
    content: Buffer,
    mailFrom: string,
    routing: Awaited<ReturnType<RunnerDeps["routing"]>>,
    log: Logger,
  ): Promise<{ outcomes: RcptOutcome[]; attempts: QueueAttemptInsert[] }> {
    const outcomes: RcptOutcome[] = [];
    const attempts: QueueAttemptInsert[] = [];
    let remaining = g.rcpts;
    let lastTemp: { status: string; reply: string; host: string | null; route: string } = { status: "4.4.1", reply: "no route", host: null, route: g.routes[0] ?? "none" };
    const routes = [...g.routes];
    // Issue 8 §4: a direct delivery refused for our reputation (a blocklisting) is retried
    // through the switch's relay at once, instead of bouncing or waiting for the next retry.
    const retryRelay = this.#d.routeSwitch?.retryRelay() ?? null;
    let reported = false;
    const viaRelayNow = (route: string, host: string | null, reply: string): boolean => {
      if (route !== "direct" || !retryRelay || !routing.file.relays.some((r) => r.name === retryRelay)) return false;
      const m = matchReputation(reply);
      if (!m) return false;
      log.warn({ host, reply, source: m.source, relay: retryRelay }, "refused for reputation; retrying through the relay now");
      // One delivery counts once toward the listed state, however many recipients it refused.
      if (!reported) void this.#d.routeSwitch!.receiverReply(host, m.source, reply).catch((err) => log.error({ err }, "route switch update failed"));
      reported = true;
      if (!routes.includes(retryRelay)) routes.push(retryRelay);
      return true;
    };
    for (const route of routes) {
      if (remaining.length === 0) break;
      const relay = route === "direct" ? null : routing.file.relays.find((r) => r.name === route);
      if (route !== "direct" && !relay) {
        lastTemp = { status: "4.3.5", reply: `unknown route ${route}`, host: null, route };
        attempts.push({ recipientId: null, route, outcome: "route-failed", reply: lastTemp.reply });
        continue;
      }
      const destKey = relay ? `relay:${relay.name}` : `mx:${g.domain}`;
      const dest = this.#destination(destKey, relay?.maxConnections ?? this.#throttle.maxConcurrency);
      const slot = await this.#acquire(dest);
      if (!slot) {
        // Throttled: wait for the pause to end without counting an attempt.
        for (const r of remaining) outcomes.push({ rcpt: r, kind: "paused", status: "4.7.0", reply: "destination throttled", host: null, route, pausedUntil: dest.throttle.pausedUntil });
        remaining = [];
        break;
      }
      const ids = remaining.map((r) => r.id);
      const tx: OutboundTransaction = {
        mailFrom,
        recipients: remaining.map((r) => ({ address: r.recipient, notify: r.notify, orcpt: r.orcpt })),
        ret: q.ret,
        envid: q.envid,
        content,
        beforeFinalDot: () => this.#writes.markInFlight(ids, this.#d.clock.now()),
      };
      let out: RouteOutcome;
      try {
        out = relay ? await deliverRelay(this.#d.transport, relay, routing.secrets[relay.name], tx) : await deliverDirect(this.#d.transport, g.domain, tx);
      } catch (err) {
        out = { kind: "route-failed", permanent: false, status: "4.3.0", reply: (err as Error).message, host: null };
      } finally {
        this.#release(dest);
      }
      if (out.kind === "route-failed") {
        attempts.push({ recipientId: null, route, host: out.host, outcome: "route-failed", reply: out.reply });
        log.info({ route, reply: out.reply }, "route failed");
        if (viaRelayNow(route, out.host, out.reply)) {
          lastTemp = { status: out.status, reply: out.reply, host: out.host, route };
          continue;
        }
        if (out.permanent) {
          // Null MX, no such domain, MX pointing at us: final for every route (RFC 7505 §4.2).
          for (const r of remaining) outcomes.push({ rcpt: r, kind: "perm", status: out.status, reply: out.reply, host: out.host, route });
          remaining = [];
          break;
        }
        lastTemp = { status: out.status, reply: out.reply, host: out.host, route };
        continue;
      }
      const byAddr = new Map(out.results.map((x) => [x.recipient, x]));
      const next: QueueRecipientRecord[] = [];
      let throttled = false;
      for (const r of remaining) {
        const x = byAddr.get(r.recipient);
        if (!x) continue;
        attempts.push({ recipientId: r.id, route, host: out.host, outcome: x.kind === "ok" ? "delivered" : x.kind === "perm" ? "failed" : "deferred", reply: x.reply });
        if (x.kind === "ok") {
          outcomes.push({ rcpt: r, kind: "ok", status: x.status, reply: x.reply, host: out.host, route, nextHop: out.dsnCapable ? "remote-with-dsn" : "remote-without-dsn" });
        } else if (!x.unknownOutcome && viaRelayNow(route, out.host, x.reply)) {
          lastTemp = { status: x.status, reply: x.reply, host: out.host, route };
          next.push(r);
        } else if (x.kind === "perm") {
          // A recipient's 5xx is final: another route would reach the same mailbox.
          outcomes.push({ rcpt: r, kind: "perm", status: x.status, reply: x.reply, host: out.host, route });
        } else if (x.unknownOutcome) {
          // RFC 5321 §4.5.3.2.6: no immediate resend after a final-dot timeout.
          log.warn({ rcpt: r.recipient, host: out.host }, "no reply after the final dot; outcome unknown, retrying later");
          outcomes.push({ rcpt: r, kind: "temp", status: x.status, reply: x.reply, host: out.host, route });
        } else {
          // Only an enhanced code the server sent counts (enhancedOf fills one in otherwise).
          const sentEnhanced = /^\d{3}[ -][245]\.\d/.test(x.reply) ? x.status : null;
          if (isThrottleReply(x.code ?? 0, sentEnhanced, x.reply.replace(/^\d{3}[ -]/, ""))) throttled = true;
          lastTemp = { status: x.status, reply: x.reply, host: out.host, route };
          next.push(r);
        }
      }
      const t = this.#d.clock.now();
      const policy = this.#policyFor(dest.limit);
      dest.throttle = throttled ? throttleAfterReply(policy, dest.throttle, t) : throttleAfterSuccess(policy, dest.throttle);
      remaining = next; // 4xx: the next route (failover), else retry later
    }
    for (const r of remaining) outcomes.push({ rcpt: r, kind: "temp", ...lastTemp });
    return { outcomes, attempts };
  }

  #destination(key: string, limit: number): Destination {
    let d = this.#dest.get(key);
    if (!d) {
      d = { open: 0, limit, throttle: initialThrottleState(this.#policyFor(limit)), waiters: [] };
      this.#dest.set(key, d);
    }
    d.limit = limit;
    return d;
  }

  /** The throttle policy with the destination's own ceiling: a relay's maxConnections may be above the MX default (20). */
  #policyFor(limit: number): ThrottlePolicy {
    return limit === this.#throttle.maxConcurrency ? this.#throttle : { ...this.#throttle, maxConcurrency: limit };
  }

  /** A connection slot, or null when the destination is paused after throttling. */
  async #acquire(d: Destination): Promise<boolean> {
    for (;;) {
      const now = this.#d.clock.now();
      if (now < d.throttle.pausedUntil) return false;
      const limit = Math.min(d.limit, d.throttle.concurrency);
      if (mayConnect({ ...d.throttle, concurrency: limit }, d.open, now)) {
        d.open++;
        return true;
      }
      await new Promise<void>((r) => d.waiters.push(r));
    }
  }

  #release(d: Destination): void {
    d.open--;
    d.waiters.shift()?.();
  }

  /** DSNs first, then the outcome in one transaction (a crash in between repeats a DSN rather than losing it). */
  async #record(q: QueueRecord, content: Buffer, outcomes: RcptOutcome[], attempts: QueueAttemptInsert[], log: Logger): Promise<void> {
    const now = this.#d.clock.now();
    const updates: QueueRecipientUpdate[] = [];
    const failed: DsnEvent[] = [];
    const delayed: DsnEvent[] = [];
    const success: DsnEvent[] = [];
    for (const o of outcomes) {
      const r = o.rcpt;
      const base = { ...unchangedUpdate(r), lastReply: o.reply, status: o.status, remoteMta: o.host, route: o.route };
      const report = { finalRecipient: r.recipient, orcpt: r.orcpt ?? undefined, status: o.status, remoteMta: o.host ?? undefined, smtpReply: o.reply.split(/\r?\n/), lastAttemptDate: now };
      if (o.kind === "ok") {
        updates.push({ ...base, state: "delivered", attempts: r.attempts + 1 });
        this.#d.onOutcome?.({ kind: "delivered", route: o.route });
        const action = successAction(o.nextHop ?? "remote-with-dsn");
        if (action) success.push({ notify: r.notify, report: { ...report, action } });
        log.info({ rcpt: r.recipient, route: o.route, host: o.host }, "delivered");
      } else if (o.kind === "perm") {
        updates.push({ ...base, state: "failed", attempts: r.attempts + 1 });
        this.#d.onOutcome?.({ kind: "bounced", route: o.route });
        failed.push({ notify: r.notify, report: { ...report, action: "failed" } });
        log.info({ rcpt: r.recipient, route: o.route, reply: o.reply }, "bounced");
      } else if (o.kind === "paused") {
        updates.push({ ...unchangedUpdate(r), nextAttemptAt: Math.max(now, o.pausedUntil ?? now) });
      } else {
        const d = afterTemporaryFailure(this.#policy, { queuedAt: q.createdAt, failedAttempts: r.attempts, delayWarned: r.delayWarned }, now, this.#d.random);
        if (d.kind === "expire") {
          // RFC 3463 4.4.7: delivery time expired; the last reply explains why.
          updates.push({ ...base, state: "failed", attempts: d.state.failedAttempts, status: "4.4.7" });
          this.#d.onOutcome?.({ kind: "bounced", route: o.route });
          failed.push({ notify: r.notify, report: { ...report, action: "failed", status: "4.4.7" } });
          log.info({ rcpt: r.recipient, reply: o.reply }, "expired");
        } else {
          updates.push({ ...base, state: "pending", attempts: d.state.failedAttempts, nextAttemptAt: d.at, delayWarned: d.state.delayWarned });
          this.#d.onOutcome?.({ kind: "deferred", route: o.route });
          if (d.warnDelay) delayed.push({ notify: r.notify, report: { ...report, action: "delayed" } });
          log.info({ rcpt: r.recipient, reply: o.reply, retryAt: new Date(d.at).toISOString() }, "deferred");
        }
      }
    }
    const events = [...failed, ...delayed, ...success];
    if (events.length > 0) {
      try {
        const n = await sendDsns({ ...this.#d, logger: log }, q, content, events, now, expiresAt(this.#policy, q.createdAt));
        if (n > 0) {
          attempts.push({ recipientId: null, route: "dsn", outcome: "dsn", reply: `${n} DSN(s) sent` });
          log.info({ dsns: n, to: q.mailFrom, actions: [...new Set(events.map((e) => e.report.action))] }, "DSN sent");
        }
      } catch (err) {
        // Still record the outcome: sending delivered recipients again would be worse than a
        // lost notice, and the error is logged for the operator.
        log.error({ err }, "DSN could not be delivered or queued");
      }
    }
    await this.#writes.recordOutcome(q.id, updates, attempts);
    if (this.#d.onFinalFailure && q.origin === "submission") {
      for (const o of outcomes) {
        if (o.kind !== "perm") continue;
        await this.#d.onFinalFailure(q.mailFrom, o.rcpt.recipient, o.status, o.reply).catch((err) => log.error({ err, rcpt: o.rcpt.recipient }, "suppression list update failed"));
      }
    }
    if (this.#d.onSentRemote && q.origin === "submission") {
      const sent = outcomes.filter((o) => o.kind === "ok" && o.nextHop !== "local").map((o) => o.rcpt.recipient);
      if (sent.length > 0) await this.#d.onSentRemote(q.mailFrom, sent, content).catch((err) => log.error({ err }, "sent-message record failed"));
    }
  }
}

/** An update that changes nothing but clears the in-flight mark. */
export function unchangedUpdate(r: QueueRecipientRecord): QueueRecipientUpdate {
  return {
    id: r.id,
    state: r.state,
    attempts: r.attempts,
    nextAttemptAt: r.nextAttemptAt,
    lastReply: r.lastReply,
    status: r.status,
    remoteMta: r.remoteMta,
    route: r.route,
    delayWarned: r.delayWarned,
  };
}

/**
 * RFC 5321 §4.5.3.1.6: a line sent over SMTP is at most 1000 octets with its CRLF. The mx takes
 * longer lines and stores them as sent (issue 18), so a forwarded copy (or a DSN quoting one)
 * may have them; a next hop that enforces the limit would refuse it and one that folds lines
 * would break signatures. The parts with such lines are re-encoded (quoted-printable or base64,
 * decoding to the same content) before the ARC seal is made. This breaks the original sender's
 * DKIM body hash, as any fix would; the ARC set carries our verdict on the original. Submitted
 * mail was re-encoded before DKIM signing already (src/submission/submit.ts) and is never
 * touched here: that would break our own signature.
 */
export function fitLines(q: Pick<QueueRecord, "origin">, content: Buffer, log: Logger): Buffer {
  if (q.origin === "submission" || !bodyNeedsDowngrade(content, { longLinesOnly: true })) return content;
  const r = downgradeTo7bit(content, { longLinesOnly: true });
  if (r.changed) log.info({ origin: q.origin }, "re-encoded parts with lines over 998 octets for relaying");
  return r.message;
}
