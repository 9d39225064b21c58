// Using every core (issue 14, docs/architecture.md "Using every core"): the store owner (the
// process `freehold serve` started) forks `server.processes - 1` protocol processes
// (protocol-process.ts) and hands each one the listening sockets of the mx listeners, as the
// cluster module does with its handles: the kernel gives each new connection to whichever
// process accepts first. A protocol process runs the whole SMTP session (TLS, parser, SPF/DKIM/
// DMARC, the blob's temp file and its fsync) and sends ONE request per message to the owner
// ("mx.deliver": the spam filter, the choice of INBOX or Junk per recipient and the delivery,
// src/mx/plan.ts), whose DeliveryWriter does rename → directory fsync → commit exactly as for its own sessions;
// only after the answer does the protocol process send 250. One group commit still batches
// every process's deliveries, and the IMAP change bus (which lives in the owner with IMAP)
// sees them in the same onBatch as its own.
//
// What stays in the owner, and why (measured: docs/benchmarks.md, issue 14 log): the SQLite
// writer, the queue runner, the collector, IMAP (its writes and IDLE), submission (the login
// limiter and the send limits stay in one process), the spam filter's database (run inside the
// message's one delivery request; the greylist check is its own request, at RCPT, when greylisting is on),
// and the per-client connection counter (one request per
// connection, so smtp.maxConnectionsPerIp holds across processes instead of multiplying).
//
// Temp files: a protocol process names its temps `<pid>-<random>` (blob-files.ts); when it exits,
// however, the owner removes every temp with its pid (between group-commit batches), and the
// periodic collector leaves a live pid's temps alone. A protocol process that exits is respawned.
import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
import type net from "node:net";
import type { Services } from "./services.ts";
import type { Config, Listener } from "../config/schema.ts";
import type { SmtpServer } from "../smtp/server.ts";
import type { DeliveryRequest } from "../store/types.ts";
import { runMxPlan } from "../mx/plan.ts";
import type { MxDeliveryPlan } from "../mx/plan.ts";
import { StoreError, isStoreError } from "../store/errors.ts";

/** The number of serving processes the config asks for (at least 1). */
export function processCount(config: Pick<Config, "server">, cores = os.availableParallelism()): number {
  const p = config.server.processes;
  return p === "auto" ? Math.max(1, cores) : Math.max(1, p);
}

// ---- the IPC messages (serialization: "advanced", i.e. structured clone: Maps, Buffers, bigints)

export interface InitMessage {
  t: "init";
  srsKey: Buffer;
  greylist: boolean;
  spam: boolean;
  /** The mx listeners this process serves; their sockets follow as "listen" messages. */
  listeners: Array<{ index: number; listener: Listener }>;
  /** This process's share of smtp.maxConnections. */
  maxConnections: number;
}
export interface ListenMessage {
  t: "listen";
  index: number;
}
export interface StopMessage {
  t: "stop";
  graceMs: number;
}
export interface ResponseMessage {
  t: "res";
  id: number;
  ok: boolean;
  value?: unknown;
  error?: WireError;
}
export type ToChild = InitMessage | ListenMessage | StopMessage | ResponseMessage;

export type RequestOp = "deliver" | "mx.deliver" | "slot.acquire" | "slot.release" | "spam.filter" | "spam.greylist";
export interface RequestMessage {
  t: "req";
  id: number;
  op: RequestOp;
  arg: unknown;
}
export type FromChild = { t: "ready" } | RequestMessage;

/** An error as it crosses the pipe: StoreError codes and errno codes survive (mapDeliveryError needs them). */
export interface WireError {
  message: string;
  storeCode?: StoreError["code"];
  errno?: string;
}

export function toWire(e: unknown): WireError {
  const err = e as NodeJS.ErrnoException;
  return {
    message: String(err?.message ?? e),
    storeCode: isStoreError(e) ? e.code : undefined,
    errno: typeof err?.code === "string" && !isStoreError(e) ? err.code : undefined,
  };
}

export function fromWire(w: WireError): Error {
  if (w.storeCode) return new StoreError(w.storeCode, w.message);
  const e = new Error(w.message) as NodeJS.ErrnoException;
  if (w.errno) e.code = w.errno;
  return e;
}

// ---- the owner's side

export interface ProtocolProcessesOptions {
  services: Services;
  /** The owner's mx server: its connection counter answers every process's slot requests. */
  mx: SmtpServer;
  /** The mx listeners, with their listening sockets. */
  listeners: Array<{ listener: Listener; handle: net.Server }>;
  srsKey: Buffer;
  /** How many protocol processes (server.processes - 1). */
  count: number;
}

export interface ProtocolProcesses {
  /** The pids running now. */
  pids(): number[];
  /** Graceful: each process sends 421 to its sessions and gets graceMs to finish them. */
  stop(graceMs?: number): Promise<void>;
}

const ENTRY = fileURLToPath(new URL(`./protocol-process${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url));

interface Slot {
  pid: number;
  release: () => void;
}

export async function startProtocolProcesses(o: ProtocolProcessesOptions): Promise<ProtocolProcesses> {
  const { services } = o;
  const log = services.logger;
  const live = new Map<number, ChildProcess>();
  const slots = new Map<number, Slot>();
  let nextSlot = 1;
  let stopping = false;
  const spamFilter = services.spam.filter;
  const share = Math.max(1, Math.ceil(services.config.smtp.maxConnections / (o.count + 1)));

  const handle = async (child: ChildProcess, pid: number, m: RequestMessage): Promise<unknown> => {
    switch (m.op) {
      case "deliver": {
        const req = m.arg as DeliveryRequest;
        checkStaged(req.blob?.handle, pid);
        return services.storage.writer.deliver(req);
      }
      case "mx.deliver": {
        // One round trip per message (issue 14): the spam filter, the mailboxes and the group
        // commit, here; the answer (after COMMIT) is what lets the session send 250.
        const plan = m.arg as MxDeliveryPlan;
        checkStaged(plan.blob?.handle, pid);
        if (plan.spam) plan.spam.head = asBuffer(plan.spam.head);
        return runMxPlan(plan, { store: services.storage.store, filter: spamFilter ? (input) => spamFilter.filter(input) : null, writer: services.storage.writer });
      }
      case "slot.acquire": {
        const release = o.mx.connectionCounter.acquire(m.arg as string);
        if (!release) return null;
        const id = nextSlot++;
        slots.set(id, { pid, release });
        return id;
      }
      case "slot.release": {
        const s = slots.get(m.arg as number);
        if (s && s.pid === pid) {
          slots.delete(m.arg as number);
          s.release();
        }
        return null;
      }
      case "spam.filter":
        if (!spamFilter) throw new Error("spam filter is off");
        {
          const input = m.arg as Parameters<typeof spamFilter.filter>[0];
          input.head = asBuffer(input.head);
          return spamFilter.filter(input);
        }
      case "spam.greylist": {
        if (!spamFilter) return { ok: true };
        const a = m.arg as { ip: string; mailFrom: string; recipient: string; userId: number | null };
        return spamFilter.greylistCheck(a.ip, a.mailFrom, a.recipient, a.userId);
      }
      default:
        void child;
        throw new Error(`unknown request ${String((m as RequestMessage).op)}`);
    }
  };

  /** The staged file must be one this process made in our tmp/ (a rename elsewhere is refused). */
  const checkStaged = (path: unknown, pid: number): void => {
    if (typeof path !== "string" || !services.storage.blobs.isTempPath(path, pid)) throw new StoreError("invalid", "staged blob outside tmp/ or of another process");
  };

  const spawnOne = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const child = fork(ENTRY, [services.config.dataDir], { serialization: "advanced", stdio: "inherit" });
      const pid = child.pid!;
      live.set(pid, child);
      const started = Date.now();
      let ready = false;
      child.on("message", (raw: FromChild) => {
        if (raw.t === "ready") {
          ready = true;
          log.info({ pid }, "protocol process ready");
          resolve();
          return;
        }
        if (raw.t !== "req") return;
        handle(child, pid, raw).then(
          (value) => send(child, { t: "res", id: raw.id, ok: true, value }, log),
          (err) => send(child, { t: "res", id: raw.id, ok: false, error: toWire(err) }, log),
        );
      });
      child.on("error", (err) => log.error({ err, pid }, "protocol process error"));
      child.once("exit", (code, signal) => {
        live.delete(pid);
        // Its sessions are gone: their connection slots are free again.
        for (const [id, s] of slots) {
          if (s.pid !== pid) continue;
          slots.delete(id);
          s.release();
        }
        // Its temp files: a message it had staged was never acknowledged (its 250 waits for our
        // answer, which it can no longer send). Between batches, so a rename in progress is not cut.
        void services.storage.writer
          .exclusive(() => services.storage.blobs.removeTempsOf(pid))
          .then((n) => n > 0 && log.info({ pid, temps: n }, "removed the temp files of an exited protocol process"))
          .catch((err) => log.error({ err, pid }, "removing an exited protocol process's temp files failed"));
        if (!ready) reject(new Error(`protocol process ${pid} exited (${code ?? signal}) before it was ready`));
        if (stopping) return;
        log.error({ pid, code, signal }, "protocol process exited; starting another");
        // Back off only if it keeps dying at once (a broken config would otherwise spin).
        const delay = Date.now() - started < 5000 ? 1000 : 50;
        setTimeout(() => {
          if (!stopping) spawnOne().catch((err) => log.error({ err }, "protocol process failed to start"));
        }, delay).unref();
      });
      const init: InitMessage = {
        t: "init",
        srsKey: o.srsKey,
        greylist: Boolean(spamFilter?.greylist),
        spam: spamFilter !== null,
        listeners: o.listeners.map((l, index) => ({ index, listener: l.listener })),
        maxConnections: share,
      };
      send(child, init);
      o.listeners.forEach((l, index) => {
        const msg: ListenMessage = { t: "listen", index };
        child.send(msg, l.handle, (err) => err && log.error({ err, pid }, "passing a listening socket failed"));
      });
    });

  await Promise.all(Array.from({ length: o.count }, () => spawnOne()));
  return {
    pids: () => [...live.keys()],
    async stop(graceMs = 10_000) {
      stopping = true;
      await Promise.all(
        [...live.values()].map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              const timer = setTimeout(() => child.kill("SIGKILL"), graceMs + 5000);
              child.once("exit", () => {
                clearTimeout(timer);
                resolve();
              });
              send(child, { t: "stop", graceMs });
            }),
        ),
      );
    },
  };
}

/** Structured clone may hand a Buffer over as a plain Uint8Array. */
function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function send(child: ChildProcess, m: ToChild, log?: Services["logger"]): void {
  if (!child.connected) return;
  try {
    child.send(m, (err) => void err); // a process that just died: its exit handler cleans up
  } catch (err) {
    // A value structured clone cannot carry: answer with the error instead of leaving the
    // request (and its SMTP session) waiting.
    log?.error({ err }, "answer to a protocol process could not be sent");
    if (m.t === "res" && m.ok) send(child, { t: "res", id: m.id, ok: false, error: toWire(err) }, log);
  }
}
