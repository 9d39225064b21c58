// Certificate reload without a restart (issue 13 §5): a renewed certificate (certbot, acme.sh,
// an operator's copy) is picked up when its files change, or at once on SIGHUP. The new pair is
// loaded and checked exactly as at startup (context.ts); if it does not load (a half-written
// file, a key that does not fit), the old context stays in service and the error is logged, so a
// bad renewal never takes TLS down. Sessions already open keep the context they started with;
// every handshake after the reload gets the new one, because listeners read `live.context` per
// connection (server/run.ts, server/starters.ts, submission/starter.ts).
import { createHash } from "node:crypto";
import fs from "node:fs";
import type { Logger } from "../log/logger.ts";
import { loadTlsContext } from "./context.ts";
import type { LoadedTls } from "./context.ts";

export interface TlsReloadOptions {
  certPath: string;
  keyPath: string;
  logger: Logger;
  /** How often the files are looked at, in ms (stat polling: follows renames and symlink swaps). Default 5000. */
  pollMs?: number;
  /** Reload on SIGHUP too. Default true. */
  sighup?: boolean;
}

export interface TlsReloader {
  /** Reload now (what SIGHUP does); resolves true when a new certificate went into service. */
  reload(reason: string): Promise<boolean>;
  stop(): void;
}

/** Keeps `live` (the object listeners read their context from) up to date with the files. */
export function watchTlsFiles(live: LoadedTls, opts: TlsReloadOptions): TlsReloader {
  const { certPath, keyPath, logger } = opts;
  let fingerprint = "";
  let running: Promise<boolean> | null = null;
  const digest = (): string => {
    try {
      return createHash("sha256").update(fs.readFileSync(certPath)).update("\0").update(fs.readFileSync(keyPath)).digest("hex");
    } catch {
      return "";
    }
  };
  fingerprint = digest();

  const once = async (reason: string): Promise<boolean> => {
    const now = digest();
    if (now === "" || (now === fingerprint && reason !== "SIGHUP")) return false;
    try {
      const next = await loadTlsContext(certPath, keyPath);
      Object.assign(live, next);
      fingerprint = now;
      logger.info({ reason, subject: next.subject, notAfter: new Date(next.notAfter).toISOString() }, "TLS certificate reloaded");
      return true;
    } catch (err) {
      // Keep serving the old certificate; the next change (or SIGHUP) tries again.
      fingerprint = now;
      logger.error({ reason, err: (err as Error).message }, "TLS certificate reload failed; the previous certificate stays in use");
      return false;
    }
  };
  // One reload at a time. A call during one queues a single rerun after it, which every later
  // caller shares; if any of them is a SIGHUP the rerun is one (it reloads unchanged files too and
  // is logged as such), so a SIGHUP that lands during a file-change reload is never lost.
  let queued: { reason: string; promise: Promise<boolean> } | null = null;
  const reload = (reason: string): Promise<boolean> => {
    if (!running) {
      running = once(reason).finally(() => {
        running = null;
      });
      return running;
    }
    if (queued) {
      if (reason === "SIGHUP") queued.reason = "SIGHUP";
      return queued.promise;
    }
    const q: { reason: string; promise: Promise<boolean> } = { reason, promise: Promise.resolve(false) };
    const next = (): Promise<boolean> => {
      queued = null;
      return reload(q.reason);
    };
    q.promise = running.then(next, next);
    queued = q;
    return q.promise;
  };

  const interval = opts.pollMs ?? 5000;
  const onChange = (): void => void reload("file changed");
  fs.watchFile(certPath, { interval, persistent: false }, onChange);
  fs.watchFile(keyPath, { interval, persistent: false }, onChange);
  const onHup = (): void => void reload("SIGHUP");
  if (opts.sighup ?? true) process.on("SIGHUP", onHup);
  return {
    reload,
    stop() {
      fs.unwatchFile(certPath, onChange);
      fs.unwatchFile(keyPath, onChange);
      process.off("SIGHUP", onHup);
    },
  };
}
