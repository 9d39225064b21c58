// Scheduled backups in `freehold serve`: once backup.repository is set, a backup every
// backup.intervalHours (daily by default), counted from the last Freehold snapshot in the
// repository (so a restart does not take an extra one), followed by retention.
//
// The backup itself runs in a child process (`freehold backup create`): node:sqlite is
// synchronous, and VACUUM INTO of a large meta.sqlite inside `serve` would stall every session for
// as long as the copy takes. The child reads the databases beside the server, as the CLI does.
//
// Every outcome goes to onBackupResult: a success, a failure, or "overdue" (the last success is
// older than backup.overdueHours — checked at start and after each failure). This is the hook
// for health alerts; without one the failure is logged at error level.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";
import type { Clock } from "../clock.ts";
import { applyRetention, listBackups, targetOf } from "./service.ts";
import type { CreateResult } from "./service.ts";
import type { ResticTarget } from "./restic.ts";

export type BackupResult =
  | { kind: "ok"; at: number; result: CreateResult }
  | { kind: "failed"; at: number; error: string; lastSuccessAt: number | null }
  | { kind: "overdue"; at: number; lastSuccessAt: number | null };

export interface BackupSchedulerDeps {
  config: Config;
  logger: Logger;
  clock: Clock;
  onBackupResult?: (r: BackupResult) => void;
  /** Delay before the first backup when one is due at start (default 5 min: let the server settle). */
  firstDelayMs?: number;
  /** Overrides the restic target (tests); passed to the child as --repository, --password-file, --restic. */
  target?: ResticTarget;
}

/** The CLI entry point beside this file: src/cli/main.ts, or dist/src/cli/main.js in a build. */
const CLI_MAIN = (() => {
  const here = fileURLToPath(import.meta.url);
  return path.join(path.dirname(here), "..", "cli", `main${path.extname(here)}`);
})();

/** `freehold backup create --json --no-prune` in a child process; its JSON result or its error. */
function backupInChild(dataDir: string, target: ResticTarget | undefined, onChild: (stop: (() => void) | null) => void): Promise<CreateResult> {
  const args = [CLI_MAIN, "--data", dataDir, "backup", "create", "--json", "--no-prune"];
  if (target) args.push("--repository", target.repository, "--password-file", target.passwordFile, "--restic", target.program);
  return new Promise((resolve, reject) => {
    // Its own process group, so a shutdown of serve stops the child and its restic together
    // (restic removes its repository lock on SIGTERM; the staging folder is cleared next run).
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
    onChild(() => {
      try {
        process.kill(-child.pid!, "SIGTERM");
      } catch {
        // already gone
      }
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err = (err + d).slice(-8192)));
    child.on("error", reject);
    child.on("close", (code) => {
      onChild(null);
      if (code === 0) {
        try {
          return resolve(JSON.parse(out.trim().split("\n").at(-1) ?? "") as CreateResult);
        } catch {
          return reject(new Error(`backup create printed no result: ${out.slice(-500)}`));
        }
      }
      // The child's own message (`freehold: ...`), without the progress lines.
      const msg = err.split("\n").filter((l) => l.startsWith("freehold: ") || /^ {2}\S/.test(l)).join("\n").replace(/^freehold: /, "");
      reject(new Error(msg || `backup create exited ${code}`));
    });
  });
}

const HOUR = 3_600_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

export class BackupScheduler {
  #d: BackupSchedulerDeps;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<unknown> | null = null;
  #stopped = false;
  #lastSuccessAt: number | null = null;
  #stopChild: (() => void) | null = null;

  constructor(d: BackupSchedulerDeps) {
    this.#d = d;
  }

  /** True when the config asks for scheduled backups. */
  static wanted(config: Config): boolean {
    return config.backup.schedule && config.backup.repository !== undefined;
  }

  get lastSuccessAt(): number | null {
    return this.#lastSuccessAt;
  }

  #emit(r: BackupResult): void {
    const { logger } = this.#d;
    if (r.kind === "ok") logger.info({ backup: { snapshot: r.result.snapshotId, messages: r.result.messages, bytes: r.result.bytes, added: r.result.added, ms: r.result.durationMs } }, "backup done");
    else if (r.kind === "failed") logger.error({ backup: { error: r.error, lastSuccessAt: r.lastSuccessAt && new Date(r.lastSuccessAt).toISOString() } }, "backup failed");
    else logger.error({ backup: { lastSuccessAt: r.lastSuccessAt && new Date(r.lastSuccessAt).toISOString(), overdueHours: this.#d.config.backup.overdueHours } }, "backup overdue");
    try {
      this.#d.onBackupResult?.(r);
    } catch (err) {
      logger.error({ err }, "backup result listener failed");
    }
  }

  #target(): ResticTarget {
    return this.#d.target ?? targetOf(this.#d.config);
  }

  #checkOverdue(): void {
    const now = this.#d.clock.now();
    const limit = this.#d.config.backup.overdueHours * HOUR;
    if (this.#lastSuccessAt === null || now - this.#lastSuccessAt > limit) this.#emit({ kind: "overdue", at: now, lastSuccessAt: this.#lastSuccessAt });
  }

  start(): void {
    const interval = this.#d.config.backup.intervalHours * HOUR;
    void (async () => {
      try {
        const snaps = await listBackups(this.#target());
        const last = snaps.filter((s) => s.host === this.#d.config.hostname).at(-1);
        if (last) this.#lastSuccessAt = Date.parse(last.time);
      } catch (err) {
        this.#d.logger.warn({ err: { message: (err as Error).message } }, "backup: cannot list snapshots");
      }
      if (this.#stopped) return;
      if (this.#lastSuccessAt !== null) this.#checkOverdue();
      const due = this.#lastSuccessAt === null ? 0 : Math.max(0, this.#lastSuccessAt + interval - this.#d.clock.now());
      this.#arm(Math.max(due, this.#d.firstDelayMs ?? 5 * 60_000));
    })();
  }

  #arm(ms: number): void {
    if (this.#stopped) return;
    // setTimeout fires at once past 2^31-1 ms (24.8 days); intervalHours may be up to 31 days.
    if (ms > MAX_TIMER_MS) {
      this.#timer = setTimeout(() => this.#arm(ms - MAX_TIMER_MS), MAX_TIMER_MS).unref();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#running = this.runOnce().finally(() => {
        this.#running = null;
        this.#arm(this.#d.config.backup.intervalHours * HOUR);
      });
    }, ms).unref();
  }

  /** One backup and retention now; the outcome goes to onBackupResult. */
  async runOnce(): Promise<BackupResult> {
    const { config, clock } = this.#d;
    let r: BackupResult;
    try {
      const t = this.#target();
      const result = await backupInChild(config.dataDir, this.#d.target, (stop) => (this.#stopChild = stop));
      this.#lastSuccessAt = clock.now();
      r = { kind: "ok", at: this.#lastSuccessAt, result };
      try {
        await applyRetention(t, config.backup.keep);
      } catch (err) {
        this.#d.logger.error({ err: { message: (err as Error).message } }, "backup retention failed");
      }
    } catch (err) {
      r = { kind: "failed", at: clock.now(), error: (err as Error).message, lastSuccessAt: this.#lastSuccessAt };
    }
    if (r.kind === "failed" && this.#stopped) {
      this.#d.logger.info({}, "backup interrupted by shutdown");
      return r;
    }
    this.#emit(r);
    if (r.kind === "failed") this.#checkOverdue();
    return r;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    // A backup under way is abandoned, not awaited: shutdown must not wait for an upload.
    this.#stopChild?.();
    await this.#running?.catch(() => undefined);
  }
}
