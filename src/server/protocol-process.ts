// A protocol process (issue 14; the owner's side and the design: processes.ts). Forked by the
// store owner with the data folder as its argument; serves the mx listeners whose sockets the
// owner passes. Per message it reads the store through its own SQLite connection (recipients,
// aliases, quotas, mailboxes: reads only, WAL lets them run beside the owner's writes), writes and
// fsyncs the temp blob itself, and asks the owner for everything that writes or must be counted
// once: the spam filter + the delivery (the owner's group commit) in one request per message,
// the greylist check, the per-client connection slot.
import path from "node:path";
import type net from "node:net";
import { loadConfig } from "../config/load.ts";
import { createLogger } from "../log/logger.ts";
import { createResolver } from "../dns/resolver.ts";
import { loadTlsContext } from "../tls/context.ts";
import { watchTlsFiles } from "../tls/reload.ts";
import { openSqliteStore } from "../store/sqlite/store.ts";
import { openFileBlobStore } from "../store/blob-files.ts";
import type { DeliveryRequest, DeliveryResult } from "../store/types.ts";
import { MxHandler } from "../mx/handler.ts";
import type { MxSpam } from "../mx/handler.ts";
import type { MxPlanOutcome } from "../mx/plan.ts";
import { SmtpServer } from "../smtp/server.ts";
import type { ListenerTls } from "../smtp/server.ts";
import { listenerLimits, smtpFeaturesFromConfig, smtpLimitsFromConfig } from "./smtp-settings.ts";
import { faultInjectionEnabled, withInjectedFaults } from "./fault-injection.ts";
import { installLastResort } from "./last-resort.ts";
import { systemClock } from "../clock.ts";
import { fromWire } from "./processes.ts";
import { holdConnections, takeOver } from "./held-listener.ts";
import type { PassedListener } from "./held-listener.ts";
import type { FromChild, InitMessage, RequestOp, ToChild } from "./processes.ts";

const dataDir = process.argv[2];
if (!dataDir || !process.send) {
  process.stderr.write("protocol-process.ts is started by `freehold serve` (server.processes > 1), not by hand\n");
  process.exit(64);
}

let nextId = 1;
const pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
/**
 * An answer later than this fails the request (the session answers 451 and the client retries)
 * instead of holding the session for ever; it is logged with what was pending. The owner's
 * slowest normal answer is one group commit, far below this.
 */
const REQUEST_TIMEOUT_MS = 60_000;
let onTimeout: (op: RequestOp, id: number) => void = () => undefined;

function toOwner(m: FromChild, onError?: (e: Error) => void): void {
  if (!process.connected) throw new Error("the store owner is gone");
  process.send!(m, undefined, undefined, (err: Error | null) => err && onError?.(err));
}

function request<T>(op: RequestOp, arg: unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const id = nextId++;
    const timer = setTimeout(() => {
      if (!pending.delete(id)) return;
      onTimeout(op, id);
      reject(new Error(`no answer from the store owner to ${op} in ${REQUEST_TIMEOUT_MS} ms`));
    }, REQUEST_TIMEOUT_MS);
    const settle = (fn: (v: never) => void) => (v: unknown) => {
      clearTimeout(timer);
      fn(v as never);
    };
    pending.set(id, { resolve: settle(resolve as (v: never) => void), reject: settle(reject) });
    const fail = (e: unknown) => {
      if (pending.delete(id)) {
        clearTimeout(timer);
        reject(e);
      }
    };
    try {
      toOwner({ t: "req", id, op, arg }, fail);
    } catch (e) {
      fail(e);
    }
  });
}

const handles: PassedListener[] = [];
let onHandle: (() => void) | null = null;
let stopRequested: number | null = null;
let onStop: ((graceMs: number) => void) | null = null;

process.on("message", (m: ToChild, handle?: unknown) => {
  switch (m.t) {
    case "init":
      void start(m).catch((err) => {
        process.stderr.write(`protocol process ${process.pid} failed to start: ${(err as Error).stack ?? err}\n`);
        process.exit(70);
      });
      return;
    case "listen":
      handles[m.index] = holdConnections(handle as net.Server);
      onHandle?.();
      return;
    case "res": {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(fromWire(m.error!));
      return;
    }
    case "stop":
      stopRequested = m.graceMs;
      onStop?.(m.graceMs);
      return;
  }
});

// The owner is gone (it crashed or was killed): nothing can be delivered any more, and the next
// owner's startup recovery must not find this process still writing temp files or holding the
// listening sockets. Exit at once; every session here was unacknowledged.
process.on("disconnect", () => process.exit(0));

async function start(init: InitMessage): Promise<void> {
  const config = await loadConfig(dataDir);
  const clock = systemClock;
  // Its lines go to the same log file (appended, never rotated here: the owner rotates it), so
  // `freehold trace` follows messages this process took.
  const logger = createLogger({
    level: config.log.level,
    file: config.log.file ? { path: path.resolve(config.dataDir, config.log.file), maxBytes: config.log.maxFileMiB * 1024 * 1024, keepFiles: config.log.keepFiles, keepDays: config.log.keepDays, rotate: false } : undefined,
  }).child({ pid: process.pid });
  onTimeout = (op, id) => logger.error({ op, id, pending: pending.size }, "store owner did not answer a request");
  const resolver = createResolver({ servers: config.dns.servers, timeoutMs: config.dns.timeoutMs, tries: config.dns.tries, clock });
  const tls = await loadTlsContext(config.tls.cert, config.tls.key);
  const tlsReload = watchTlsFiles(tls, { certPath: config.tls.cert, keyPath: config.tls.key, logger });
  // Reads only: every write goes to the owner (its connection is the one writer).
  const store = openSqliteStore(dataDir, { clock });
  const blobs = await openFileBlobStore({ dataDir, meta: store.blobs, clock });
  const spam: MxSpam | null = init.spam
    ? {
        greylist: (init.greylist ? {} : null) as MxSpam["greylist"],
        greylistCheck: (ip, mailFrom, recipient, userId) => request("spam.greylist", { ip, mailFrom, recipient, userId }),
        filter: (input) => request("spam.filter", input),
      }
    : null;
  const mxHandler = new MxHandler({
    store,
    blobs,
    writer: {
      deliver: (req: DeliveryRequest) =>
        request<DeliveryResult>("deliver", { blob: { sha256: req.blob.sha256, size: req.blob.size, handle: req.blob.handle }, targets: req.targets, queue: req.queue }),
    },
    resolver,
    clock,
    logger,
    authservId: config.authservId,
    defaultQuotaBytes: config.quota.defaultBytes,
    srs: { key: init.srsKey, forwarderDomain: config.hostname },
    spam,
    // One request per message: the owner filters, picks the mailboxes and delivers (processes.ts).
    deliverPlan: (plan) =>
      request<MxPlanOutcome>("mx.deliver", { ...plan, blob: { sha256: plan.blob.sha256, size: plan.blob.size, handle: plan.blob.handle } }),
  });
  const mx = new SmtpServer({
    hostname: config.hostname,
    handler: faultInjectionEnabled() ? withInjectedFaults(mxHandler) : mxHandler,
    logger,
    clock,
    limits: smtpLimitsFromConfig(config),
    features: smtpFeaturesFromConfig(config),
    maxConnections: init.maxConnections,
    connectionSlots: async (ip) => {
      const id = await request<number | null>("slot.acquire", ip);
      if (id === null) return null;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        request("slot.release", id).catch(() => undefined);
      };
    },
    pregreet: {
      enabled: config.smtp.pregreet.enabled,
      delayMs: config.smtp.pregreet.waitMs,
      passTtlMs: config.smtp.pregreet.passTtlMs,
      exemptLoopback: config.smtp.pregreet.exemptLoopback,
    },
  });
  let stopping: Promise<void> | null = null;
  const stop = (graceMs: number): Promise<void> =>
    (stopping ??= (async () => {
      tlsReload.stop();
      await mx.shutdown(graceMs);
      resolver.cancel();
      await store.close();
      logger.flush?.();
    })());
  installLastResort({ logger, shutdown: () => stop(2000) });

  await new Promise<void>((resolve) => {
    const check = () => {
      if (init.listeners.every((l) => handles[l.index])) resolve();
    };
    onHandle = check;
    check();
  });
  for (const { index, listener: l } of init.listeners) {
    const t: ListenerTls =
      l.tls === "none"
        ? { mode: "none" }
        : {
            mode: l.tls === "implicit" ? "implicit" : "starttls",
            get context() {
              return tls.context;
            },
          };
    await mx.listen({ role: "mx", host: l.address, port: l.port, tls: t, limits: listenerLimits(l), handle: handles[index].server });
    takeOver(handles[index]);
  }
  onStop = (graceMs) =>
    void stop(graceMs).then(
      () => process.exit(0),
      () => process.exit(70),
    );
  if (stopRequested !== null) return onStop(stopRequested);
  toOwner({ t: "ready" });
}
