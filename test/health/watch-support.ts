// Shared pieces of the watcher tests: a DNSBL zone for knot, a webhook receiver on loopback
// that checks the Freehold-Signature header as docs/dns.md tells receivers to, and a watcher
// wired to a queue fixture's storage.
import http from "node:http";
import { createHmac, timingSafeEqual } from "node:crypto";
import type { AddressInfo } from "node:net";
import { createResolver } from "../../src/dns/resolver.ts";
import { openSideDb } from "../../src/store/sqlite/dkim.ts";
import { WatchStore } from "../../src/health/watch/history.ts";
import { Watcher } from "../../src/health/watch/watcher.ts";
import { MailAlerter, WebhookSender } from "../../src/health/watch/alerts.ts";
import { RouteSwitch } from "../../src/health/watch/relay-switch.ts";
import type { RouteSwitchConfig } from "../../src/health/watch/relay-switch.ts";
import { blocklistRunChecks } from "../../src/health/watch/blocklist-checks.ts";
import type { BlocklistSpec } from "../../src/health/watch/blocklist-checks.ts";
import type { QueueFixture } from "../queue/fixture.ts";
import type { RecordSet } from "../support/dns-zone.ts";
import { silentLogger } from "../../src/log/logger.ts";

/** A DNSBL zone: the RFC 5782 §5 test entry, plus `listed` IPs with their codes. */
export function dnsblZone(apex: string, listed: Record<string, string>, opts: { testEntry?: boolean } = {}): Record<string, RecordSet> {
  const owners: Record<string, RecordSet> = { "@": { NS: [`ns.${apex}.`] }, ns: { A: ["127.0.0.1"] } };
  if (opts.testEntry !== false) owners["2.0.0.127"] = { A: ["127.0.0.2"], TXT: ["test entry"] };
  for (const [ip, code] of Object.entries(listed)) owners[ip.split(".").reverse().join(".")] = { A: [code], TXT: [`${ip} listed`] };
  return owners;
}

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Signature valid and at most 5 minutes old by `nowS`. */
  verified: boolean;
}

export interface WebhookReceiver {
  url: string;
  received: Received[];
  /** Statuses for the next requests, then 204. */
  failNext: number[];
  close(): Promise<void>;
}

/** The receiver of docs/dns.md: HMAC over t + "." + body, constant-time compare, 5 minutes. */
export function verifySignature(secret: string, header: string | undefined, body: string, nowS: number): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? "");
  if (!m) return false;
  const t = Number(m[1]);
  if (Math.abs(nowS - t) > 300) return false;
  const want = createHmac("sha256", secret).update(`${t}.${body}`).digest();
  return timingSafeEqual(want, Buffer.from(m[2], "hex"));
}

export async function startReceiver(host: string, secret: string, nowS: () => number): Promise<WebhookReceiver> {
  const r: WebhookReceiver = { url: "", received: [], failNext: [], close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      r.received.push({ headers: req.headers, body, verified: verifySignature(secret, req.headers["freehold-signature"] as string | undefined, body, nowS()) });
      const status = r.failNext.shift() ?? 204;
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, host, ok));
  r.url = `http://${host}:${(server.address() as AddressInfo).port}/hook`;
  r.close = () => new Promise<void>((ok) => server.close(() => ok()));
  return r;
}

export const SECRET = "a webhook secret of some length";

export function watchOver(
  f: QueueFixture,
  opts: { ips: string[]; lists: BlocklistSpec[]; hookUrl?: string; admin: string; routing?: Omit<RouteSwitchConfig, "confirmRuns"> },
) {
  const side = openSideDb(f.dir, { clock: f.clock });
  const store = new WatchStore(side);
  const resolver = createResolver({ servers: [f.knot.address], timeoutMs: 2000, tries: 2, cache: false });
  const logger = silentLogger();
  const webhooks = new WebhookSender(opts.hookUrl ? [{ url: opts.hookUrl, secret: SECRET }] : [], { clock: f.clock, logger });
  const mail = new MailAlerter({ store: f.storage.store, blobs: f.storage.blobs, writer: f.storage.writer, defaultQuotaBytes: 0, clock: f.clock, logger, hostname: "mail.local.test", mailboxes: [opts.admin] });
  let watcher: Watcher;
  const routeSwitch = opts.routing
    ? new RouteSwitch({
        store,
        clock: f.clock,
        logger,
        audit: f.storage.store.audit,
        config: { ...opts.routing, confirmRuns: 2 },
        onSwitch: (from, to) =>
          watcher.alert({ kind: "route", checkId: "route", status: to.mode, previous: from.mode, message: `outbound mail now goes ${to.mode === "relay" ? `through relay ${to.relay}` : "direct"}: ${to.reason}`, at: f.clock.now(), hostname: "mail.local.test" }),
      })
    : undefined;
  watcher = new Watcher({
    runChecks: blocklistRunChecks(resolver.resolve, { ips: opts.ips, domains: [] }, opts.lists, () => f.clock.now()),
    clock: f.clock,
    logger,
    store,
    config: { blocklistIntervalSeconds: 3600, otherIntervalSeconds: 21600, confirmRuns: 2, historyDays: 90 },
    hostname: "mail.local.test",
    sinks: [mail, webhooks],
    flushers: [webhooks],
    routeSwitch,
  });
  return {
    watcher,
    store,
    webhooks,
    routeSwitch,
    /** The next hourly run. */
    async hour() {
      f.clock.advance(3_600_000);
      await watcher.tick();
    },
    close() {
      resolver.cancel();
      side.close();
    },
  };
}
