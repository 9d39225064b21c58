// Backup outcomes as health alerts (issue 10 §3): the scheduler's results (scheduler.ts) become
// the check "backup" of the watcher's alert sinks (src/health/watch/alerts.ts: alert mailboxes,
// signed webhooks). A failed or overdue backup alerts once when the state turns bad (a second
// failure in a row is not news), and the next successful backup sends "ok again". The first
// success after start is not news. Pure state, the sink injected.
import type { Alert } from "../health/watch/alerts.ts";
import type { BackupResult } from "./scheduler.ts";

export const BACKUP_CHECK_ID = "backup";

export class BackupAlerts {
  #state: "ok" | "fail" | null = null;
  readonly #send: (a: Alert) => Promise<void>;
  readonly #hostname: string;
  readonly #overdueHours: number;

  constructor(o: { send: (a: Alert) => Promise<void>; hostname: string; overdueHours: number }) {
    this.#send = o.send;
    this.#hostname = o.hostname;
    this.#overdueHours = o.overdueHours;
  }

  /** The alert for this result, if the state changed (also sent). */
  async onResult(r: BackupResult): Promise<Alert | null> {
    const next = r.kind === "ok" ? "ok" : "fail";
    const previous = this.#state;
    this.#state = next;
    if (next === previous || (next === "ok" && previous === null)) return null;
    const last = r.kind !== "ok" && r.lastSuccessAt !== null ? new Date(r.lastSuccessAt).toISOString() : null;
    const a: Alert =
      r.kind === "ok"
        ? { kind: "recovery", checkId: BACKUP_CHECK_ID, status: "ok", previous: "fail", message: `Backup done again: snapshot ${r.result.snapshotId} (${r.result.messages} messages)`, at: r.at, hostname: this.#hostname }
        : {
            kind: "problem",
            checkId: BACKUP_CHECK_ID,
            status: "fail",
            previous: previous ?? "ok",
            message:
              r.kind === "failed"
                ? `Scheduled backup failed: ${r.error.slice(0, 500)}${last ? ` (last success ${last})` : " (no successful backup yet)"}`
                : `Backup overdue: no successful backup for more than ${this.#overdueHours} hours${last ? ` (last success ${last})` : " (none yet)"}`,
            fix: "freehold backup create (it prints what is wrong); check backup.repository, the password file and that restic is installed",
            at: r.at,
            hostname: this.#hostname,
          };
    await this.#send(a);
    return a;
  }
}
